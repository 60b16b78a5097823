//! Velero's own backup hooks as a peer, for the one-group case: one Backup of the namespace with
//! the quiesce command as a `pre` and the unquiesce command as a `post` exec hook on the database
//! pod (Velero runs them as it backs up that pod), and a Restore of it on the second cluster.

use std::time::{Duration, Instant};

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};
use vrg_testenv::dr::VELERO_NAMESPACE;

use super::app;
use super::measure::{self, Sample};
use super::{Cluster, err};

fn api(client: &kube::Client, kind: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("velero.io", "v1", kind));
    Api::namespaced_with(client.clone(), VELERO_NAMESPACE, &resource)
}

fn backup(name: &str, namespace: &str, trace: &std::path::Path) -> Value {
    let exec = |op: &str| {
        json!({"exec": {"container": "main", "command": app::hook_command(trace, op),
                        "onError": "Fail", "timeout": "60s"}})
    };
    json!({
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": name, "namespace": VELERO_NAMESPACE},
        "spec": {
            "includedNamespaces": [namespace],
            "storageLocation": vrg_testenv::velero::LOCATIONS[0],
            "snapshotVolumes": false,
            "hooks": {"resources": [{
                "name": "db",
                "includedNamespaces": [namespace],
                "labelSelector": {"matchLabels": {"app": "db"}},
                "pre": [exec("quiesce")],
                "post": [exec("unquiesce")],
            }]},
        },
    })
}

/// Waits until `name` of `api` reaches a terminal phase; Err unless it is `Completed`.
async fn wait_done(api: &Api<DynamicObject>, name: &str, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let phase = api
            .get_opt(name)
            .await
            .map_err(err)?
            .and_then(|o| o.data["status"]["phase"].as_str().map(str::to_owned));
        match phase.as_deref() {
            Some("Completed") => return Ok(()),
            Some(p @ ("Failed" | "PartiallyFailed" | "FailedValidation")) => {
                return Err(format!("velero: {name} ended {p}"));
            }
            _ if Instant::now() > deadline => {
                return Err(format!(
                    "velero: {name} not done in {timeout:?} ({phase:?})"
                ));
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// `samples` Backups with hooks of the app in `namespace`; returns them and the last one's name.
pub async fn captures(
    east: &Cluster,
    namespace: &str,
    samples: usize,
) -> Result<(Vec<Sample>, String), String> {
    let client = east.plane.client().await.map_err(err)?;
    app::create(&east.plane, namespace, true).await?;
    let backups = api(&client, "Backup");
    let audit = east.audit()?;
    let trace = app::trace(&east.plane, namespace);
    let processes = east.processes(&[]);
    let mut out = vec![];
    let mut last = String::new();
    for i in 0..=samples {
        let name = format!("{namespace}-{i}");
        let start = measure::start(&audit, &trace, &processes);
        let object: DynamicObject =
            serde_json::from_value(backup(&name, namespace, &trace)).map_err(err)?;
        backups
            .create(&PostParams::default(), &object)
            .await
            .map_err(err)?;
        wait_done(&backups, &name, Duration::from_secs(180)).await?;
        let sample = measure::finish(start, Instant::now(), true).await;
        // The first Backup warms Velero up (discovery, the location's first use), as the first
        // capture of the operators does.
        if i > 0 {
            out.push(sample);
        }
        last = name;
    }
    Ok((out, last))
}

/// Restores `backup` on `west` once west's Velero has synced it from the bucket.
pub async fn recovery(west: &Cluster, namespace: &str, backup: &str) -> Result<Sample, String> {
    let client = west.plane.client().await.map_err(err)?;
    app::create(&west.plane, namespace, false).await?;
    let audit = west.audit()?;
    let trace = app::trace(&west.plane, namespace);
    let start = measure::start(&audit, &trace, &west.processes(&[]));
    let backups = api(&client, "Backup");
    let deadline = Instant::now() + Duration::from_secs(180);
    while backups.get_opt(backup).await.map_err(err)?.is_none() {
        if Instant::now() > deadline {
            return Err(format!(
                "velero: {backup} never synced to the second cluster"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let restores = api(&client, "Restore");
    let restore: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "velero.io/v1",
        "kind": "Restore",
        "metadata": {"name": backup, "namespace": VELERO_NAMESPACE},
        "spec": {"backupName": backup},
    }))
    .map_err(err)?;
    restores
        .create(&PostParams::default(), &restore)
        .await
        .map_err(err)?;
    wait_done(&restores, backup, Duration::from_secs(180)).await?;
    let objects = app::count(&client, namespace).await?;
    if objects < app::expected_objects() {
        return Err(format!(
            "velero: the restore of {backup} brought back {objects} of {} objects",
            app::expected_objects()
        ));
    }
    Ok(measure::finish(start, Instant::now(), true).await)
}
