//! Ramen's captures and failover, measured as the others are. Ramen has no capture-now: it
//! captures every `captureInterval`, so each sample starts when the capture's first hook runs (the
//! pod's trace) and ends when the capture is recorded in the VRG's status.

use std::time::{Duration, Instant};

use serde_json::Value;
use vrg_testenv::dr::ObjectStore;

use super::app;
use super::measure::{self, Sample};
use super::ramen::{self, Ramen};
use super::{Cluster, err};

/// Ramen's capture interval here (its smallest useful one: Ramen counts it in minutes).
pub const INTERVAL: &str = "1m";

async fn get(api: &kube::Api<kube::api::DynamicObject>) -> Result<Option<Value>, String> {
    Ok(api
        .get_opt("shop")
        .await
        .map_err(err)?
        .and_then(|o| serde_json::to_value(o).ok()))
}

/// `samples` captures on `east` (after the first), then a failover to `west`; with Ramen's peak
/// RSS on east.
pub async fn run(
    east: &Cluster,
    west: &Cluster,
    store: &ObjectStore,
    namespace: &str,
    samples: usize,
) -> Result<(Vec<Sample>, Result<Sample, String>, f64), String> {
    let kubeconfig = super::audit::kubeconfig_as(&east.plane.kubeconfig, "ramen")?;
    let manager = Ramen::start(&east.plane, store, &kubeconfig).await?;
    let client = app::install(&east.plane, namespace, true, 3).await?;
    let vrgs = ramen::vrg_api(&client, namespace);
    app::apply(
        &client,
        &ramen::vrg("shop", namespace, "shop", INTERVAL, None),
        ("ramendr.openshift.io", "v1alpha1", "VolumeReplicationGroup"),
    )
    .await?;
    let audit = east.audit()?;
    let trace = app::trace(&east.plane, namespace);
    let processes = east.processes(&[("ramen", manager.pid())]);
    let mut last = wait_capture(&vrgs, None, &manager).await?;
    let mut out = vec![];
    for _ in 0..samples {
        // The sample starts when the capture does (its first quiesce in the pod's trace), not
        // at the previous capture: the minute between would count Velero's and the API server's
        // background work against Ramen. Ramen's few reads before that first hook fall outside.
        let base = app::trace_lines(&trace).len();
        while app::trace_lines(&trace).len() == base {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let start = measure::start_after(&audit, &trace, &processes, base);
        last = wait_capture(&vrgs, Some(last), &manager).await?;
        out.push(measure::finish(start, Instant::now(), false).await);
    }
    let peak = crate::process::memory_mib(manager.pid(), "VmHWM");
    drop(manager);
    let recovery = recover(west, store, namespace).await;
    Ok((out, recovery, peak))
}

/// Waits for a capture newer than `after`; returns its number.
async fn wait_capture(
    vrgs: &kube::Api<kube::api::DynamicObject>,
    after: Option<i64>,
    manager: &Ramen,
) -> Result<i64, String> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let number = get(vrgs).await?.as_ref().and_then(ramen::last_capture);
        if let Some(n) = number
            && after.is_none_or(|a| n != a)
        {
            return Ok(n);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "Ramen: no capture after {after:?} in 300 s; {}:\n{}",
                manager.log().display(),
                manager.log_tail(30)
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn recover(west: &Cluster, store: &ObjectStore, namespace: &str) -> Result<Sample, String> {
    let kubeconfig = super::audit::kubeconfig_as(&west.plane.kubeconfig, "ramen")?;
    let manager = Ramen::start(&west.plane, store, &kubeconfig).await?;
    let client = app::install(&west.plane, namespace, false, 3).await?;
    let vrgs = ramen::vrg_api(&client, namespace);
    let audit = west.audit()?;
    let trace = app::trace(&west.plane, namespace);
    let start = measure::start(&audit, &trace, &west.processes(&[("ramen", manager.pid())]));
    app::apply(
        &client,
        &ramen::vrg("shop", namespace, "shop", INTERVAL, Some("Failover")),
        ("ramendr.openshift.io", "v1alpha1", "VolumeReplicationGroup"),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done = get(&vrgs).await?.as_ref().is_some_and(ramen::recovered);
        if done && app::count(&client, namespace).await? >= app::expected_objects() {
            return Ok(measure::finish(start, Instant::now(), true).await);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "Ramen: the failover did not finish in 300 s; log:\n{}",
                manager.log_tail(30)
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
