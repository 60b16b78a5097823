//! A stand-in for the Velero *server*: it moves Backup and Restore phases and serves
//! DeleteBackupRequests in one namespace, so captures and recoveries complete without a real
//! Velero and object store. Tests use it to play Velero's part; `vrg-testenv serve` runs it for
//! the local dev cluster. It is no backup tool: nothing is stored anywhere.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use serde_json::{Value, json};

/// What the stand-in does with new objects.
#[derive(Default)]
pub struct Behaviour {
    /// Backups whose group label is in this set end `PartiallyFailed`.
    pub failing_groups: BTreeSet<String>,
    /// Hold every object in `InProgress` until this is false again.
    pub hold: bool,
    /// Backups of these groups fail once, as Velero fails in-progress backups when its server
    /// restarts; their retries (names with `-r1-`) complete.
    pub server_restart_groups: BTreeSet<String>,
}

/// Velero's reason for backups it found in progress while starting.
pub const SERVER_RESTART_REASON: &str =
    "found a backup with status \"InProgress\" during the server starting, mark it as \"Failed\"";

const GROUP_LABEL: &str = "vrg.ramendr.openshift.io/group";

/// A running stand-in; stops when dropped.
pub struct StandIn {
    pub behaviour: Arc<Mutex<Behaviour>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn api(client: &kube::Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("velero.io", "v1", kind));
    Api::namespaced_with(client.clone(), ns, &resource)
}

impl StandIn {
    /// Starts serving `namespace` on the current tokio runtime.
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

fn phase(object: &DynamicObject) -> Option<&str> {
    object.data.get("status")?.get("phase")?.as_str()
}

async fn set_status(
    api: &Api<DynamicObject>,
    name: &str,
    status: Value,
) -> Result<(), kube::Error> {
    // Velero's CRDs have no status subresource: the status is part of the object.
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": status })),
    )
    .await
    .map(|_| ())
}

async fn tick(
    client: &kube::Client,
    ns: &str,
    behaviour: &Mutex<Behaviour>,
) -> Result<(), kube::Error> {
    let (hold, failing, restarting) = {
        let b = behaviour.lock().unwrap_or_else(|e| e.into_inner());
        (
            b.hold,
            b.failing_groups.clone(),
            b.server_restart_groups.clone(),
        )
    };
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let backups = api(client, ns, "Backup");
    for backup in backups.list(&ListParams::default()).await?.items {
        let name = backup.metadata.name.clone().unwrap_or_default();
        let group = backup
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(GROUP_LABEL))
            .cloned()
            .unwrap_or_default();
        let status = match phase(&backup) {
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
        set_status(&backups, &name, status).await?;
    }
    let restores = api(client, ns, "Restore");
    for restore in restores.list(&ListParams::default()).await?.items {
        let name = restore.metadata.name.clone().unwrap_or_default();
        let status = match phase(&restore) {
            None => json!({"phase": "InProgress", "startTimestamp": now}),
            Some("InProgress") if hold => continue,
            Some("InProgress") => json!({"phase": "Completed", "completionTimestamp": now}),
            _ => continue,
        };
        set_status(&restores, &name, status).await?;
    }
    let requests = api(client, ns, "DeleteBackupRequest");
    for request in requests.list(&ListParams::default()).await?.items {
        if let Some(backup) = request
            .data
            .get("spec")
            .and_then(|s| s.get("backupName"))
            .and_then(Value::as_str)
        {
            let _ = backups.delete(backup, &DeleteParams::default()).await;
        }
        let _ = requests
            .delete(
                &request.metadata.name.clone().unwrap_or_default(),
                &DeleteParams::default(),
            )
            .await;
    }
    Ok(())
}
