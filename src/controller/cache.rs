//! Reflector caches of our Velero objects. Reconciles read Backups and Restores from here instead
//! of listing them from the API server on every pass, and a change is announced (as the VRG it
//! belongs to) only after the cache holds it: a separate watch could wake a reconcile before the
//! cache caught up, and that reconcile would wait for the next recheck. Each cache keeps an
//! index of object names by VRG key label, so finding one VRG's objects does not scan every VRG's.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use super::in_flight::InFlight;
use super::signatures::Signatures;
use crate::api::VolumeReplicationGroup;
use crate::api::velero::{Backup, BackupStorageLocation, DeleteBackupRequest, Restore};
use crate::velero::names::{LABEL_VRG_KEY, MANAGED_SELECTOR, owner_from, vrg_key};

pub struct VeleroCache {
    backups: Cached<Backup>,
    restores: Cached<Restore>,
    requests: Cached<DeleteBackupRequest>,
    /// Every BackupStorageLocation of the Velero namespace (not ours: no label to select on).
    locations: Store<BackupStorageLocation>,
}

/// Object names by their VRG key label.
type Index = Arc<RwLock<HashMap<String, BTreeSet<String>>>>;

/// A reflector store and its index, for one kind in one namespace.
struct Cached<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    index: Index,
    /// Set once the index holds the first listing.
    indexed: Arc<AtomicBool>,
    namespace: String,
    /// Objects we created that the store has not shown yet.
    in_flight: InFlight,
}

fn key_label<K: Resource>(object: &K) -> Option<String> {
    object.meta().labels.as_ref()?.get(LABEL_VRG_KEY).cloned()
}

/// Keeps `index` in step with the store the events were just applied to.
fn update_index<K: Resource>(
    index: &Index,
    rebuilding: &mut Option<HashMap<String, BTreeSet<String>>>,
    event: watcher::Event<K>,
) {
    let write = || index.write().unwrap_or_else(|e| e.into_inner());
    match event {
        watcher::Event::Init => *rebuilding = Some(HashMap::new()),
        watcher::Event::InitApply(o) => {
            if let (Some(map), Some(key)) = (rebuilding.as_mut(), key_label(&o)) {
                map.entry(key)
                    .or_default()
                    .insert(o.meta().name.clone().unwrap_or_default());
            }
        }
        watcher::Event::InitDone => {
            if let Some(map) = rebuilding.take() {
                *write() = map;
            }
        }
        watcher::Event::Apply(o) => {
            if let Some(key) = key_label(&o) {
                write()
                    .entry(key)
                    .or_default()
                    .insert(o.meta().name.clone().unwrap_or_default());
            }
        }
        watcher::Event::Delete(o) => {
            if let Some(key) = key_label(&o) {
                let mut index = write();
                if let Some(names) = index.get_mut(&key) {
                    names.remove(o.meta().name.as_deref().unwrap_or_default());
                    if names.is_empty() {
                        index.remove(&key);
                    }
                }
            }
        }
    }
}

/// Drops an object's `managedFields` before it is cached: nothing here reads them, and for an
/// object whose status is written often (a VRG's run, a Backup's progress) they list every field
/// again, about as large as the object itself (measured at 10,000 VRGs: BENCHMARKS.md).
pub fn forget_managed_fields<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// Where a cache announces the VRG whose object changed.
pub type Changes = tokio::sync::mpsc::UnboundedSender<ObjectRef<VolumeReplicationGroup>>;

/// What of an object can change a reconcile's decision: its phase, and whether it is being
/// deleted. Velero patches a Backup's progress many times while it runs; those patches wake no
/// reconcile (with a real Velero server they were most of the operator's reconciles).
type Signature<K> = fn(&K) -> String;

fn signature_of<K: Resource>(phase: Option<String>, object: &K) -> String {
    format!(
        "{}/{}",
        phase.unwrap_or_default(),
        object.meta().deletion_timestamp.is_some()
    )
}

fn reflect<K>(api: Api<K>, namespace: &str, changes: Changes, signature: Signature<K>) -> Cached<K>
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
        watcher(api, watcher::Config::default().labels(MANAGED_SELECTOR))
            .default_backoff()
            .modify(forget_managed_fields),
    );
    let index = Index::default();
    let indexed = Arc::new(AtomicBool::new(false));
    let (updated, done) = (index.clone(), indexed.clone());
    let mut rebuilding = None;
    let in_flight = InFlight::default();
    let seen_by_store = in_flight.clone();
    let mut signatures = Signatures::default();
    tokio::spawn(stream.for_each(move |event| {
        if let Ok(event) = event {
            let listed = matches!(event, watcher::Event::InitDone);
            let name = |o: &K| o.meta().name.clone().unwrap_or_default();
            if let watcher::Event::InitApply(o)
            | watcher::Event::Apply(o)
            | watcher::Event::Delete(o) = &event
            {
                seen_by_store.seen(o.meta().name.as_deref().unwrap_or_default());
            }
            // The store already holds this event (the reflector applies it before passing it on).
            let wake: Vec<_> = match &event {
                watcher::Event::Init => {
                    signatures.list_started();
                    vec![]
                }
                watcher::Event::InitApply(o) => signatures
                    .listed(&name(o), signature(o), super::owner(o))
                    .into_iter()
                    .collect(),
                watcher::Event::InitDone => signatures.list_done(),
                watcher::Event::Apply(o) => signatures
                    .applied(&name(o), signature(o), super::owner(o))
                    .into_iter()
                    .collect(),
                watcher::Event::Delete(o) => {
                    signatures.deleted(&name(o));
                    vec![super::owner(o)]
                }
            };
            for vrg in wake.into_iter().flatten() {
                let _ = changes.send(vrg);
            }
            update_index(&updated, &mut rebuilding, event);
            if listed {
                done.store(true, Ordering::Release);
            }
        }
        futures::future::ready(())
    }));
    Cached {
        store,
        index,
        indexed,
        namespace: namespace.to_owned(),
        in_flight,
    }
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Cached<K> {
    /// Waits until the store and its index hold what exists.
    async fn ready(&self) {
        let _ = self.store.wait_until_ready().await;
        while !self.indexed.load(Ordering::Acquire) {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}

/// The objects of `cached` that belong to VRG `namespace/name`, by object name.
fn of<K>(cached: &Cached<K>, namespace: &str, name: &str) -> BTreeMap<String, Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let empty = BTreeMap::new();
    // Only an object whose key label is this VRG's key can belong to it: the index finds those,
    // and the store has their current state.
    let key = vrg_key(namespace, name);
    let names: Vec<String> = cached
        .index
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .map(|names| names.iter().cloned().collect())
        .unwrap_or_default();
    names
        .iter()
        .filter_map(|n| {
            cached
                .store
                .get(&ObjectRef::new(n).within(&cached.namespace))
        })
        .filter(|o| {
            let meta = o.meta();
            meta.labels
                .as_ref()
                .and_then(|l| l.get(LABEL_VRG_KEY))
                .is_some_and(|k| *k == key)
                && owner_from(
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
    /// Every change after that is sent to `changes`.
    pub async fn start(client: &kube::Client, velero_namespace: &str, changes: Changes) -> Self {
        let backups = reflect(
            Api::<Backup>::namespaced(client.clone(), velero_namespace),
            velero_namespace,
            changes.clone(),
            |b| {
                signature_of(
                    b.status
                        .as_ref()
                        .and_then(|s| s.phase.as_ref())
                        .map(|p| format!("{p:?}")),
                    b,
                )
            },
        );
        let restores = reflect(
            Api::<Restore>::namespaced(client.clone(), velero_namespace),
            velero_namespace,
            changes.clone(),
            |r| {
                signature_of(
                    r.status
                        .as_ref()
                        .and_then(|s| s.phase.as_ref())
                        .map(|p| format!("{p:?}")),
                    r,
                )
            },
        );
        let requests = reflect(
            Api::<DeleteBackupRequest>::namespaced(client.clone(), velero_namespace),
            velero_namespace,
            changes,
            |d| {
                signature_of(
                    d.status
                        .as_ref()
                        .and_then(|s| s.phase.as_ref())
                        .map(|p| format!("{p:?}")),
                    d,
                )
            },
        );
        let (locations, writer) = reflector::store();
        let stream = reflector::reflector(
            writer,
            watcher(
                Api::<BackupStorageLocation>::namespaced(client.clone(), velero_namespace),
                watcher::Config::default(),
            )
            .default_backoff(),
        );
        tokio::spawn(stream.for_each(|_| futures::future::ready(())));
        backups.ready().await;
        restores.ready().await;
        requests.ready().await;
        let _ = locations.wait_until_ready().await;
        Self {
            backups,
            restores,
            requests,
            locations,
        }
    }

    pub fn delete_requests_of(
        &self,
        namespace: &str,
        name: &str,
    ) -> BTreeMap<String, Arc<DeleteBackupRequest>> {
        of(&self.requests, namespace, name)
    }

    /// The BackupStorageLocation named `name`, if it exists.
    pub fn location(&self, name: &str) -> Option<Arc<BackupStorageLocation>> {
        self.locations
            .get(&ObjectRef::new(name).within(&self.backups.namespace))
    }

    pub fn backups_of(&self, namespace: &str, name: &str) -> BTreeMap<String, Arc<Backup>> {
        of(&self.backups, namespace, name)
    }

    pub fn restores_of(&self, namespace: &str, name: &str) -> BTreeMap<String, Arc<Restore>> {
        of(&self.restores, namespace, name)
    }

    /// Backups we created that the cache has not shown yet.
    pub fn backups_in_flight(&self) -> &InFlight {
        &self.backups.in_flight
    }

    /// DeleteBackupRequests we created that the cache has not shown yet.
    pub fn delete_requests_in_flight(&self) -> &InFlight {
        &self.requests.in_flight
    }

    /// Restores we created that the cache has not shown yet.
    pub fn restores_in_flight(&self) -> &InFlight {
        &self.restores.in_flight
    }
}
