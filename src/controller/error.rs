//! The controller's one error type. Every variant is retried with per-VRG backoff.

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("serialising {0}")]
    Serde(#[from] serde_json::Error),
    #[error("VRG {0} has no namespace")]
    NoNamespace(String),
    #[error("cannot tell which cluster this is ({0}); set --cluster-id")]
    ClusterId(String),
}

impl Error {
    /// A short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Serde(_) => "serde",
            Self::NoNamespace(_) => "no_namespace",
            Self::ClusterId(_) => "cluster_id",
        }
    }
}
