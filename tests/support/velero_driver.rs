//! A test double for Velero's *controller* only: it moves Backup and Restore phases and serves
//! DeleteBackupRequests in one namespace. The API server, watches and status writes are real.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use vrg_operator::api::velero::{Backup, DeleteBackupRequest, Restore};

/// What the driver does with new objects.
#[derive(Default)]
pub struct Behaviour {
    /// Backups whose `group` label is in this set end `PartiallyFailed`.
    pub failing_groups: BTreeSet<String>,
    /// Hold every object in `InProgress` until this is false again.
    pub hold: bool,
    /// Backups of these groups fail once as Velero fails in-progress backups when its server
    /// restarts; their retries complete.
    pub server_restart_groups: BTreeSet<String>,
}

/// Velero's reason for backups it found in progress while starting.
pub const SERVER_RESTART_REASON: &str =
    "found a backup with status \"InProgress\" during the server starting, mark it as \"Failed\"";

pub struct VeleroDriver {
    pub behaviour: Arc<Mutex<Behaviour>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for VeleroDriver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const GROUP_LABEL: &str = "vrg.ramendr.openshift.io/group";

impl VeleroDriver {
    pub fn start(client: kube::Client, namespace: &str) -> Self {
        let behaviour = Arc::new(Mutex::new(Behaviour::default()));
        let shared = behaviour.clone();
        let ns = namespace.to_owned();
        let task = tokio::spawn(async move {
            loop {
                let _ = tick(&client, &ns, &shared).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Self { behaviour, task }
    }
}

async fn tick(
    client: &kube::Client,
    ns: &str,
    behaviour: &Mutex<Behaviour>,
) -> Result<(), kube::Error> {
    let backups: Api<Backup> = Api::namespaced(client.clone(), ns);
    let restores: Api<Restore> = Api::namespaced(client.clone(), ns);
    let requests: Api<DeleteBackupRequest> = Api::namespaced(client.clone(), ns);
    let (hold, failing, restarting) = {
        let b = behaviour.lock().unwrap();
        (
            b.hold,
            b.failing_groups.clone(),
            b.server_restart_groups.clone(),
        )
    };
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    for backup in backups.list(&ListParams::default()).await?.items {
        let name = backup.metadata.name.clone().unwrap_or_default();
        let phase = backup
            .status
            .as_ref()
            .and_then(|s| s.phase.as_ref())
            .map(|p| p.as_str().to_owned());
        let group = backup
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(GROUP_LABEL))
            .cloned()
            .unwrap_or_default();
        let status = match phase.as_deref() {
            None => json!({"phase": "InProgress", "startTimestamp": now}),
            Some("InProgress") if hold => continue,
            Some("InProgress") if restarting.contains(&group) && !name.contains("-r1-") => {
                json!({"phase": "Failed", "failureReason": SERVER_RESTART_REASON, "completionTimestamp": now})
            }
            Some("InProgress") if failing.contains(&group) => {
                json!({"phase": "PartiallyFailed", "failureReason": "", "errors": 2, "warnings": 1, "completionTimestamp": now})
            }
            Some("InProgress") => json!({"phase": "Completed", "completionTimestamp": now}),
            _ => continue,
        };
        backups
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": status})),
            )
            .await?;
    }
    for restore in restores.list(&ListParams::default()).await?.items {
        let name = restore.metadata.name.clone().unwrap_or_default();
        let phase = restore
            .status
            .as_ref()
            .and_then(|s| s.phase.as_ref())
            .map(|p| p.as_str().to_owned());
        let status = match phase.as_deref() {
            None => json!({"phase": "InProgress"}),
            Some("InProgress") if hold => continue,
            Some("InProgress") => json!({"phase": "Completed"}),
            _ => continue,
        };
        restores
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": status})),
            )
            .await?;
    }
    for request in requests.list(&ListParams::default()).await?.items {
        let _ = backups
            .delete(&request.spec.backup_name, &DeleteParams::default())
            .await;
        let _ = requests
            .delete(
                &request.metadata.name.clone().unwrap_or_default(),
                &DeleteParams::default(),
            )
            .await;
    }
    Ok(())
}
