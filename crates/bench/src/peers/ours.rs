//! vrg-operator as a peer: the release build as a separate process, the same VRG shape a Ramen
//! user writes (a `recipeRef` to the Recipe CR), captures asked for with the capture-now
//! annotation, and a failover on the second cluster.

use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher::{self, Event, watcher};
use serde_json::{Value, json};
use vrg_operator::api::VolumeReplicationGroup;
use vrg_operator::api::progress::RunPhase;
use vrg_operator::controller::CAPTURE_NOW;

use super::app;
use super::measure::{self, Sample};
use super::{Cluster, err};
use crate::process::Operator;

/// The VRG: what a Ramen user writes (the `sync`/`pvcSelector` fields Ramen needs are accepted
/// and have no effect here).
pub fn vrg(namespace: &str, action: Option<&str>) -> Value {
    let mut spec = json!({
        "replicationState": "primary",
        "s3Profiles": [vrg_testenv::velero::LOCATIONS[0]],
        "sync": {},
        "pvcSelector": {"matchLabels": {"vrg-bench/none": "x"}},
        "kubeObjectProtection": {
            "captureInterval": "1h",
            "recipeRef": {"name": "shop", "namespace": namespace},
        },
    });
    if let Some(action) = action {
        spec["action"] = json!(action);
    }
    json!({
        "apiVersion": "ramendr.openshift.io/v1alpha1",
        "kind": "VolumeReplicationGroup",
        "metadata": {"name": "shop", "namespace": namespace},
        "spec": spec,
    })
}

/// Starts the operator for `namespace` on `cluster`, as the impersonated user `vrg-operator`.
pub async fn operator(cluster: &Cluster, namespace: &str) -> Result<Operator, String> {
    let kubeconfig = super::audit::kubeconfig_as(&cluster.plane.kubeconfig, "vrg-operator")?;
    Operator::start(
        &kubeconfig,
        &cluster.plane.dir,
        namespace,
        vrg_testenv::dr::VELERO_NAMESPACE,
    )
    .await
}

/// `samples` captures of the app in `namespace` (after the first, which the VRG's creation
/// starts and which also adds the finalizer).
pub async fn captures(
    east: &Cluster,
    namespace: &str,
    groups: usize,
    samples: usize,
) -> Result<(Vec<Sample>, f64), String> {
    let client = app::install(&east.plane, namespace, true, groups).await?;
    let operator = operator(east, namespace).await?;
    let api: Api<VolumeReplicationGroup> = Api::namespaced(client.clone(), namespace);
    let mut stream = watcher(
        api.clone(),
        watcher::Config::default().fields("metadata.name=shop"),
    )
    .boxed();
    app::apply(
        &client,
        &vrg(namespace, None),
        ("ramendr.openshift.io", "v1alpha1", "VolumeReplicationGroup"),
    )
    .await?;
    wait_run(&mut stream, 1).await?;
    let audit = east.audit()?;
    let trace = app::trace(&east.plane, namespace);
    let processes = east.processes(&[("vrg-operator", operator.pid())]);
    let mut out = vec![];
    for capture in 2..(2 + samples as i64) {
        let start = measure::start(&audit, &trace, &processes);
        let patch = json!({"metadata": {"annotations": {CAPTURE_NOW: capture.to_string()}}});
        api.patch("shop", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(err)?;
        wait_run(&mut stream, capture).await?;
        out.push(measure::finish(start, Instant::now(), true).await);
    }
    let peak = crate::process::memory_mib(operator.pid(), "VmHWM");
    Ok((out, peak))
}

/// Waits for the backup run `capture` to succeed.
async fn wait_run(
    stream: &mut (impl futures::Stream<Item = watcher::Result<Event<VolumeReplicationGroup>>> + Unpin),
    capture: i64,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let event = tokio::time::timeout_at(deadline, stream.next())
            .await
            .map_err(|_| format!("vrg-operator: capture {capture} did not finish in 180 s"))?;
        let Some(Ok(Event::Apply(v) | Event::InitApply(v))) = event else {
            continue;
        };
        let Some(run) = v
            .status
            .and_then(|s| s.kube_object_protection)
            .and_then(|k| k.run)
        else {
            continue;
        };
        if run.workflow != "backup" || run.capture < capture || run.phase == RunPhase::Running {
            continue;
        }
        return match run.phase {
            RunPhase::Succeeded => Ok(()),
            other => Err(format!(
                "vrg-operator: capture {} ended {other:?}: {:?}",
                run.capture, run.message
            )),
        };
    }
}

/// Fails the app of `namespace` over to `west` (which has the namespace and the Recipe, not the
/// objects): the VRG created there with `action: Failover`, until `KubeObjectsReady` and every
/// object is back.
pub async fn recovery(west: &Cluster, namespace: &str, groups: usize) -> Result<Sample, String> {
    let client = app::install(&west.plane, namespace, false, groups).await?;
    let operator = operator(west, namespace).await?;
    let api: Api<VolumeReplicationGroup> = Api::namespaced(client.clone(), namespace);
    let audit = west.audit()?;
    let trace = app::trace(&west.plane, namespace);
    let start = measure::start(
        &audit,
        &trace,
        &west.processes(&[("vrg-operator", operator.pid())]),
    );
    app::apply(
        &client,
        &vrg(namespace, Some("Failover")),
        ("ramendr.openshift.io", "v1alpha1", "VolumeReplicationGroup"),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let ready = api.get_opt("shop").await.map_err(err)?.is_some_and(|v| {
            v.status.is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "KubeObjectsReady" && c.status == "True")
            })
        });
        if ready && app::count(&client, namespace).await? >= app::expected_objects() {
            return Ok(measure::finish(start, Instant::now(), true).await);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "vrg-operator: the failover of {namespace} did not finish in 300 s; see {}",
                operator.log.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
