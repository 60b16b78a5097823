//! The cluster-scoped resource types this API server serves, for the tenancy check of groups
//! (SPEC 8): the built-in ones are known offline, custom ones only through discovery. Refreshed at
//! most once a minute, so a new cluster-scoped CRD is refused to tenants within that minute;
//! a failed refresh keeps the last list (and is logged), never an empty one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::discovery::{Discovery, Scope};
use tokio::sync::Mutex;

use crate::recipe::cluster_scoped::ClusterScoped;

const REFRESH: Duration = Duration::from_secs(60);

pub struct ClusterScopedTypes {
    client: kube::Client,
    last: Mutex<Option<(Instant, Arc<Vec<ClusterScoped>>)>>,
}

impl ClusterScopedTypes {
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            last: Mutex::new(None),
        }
    }

    /// The discovered cluster-scoped types, refreshed if the list is older than a minute.
    pub async fn current(&self) -> Arc<Vec<ClusterScoped>> {
        let mut last = self.last.lock().await;
        if let Some((at, types)) = last.as_ref()
            && at.elapsed() < REFRESH
        {
            return types.clone();
        }
        match discover(&self.client).await {
            Ok(types) => {
                let types = Arc::new(types);
                *last = Some((Instant::now(), types.clone()));
                types
            }
            Err(e) => {
                tracing::warn!(error = %e, "discovery of cluster-scoped types failed; keeping the last list");
                match last.as_mut() {
                    // Try again after another minute, not on every reconcile.
                    Some((at, types)) => {
                        *at = Instant::now();
                        types.clone()
                    }
                    None => Arc::new(vec![]),
                }
            }
        }
    }
}

async fn discover(client: &kube::Client) -> Result<Vec<ClusterScoped>, kube::Error> {
    let discovery = Discovery::new(client.clone()).run().await?;
    Ok(discovery
        .groups()
        .flat_map(|group| group.recommended_resources())
        .filter(|(_, caps)| caps.scope == Scope::Cluster)
        .map(|(resource, _)| ClusterScoped {
            singular: resource.kind.to_ascii_lowercase(),
            plural: resource.plural,
            kind: resource.kind,
            group: resource.group,
            short_names: vec![],
        })
        .collect())
}
