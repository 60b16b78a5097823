//! A watch-driven Velero stand-in for benchmarks: it completes each new Backup (and Restore) the
//! moment its watch sees it, serves DeleteBackupRequests, and records when it saw each Backup
//! appear and when its `Completed` write returned, so step transitions can be timed.
//!
//! Unlike the tests' `vrg_testenv::velero::StandIn` (a LIST every 50 ms), it adds no polling
//! delay and no load while nothing changes.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tokio::sync::Semaphore;
use vrg_operator::api::velero::{Backup, DeleteBackupRequest, Restore};
use vrg_operator::velero::names::{LABEL_CAPTURE, LABEL_GROUP, LABEL_VRG_KEY};

/// When the driver saw one Backup.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `(vrg key, capture, group)`.
    pub key: (String, String, String),
    /// The watch first delivered it.
    pub created: Instant,
    /// The write that set `Completed` returned.
    pub completed: Option<Instant>,
}

#[derive(Default)]
pub struct Record {
    /// By uid.
    pub backups: BTreeMap<String, Seen>,
    pub completed: usize,
}

/// A running driver; stops when dropped.
pub struct Driver {
    pub record: Arc<Mutex<Record>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn label(object: &impl Resource, key: &str) -> String {
    object
        .meta()
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .cloned()
        .unwrap_or_default()
}

fn completed_status() -> serde_json::Value {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    json!({"status": {"phase": "Completed", "startTimestamp": now, "completionTimestamp": now}})
}

impl Driver {
    /// Serves `namespace`; at most `concurrency` writes in flight. Each Backup and Restore
    /// completes `delay` after the watch delivered it (a Velero backup takes time; zero: at once).
    pub fn start(
        client: kube::Client,
        namespace: &str,
        concurrency: usize,
        delay: std::time::Duration,
    ) -> Self {
        let record = Arc::new(Mutex::new(Record::default()));
        let limit = Arc::new(Semaphore::new(concurrency));
        let backups: Api<Backup> = Api::namespaced(client.clone(), namespace);
        let restores: Api<Restore> = Api::namespaced(client.clone(), namespace);
        let requests: Api<DeleteBackupRequest> = Api::namespaced(client.clone(), namespace);
        // The storage locations the VRGs name, Available and synced as Velero keeps them.
        let mut tasks = vec![vrg_testenv::velero::serve_locations(
            client,
            namespace,
            std::time::Duration::from_secs(5),
        )];

        let (api, rec, lim) = (backups.clone(), record.clone(), limit.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = HashSet::new();
            let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
            while let Some(event) = stream.next().await {
                let Ok(Event::Apply(b) | Event::InitApply(b)) = event else {
                    continue;
                };
                let uid = b.uid().unwrap_or_default();
                if b.status.as_ref().and_then(|s| s.phase.as_ref()).is_some()
                    || !done.insert(uid.clone())
                {
                    continue;
                }
                let created = Instant::now();
                rec.lock().unwrap().backups.insert(
                    uid.clone(),
                    Seen {
                        key: (
                            label(&b, LABEL_VRG_KEY),
                            label(&b, LABEL_CAPTURE),
                            label(&b, LABEL_GROUP),
                        ),
                        created,
                        completed: None,
                    },
                );
                let (api, rec, lim) = (api.clone(), rec.clone(), lim.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let permit = lim.acquire_owned().await;
                    let patched = api
                        .patch(
                            &b.name_any(),
                            &PatchParams::default(),
                            &Patch::Merge(&completed_status()),
                        )
                        .await;
                    let at = Instant::now();
                    drop(permit);
                    let mut r = rec.lock().unwrap();
                    if patched.is_ok() {
                        r.completed += 1;
                        if let Some(seen) = r.backups.get_mut(&uid) {
                            seen.completed = Some(at);
                        }
                    }
                });
            }
        }));

        let (api, lim) = (restores, limit.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = HashSet::new();
            let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
            while let Some(event) = stream.next().await {
                let Ok(Event::Apply(r) | Event::InitApply(r)) = event else {
                    continue;
                };
                if r.status.as_ref().and_then(|s| s.phase.as_ref()).is_some()
                    || !done.insert(r.uid().unwrap_or_default())
                {
                    continue;
                }
                let (api, lim) = (api.clone(), lim.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let permit = lim.acquire_owned().await;
                    let _ = api
                        .patch(
                            &r.name_any(),
                            &PatchParams::default(),
                            &Patch::Merge(&completed_status()),
                        )
                        .await;
                    drop(permit);
                });
            }
        }));

        let (api, lim) = (requests, limit);
        tasks.push(tokio::spawn(async move {
            let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
            while let Some(event) = stream.next().await {
                let Ok(Event::Apply(request) | Event::InitApply(request)) = event else {
                    continue;
                };
                let (api, backups, permit) = (
                    api.clone(),
                    backups.clone(),
                    lim.clone().acquire_owned().await,
                );
                tokio::spawn(async move {
                    let _ = backups
                        .delete(&request.spec.backup_name, &DeleteParams::default())
                        .await;
                    let _ = api
                        .delete(&request.name_any(), &DeleteParams::default())
                        .await;
                    drop(permit);
                });
            }
        }));
        Self { record, tasks }
    }

    /// Step transitions: for each Backup of group `g{i+1}`, the time from the Backup of `g{i}`
    /// of the same VRG and capture becoming `Completed` to the driver's watch seeing it, in ms.
    pub fn transitions(&self) -> Vec<f64> {
        self.timed_transitions().into_iter().map(|t| t.0).collect()
    }

    /// The `n` slowest step transitions: ms, the Backup that followed (vrg key, capture, group),
    /// and when (wall clock) its predecessor completed, to find in the operator's log.
    pub fn slowest(&self, n: usize) -> Vec<(f64, (String, String, String), String)> {
        let (now, wall) = (Instant::now(), std::time::SystemTime::now());
        let mut all = self.timed_transitions();
        all.sort_by(|a, b| b.0.total_cmp(&a.0));
        all.truncate(n);
        all.into_iter()
            .map(|(ms, key, done)| {
                let at = wall - now.saturating_duration_since(done);
                let at = k8s_openapi::jiff::Timestamp::try_from(at)
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                (ms, key, at)
            })
            .collect()
    }

    fn timed_transitions(&self) -> Vec<(f64, (String, String, String), Instant)> {
        let r = self.record.lock().unwrap();
        let by_key: BTreeMap<_, _> = r
            .backups
            .values()
            .map(|s| (s.key.clone(), s.clone()))
            .collect();
        let mut out = vec![];
        for ((vrg, capture, group), seen) in &by_key {
            let Some(i) = group.strip_prefix('g').and_then(|i| i.parse::<u32>().ok()) else {
                continue;
            };
            let next = (vrg.clone(), capture.clone(), format!("g{}", i + 1));
            if let (Some(done), Some(next)) = (seen.completed, by_key.get(&next)) {
                out.push((
                    next.created.saturating_duration_since(done).as_secs_f64() * 1000.0,
                    next.key.clone(),
                    done,
                ));
            }
        }
        out
    }
}
