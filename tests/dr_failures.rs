//! Failures through the real Velero server and object store: a Velero server killed in the middle
//! of a Backup (the capture is retried under a new name), a storage location Velero cannot reach
//! (a clear condition, no capture), and a capture whose data is gone from the bucket (the
//! failover moves on to the next newest capture). Its own test binary: killing Velero must not
//! disturb the lifecycle test's clusters.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use serde_json::json;
use support::dr::{Cluster, Clusters};
use support::env::{condition, is};
use vrg_operator::api::VolumeReplicationGroup;
use vrg_operator::velero::names::vrg_selector;
use vrg_testenv::dr::{VELERO_NAMESPACE, location};

const TIMEOUT: Duration = Duration::from_secs(120);

fn vrg(name: &str, profiles: &str, extra: &str) -> String {
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: {name}}}
spec:
  replicationState: primary
  s3Profiles: [{profiles}]
  kubeObjectProtection:
    captureInterval: 1h
    kubeObjectSelector: {{matchLabels: {{app: {name}}}}}
{extra}"
    )
}

fn capture_of(v: &VolumeReplicationGroup) -> Option<i64> {
    Some(
        v.status
            .as_ref()?
            .kube_object_protection
            .as_ref()?
            .capture_to_recover_from
            .as_ref()?
            .number,
    )
}

/// The tests of this binary share two clusters: the one that kills Velero runs alone (write),
/// the others together (read), so a restart never fails another test's Backup.
static VELERO: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

async fn configmaps(c: &Cluster, app: &str, count: usize) {
    let api: Api<ConfigMap> = Api::namespaced(c.client.clone(), &c.ns);
    for i in 0..count {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": format!("{app}-{i}"), "labels": {"app": app}},
            "data": {"n": i.to_string(), "padding": "x".repeat(512)},
        }))
        .unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
}

async fn capture_now(c: &Cluster, name: &str) {
    let patch = json!({"metadata": {"annotations": {vrg_operator::controller::CAPTURE_NOW: "1"}}});
    c.vrgs()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_velero_server_killed_under_a_backup_is_retried() {
    let _alone = VELERO.write().await;
    let clusters = Clusters::start("killed").await;
    let east = &clusters.east;
    // Enough objects that the Backup is still running when Velero dies.
    configmaps(east, "bulk", 1500).await;
    east.apply(&vrg("bulk", "default", "")).await;
    let selector = ListParams::default().labels(&vrg_selector(&east.ns, "bulk"));
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let running = east
            .backups()
            .list(&selector)
            .await
            .unwrap()
            .items
            .into_iter()
            .any(|b| {
                b.status
                    .and_then(|s| s.phase)
                    .is_some_and(|p| p.as_str() == "InProgress")
            });
        if running {
            break;
        }
        assert!(Instant::now() < deadline, "the Backup never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    east.site.velero.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    east.site
        .velero
        .restart(&["default", "secondary"])
        .await
        .unwrap();
    let v = east
        .wait("bulk", "the capture, retried", TIMEOUT, |v| {
            is(v, "ClusterDataProtected", "True")
        })
        .await;
    let run = v
        .status
        .unwrap()
        .kube_object_protection
        .unwrap()
        .run
        .unwrap();
    assert_eq!(run.steps[0].attempt, 2, "{:?}", run.steps[0]);
    let backups = east.backups().list(&selector).await.unwrap().items;
    let failed: Vec<_> = backups
        .iter()
        .filter(|b| {
            b.status
                .as_ref()
                .and_then(|s| s.phase.as_ref())
                .is_some_and(|p| p.as_str() == "Failed")
        })
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "the Backup Velero's restart failed stays, for the record"
    );
    assert!(
        failed[0]
            .status
            .as_ref()
            .and_then(|s| s.failure_reason.clone())
            .unwrap_or_default()
            .contains("server starting"),
        "{:?}",
        failed[0].status
    );
    let keys = clusters.pair.store.keys("backups/");
    assert!(
        keys.iter()
            .any(|k| k.contains("-r1-") && k.ends_with(".tar.gz")),
        "the retry's data: {keys:?}"
    );
}

#[tokio::test]
async fn a_storage_location_velero_cannot_reach_gives_a_clear_condition() {
    let _shared = VELERO.read().await;
    let clusters = Clusters::start("broken").await;
    let east = &clusters.east;
    // A location whose S3 endpoint nothing listens on.
    let mut broken = location("unreachable", &clusters.pair.store, false);
    broken["spec"]["config"]["s3Url"] = json!("http://127.0.0.1:9");
    let gvk = GroupVersionKind::gvk("velero.io", "v1", "BackupStorageLocation");
    let bsl: Api<DynamicObject> = Api::namespaced_with(
        east.client.clone(),
        VELERO_NAMESPACE,
        &ApiResource::from_gvk(&gvk),
    );
    bsl.patch(
        "unreachable",
        &PatchParams::apply("test").force(),
        &Patch::Apply(&serde_json::from_value::<DynamicObject>(broken).unwrap()),
    )
    .await
    .unwrap();
    east.apply(&vrg("web", "unreachable", "")).await;
    let v = east
        .wait("web", "the condition", TIMEOUT, |v| {
            condition(v, "ClusterDataProtected").is_some_and(|c| c.reason == "StorageUnavailable")
        })
        .await;
    let c = condition(&v, "ClusterDataProtected").unwrap();
    assert_eq!(c.status, "False");
    assert!(c.message.contains("unreachable"), "{}", c.message);
    let selector = ListParams::default().labels(&vrg_selector(&east.ns, "web"));
    assert!(
        east.backups()
            .list(&selector)
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing was captured"
    );
}

#[tokio::test]
async fn a_failover_moves_past_a_capture_whose_data_is_gone() {
    let _shared = VELERO.read().await;
    let mut clusters = Clusters::start("nosuchkey").await;
    let east = &clusters.east;
    configmaps(east, "web", 3).await;
    east.apply(&vrg("web", "default", "")).await;
    east.wait("web", "capture 1", TIMEOUT, |v| capture_of(v) == Some(1))
        .await;
    capture_now(east, "web").await;
    east.wait("web", "capture 2", TIMEOUT, |v| capture_of(v) == Some(2))
        .await;
    // East is lost before it rotates capture 1 away; capture 2's data is then lost from the
    // bucket too, though its metadata (what Velero's sync lists) stays.
    clusters.east.stop_operator();
    let selector = ListParams::default().labels(&format!(
        "{},vrg.ramendr.openshift.io/capture=2",
        vrg_selector(&clusters.east.ns, "web")
    ));
    let second = clusters.east.backups().list(&selector).await.unwrap().items;
    assert_eq!(second.len(), 1);
    let name = second[0].metadata.name.clone().unwrap();
    let data: Vec<String> = clusters
        .pair
        .store
        .keys(&format!("backups/{name}/"))
        .into_iter()
        .filter(|k| !k.ends_with("velero-backup.json"))
        .collect();
    assert!(!data.is_empty());
    for key in &data {
        clusters.pair.store.remove(key);
    }
    let west = &clusters.west;
    west.apply(&vrg("web", "default", "  action: Failover\n"))
        .await;
    let v = west
        .wait("web", "the failover", TIMEOUT, |v| {
            is(v, "KubeObjectsReady", "True")
                || condition(v, "KubeObjectsReady")
                    .is_some_and(|c| c.reason == "KubeObjectsRecoveryError")
        })
        .await;
    let rec = v
        .status
        .unwrap()
        .kube_object_protection
        .unwrap()
        .recovery
        .unwrap();
    assert_eq!(rec.source.map(|s| s.number), Some(1), "{:?}", rec.message);
    assert_eq!(rec.unusable.len(), 1);
    assert_eq!(rec.unusable[0].capture.number, 2);
    assert!(
        rec.unusable[0].reason.contains("error downloading backup"),
        "{}",
        rec.unusable[0].reason
    );
    let cms: Api<ConfigMap> = Api::namespaced(west.client.clone(), &west.ns);
    assert!(
        cms.get_opt("web-2").await.unwrap().is_some(),
        "capture 1 restored the objects"
    );
}
