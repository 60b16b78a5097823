//! Reflector caches of our Velero objects. Reconciles read Backups and Restores from here instead
//! of listing them from the API server on every pass; the controller's own watches on the same
//! objects are what wake a VRG when one of them changes.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};

use crate::api::velero::{Backup, Restore};
use crate::velero::names::{MANAGED_SELECTOR, owner_from};

pub struct VeleroCache {
    backups: Store<Backup>,
    restores: Store<Restore>,
}

fn reflect<K>(api: Api<K>) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default().labels(MANAGED_SELECTOR)).default_backoff(),
    );
    tokio::spawn(stream.for_each(|_| futures::future::ready(())));
    store
}

/// The objects of `store` that belong to VRG `namespace/name`, by object name.
fn of<K>(store: &Store<K>, namespace: &str, name: &str) -> BTreeMap<String, Arc<K>>
where
    K: Resource + Clone,
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    let empty = BTreeMap::new();
    store
        .state()
        .into_iter()
        .filter(|o| {
            let meta = o.meta();
            owner_from(
                meta.labels.as_ref().unwrap_or(&empty),
                meta.annotations.as_ref().unwrap_or(&empty),
            )
            .is_some_and(|(ns, n)| ns == namespace && n == name)
        })
        .map(|o| (o.meta().name.clone().unwrap_or_default(), o))
        .collect()
}

impl VeleroCache {
    /// Starts the caches for `velero_namespace` and waits until they hold what exists: numbering
    /// captures from an empty cache could reuse a number another cluster already used.
    pub async fn start(client: &kube::Client, velero_namespace: &str) -> Self {
        let backups = reflect(Api::<Backup>::namespaced(client.clone(), velero_namespace));
        let restores = reflect(Api::<Restore>::namespaced(client.clone(), velero_namespace));
        let _ = backups.wait_until_ready().await;
        let _ = restores.wait_until_ready().await;
        Self { backups, restores }
    }

    pub fn backups_of(&self, namespace: &str, name: &str) -> BTreeMap<String, Arc<Backup>> {
        of(&self.backups, namespace, name)
    }

    pub fn restores_of(&self, namespace: &str, name: &str) -> BTreeMap<String, Arc<Restore>> {
        of(&self.restores, namespace, name)
    }
}
