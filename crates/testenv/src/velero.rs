//! A stand-in for the Velero *server*, for failure injection that the real server cannot be made
//! to produce on demand: it moves Backup and Restore phases, serves DeleteBackupRequests, and
//! keeps BackupStorageLocations `Available` and freshly synced, in one namespace. It is no backup
//! tool: nothing is stored anywhere. Everything that claims to capture or restore is tested
//! through the real Velero server (`crate::dr`).

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
    /// These storage locations are reported `Unavailable`.
    pub unavailable_locations: BTreeSet<String>,
    /// DeleteBackupRequests are left unprocessed (as after a Velero restart).
    pub ignore_delete_requests: bool,
    /// DeleteBackupRequests are processed with this error, and their Backups kept.
    pub delete_error: Option<String>,
}

/// The storage locations the stand-in serves (the s3 profile names tests and examples use).
pub const LOCATIONS: [&str; 4] = ["default", "east", "west", "secondary-site"];

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
            let mut round = 0u64;
            loop {
                // Locations every second: Velero's backup sync reports each pass this way.
                if round.is_multiple_of(20) {
                    let _ = locations(&client, &ns, &shared).await;
                }
                round += 1;
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

/// Keeps the locations of [`LOCATIONS`] in `namespace` `Available` and synced every `period`,
/// as a Velero server does (for drivers that play Velero's part otherwise, like the benchmarks').
pub fn serve_locations(
    client: kube::Client,
    namespace: &str,
    period: Duration,
) -> tokio::task::JoinHandle<()> {
    let ns = namespace.to_owned();
    tokio::spawn(async move {
        let behaviour = Mutex::new(Behaviour::default());
        loop {
            let _ = locations(&client, &ns, &behaviour).await;
            tokio::time::sleep(period).await;
        }
    })
}

/// Creates the locations of [`LOCATIONS`] and reports each synced now, and `Available` unless the
/// behaviour says otherwise.
async fn locations(
    client: &kube::Client,
    ns: &str,
    behaviour: &Mutex<Behaviour>,
) -> Result<(), kube::Error> {
    let unavailable = behaviour
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unavailable_locations
        .clone();
    let api = api(client, ns, "BackupStorageLocation");
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    for name in LOCATIONS {
        let (phase, message) = if unavailable.contains(name) {
            (
                "Unavailable",
                "BackupStorageLocation is unavailable (the stand-in says so)",
            )
        } else {
            ("Available", "")
        };
        let object = json!({
            "apiVersion": "velero.io/v1",
            "kind": "BackupStorageLocation",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"provider": "stand-in", "objectStorage": {"bucket": "none"}},
            "status": {"phase": phase, "message": message, "lastSyncedTime": now},
        });
        api.patch(
            name,
            &PatchParams::apply("vrg-testenv-stand-in").force(),
            &Patch::Apply(&object),
        )
        .await?;
    }
    Ok(())
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
    if behaviour
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .ignore_delete_requests
    {
        return Ok(());
    }
    let delete_error = behaviour
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .delete_error
        .clone();
    for request in requests.list(&ListParams::default()).await?.items {
        if let Some(error) = &delete_error {
            if phase(&request) != Some("Processed") {
                let name = request.metadata.name.clone().unwrap_or_default();
                set_status(
                    &requests,
                    &name,
                    json!({"phase": "Processed", "errors": [error]}),
                )
                .await?;
            }
            continue;
        }
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
