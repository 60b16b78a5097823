//! Recovery on the real API server: after a failover, the newest complete capture (as Velero's
//! backup sync shows the other cluster's Backups) is restored in order, then capturing starts.
//! The stand-in plays Velero here: the other cluster's captures come in shapes no one cluster
//! makes on demand (an incomplete capture beside a complete one), and a held Restore proves the
//! order. tests/dr.rs recovers through the real Velero server on two clusters.

mod support;

use std::time::Duration;

use kube::api::ListParams;
use support::env::{Env, condition, is};
use vrg_operator::api::velero::Restore;

const TIMEOUT: Duration = Duration::from_secs(30);

const RECIPE: &str = "apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata: {name: app}
spec:
  appType: demo
  groups:
    - {name: config, type: resource, includedResourceTypes: [configmaps]}
    - {name: workload, type: resource, includedResourceTypes: [deployments.apps]}
  workflows:
    - name: backup
      sequence: [{group: config}, {group: workload}]
    - name: restore
      sequence: [{group: config}, {group: workload}]
";

fn vrg(action: &str) -> String {
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: app}}
spec:
  replicationState: primary
  action: {action}
  s3Profiles: [east]
  kubeObjectProtection:
    captureInterval: 1h
    recipeRef: {{name: app}}
"
    )
}

#[tokio::test]
async fn failover_restores_the_newest_complete_capture_in_order_then_captures() {
    let env = Env::with_stand_in("failover").await;
    env.driver().behaviour.lock().unwrap().hold = true;
    let config7 = env.synced_backup("app", 7, "config", "Completed").await;
    let workload7 = env.synced_backup("app", 7, "workload", "Completed").await;
    env.synced_backup("app", 8, "config", "Completed").await; // capture 8 never finished its workload group
    env.apply(RECIPE).await;
    env.apply(&vrg("Failover")).await;
    let restores = kube::Api::<Restore>::namespaced(env.client.clone(), &env.velero_ns);
    // In order: while the config Restore runs (held), the workload Restore does not exist.
    let vrg = env
        .wait("app", "the first Restore", TIMEOUT, |v| {
            condition(v, "KubeObjectsReady").is_some_and(|c| c.reason == "Restoring")
        })
        .await;
    assert_eq!(
        vrg.status
            .unwrap()
            .kube_object_protection
            .unwrap()
            .run
            .unwrap()
            .capture,
        7
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let list = restores.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(list.len(), 1, "one step at a time");
    assert_eq!(list[0].spec.backup_name, config7);
    env.driver().behaviour.lock().unwrap().hold = false;
    let vrg = env
        .wait("app", "the recovery", TIMEOUT, |v| {
            is(v, "KubeObjectsReady", "True")
        })
        .await;
    assert!(
        condition(&vrg, "KubeObjectsReady")
            .unwrap()
            .message
            .contains("capture 7")
    );
    let names: Vec<String> = restores
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|r| r.spec.backup_name.clone())
        .collect();
    assert!(
        names.contains(&config7) && names.contains(&workload7),
        "{names:?}"
    );
    // Until this cluster has a capture of its own, the restored capture is the one to recover
    // from; then capturing starts here, numbered after every capture seen (8 came from the
    // other side).
    let protected = |v: &vrg_operator::api::VolumeReplicationGroup| {
        v.status
            .as_ref()?
            .kube_object_protection
            .as_ref()?
            .capture_to_recover_from
            .as_ref()
            .map(|c| c.number)
    };
    assert_eq!(protected(&vrg), Some(7));
    let vrg = env
        .wait("app", "the first capture after recovery", TIMEOUT, |v| {
            is(v, "ClusterDataProtected", "True") && protected(v) != Some(7)
        })
        .await;
    let capture = vrg
        .status
        .unwrap()
        .kube_object_protection
        .unwrap()
        .capture_to_recover_from
        .unwrap()
        .number;
    assert_eq!(capture, 9);
}

#[tokio::test]
async fn without_a_complete_capture_recovery_waits_and_says_why() {
    let env = Env::with_stand_in("no-capture").await;
    env.synced_backup("app", 3, "config", "PartiallyFailed")
        .await;
    env.apply(RECIPE).await;
    env.apply(&vrg("Failover")).await;
    let vrg = env
        .wait("app", "KubeObjectsReady NoCapture", TIMEOUT, |v| {
            condition(v, "KubeObjectsReady").is_some_and(|c| c.reason == "NoCapture")
        })
        .await;
    let c = condition(&vrg, "KubeObjectsReady").unwrap();
    assert_eq!(c.status, "False");
    assert!(c.message.contains("config, workload"), "{}", c.message);
    assert!(
        env.backups()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len()
            == 1,
        "no capture starts before recovery"
    );
}
