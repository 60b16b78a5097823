//! What every reconcile shares: the client, settings, the hook runner, and per-VRG error backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::events::Reporter;

use super::hooks::HookRunner;
use super::recorder::Recorder;
use crate::recipe::Settings;

pub struct Context {
    pub client: kube::Client,
    pub settings: Settings,
    /// Where Velero runs and where our Backups, Restores and DeleteBackupRequests live.
    pub velero_namespace: String,
    pub hooks: Arc<dyn HookRunner>,
    pub on_delete: super::OnDelete,
    /// Our Backups, Restores and DeleteBackupRequests, and the storage locations, as watched.
    pub velero: super::cache::VeleroCache,
    /// This cluster's id as a label value: the writer recorded on its captures.
    pub cluster: String,
    pub metrics: Arc<crate::telemetry::Metrics>,
    pub recorder: Recorder,
    /// Cluster-scoped types the API server serves (custom ones included).
    pub cluster_scoped: super::discovery::ClusterScopedTypes,
    failures: Mutex<HashMap<String, u32>>,
    /// The resourceVersion our last status write gave each VRG (by `namespace/name`).
    written: Mutex<HashMap<String, String>>,
}

/// First retry delay after a failed reconcile; doubles per consecutive failure.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Where the Velero objects are, and which cluster this is.
pub struct Site {
    pub velero_namespace: String,
    pub velero: super::cache::VeleroCache,
    /// This cluster's id as a label value.
    pub cluster: String,
}

impl Context {
    pub fn new(
        client: kube::Client,
        settings: Settings,
        site: Site,
        hooks: Arc<dyn HookRunner>,
        on_delete: super::OnDelete,
        metrics: Arc<crate::telemetry::Metrics>,
    ) -> Self {
        let Site {
            velero_namespace,
            velero,
            cluster,
        } = site;
        let reporter = Reporter {
            controller: "vrg-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            cluster_scoped: super::discovery::ClusterScopedTypes::new(client.clone()),
            client,
            settings,
            velero_namespace,
            hooks,
            on_delete,
            velero,
            cluster,
            metrics,
            failures: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
        }
    }

    /// The settings validation uses now: the operator's, with the cluster-scoped types the API
    /// server serves at the moment.
    pub async fn settings(&self) -> Settings {
        Settings {
            cluster_scoped: self.cluster_scoped.current().await.to_vec(),
            ..self.settings.clone()
        }
    }

    /// The delay before retrying `key` after one more failure: exponential, capped.
    pub fn backoff(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(key.to_owned()).or_insert(0);
        *n = n.saturating_add(1);
        BACKOFF_BASE
            .saturating_mul(1u32 << (*n - 1).min(16))
            .min(BACKOFF_MAX)
    }

    /// Remembers the resourceVersion our status write gave `key` (`None`: nothing was written).
    pub fn wrote(&self, key: &str, resource_version: Option<String>) {
        if let Some(rv) = resource_version {
            self.written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.to_owned(), rv);
        }
    }

    /// The cached VRG at `resource_version` is the one our last status write produced: nothing
    /// newer of ours can be missing from it, so it can be acted on without a quorum read.
    pub fn is_own_last_write(&self, key: &str, resource_version: Option<&str>) -> bool {
        resource_version.is_some_and(|rv| {
            self.written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(key)
                .is_some_and(|w| w == rv)
        })
    }

    /// Forgets a deleted VRG.
    pub fn forget(&self, key: &str) {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        self.succeeded(key);
    }

    /// Forgets `key`'s failures after a successful reconcile.
    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}
