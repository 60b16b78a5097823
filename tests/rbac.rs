//! The shipped RBAC is enough: the controller, acting as a ServiceAccount bound to
//! config/rbac/role.yaml and config/rbac/velero_role.yaml (in the Velero namespace) and nothing
//! else, captures, runs exec hooks on pods and through Deployments, scale and job hooks, records Events, recovers, and
//! cleans up deleted VRGs (their captures through DeleteBackupRequests, their Restores); and with
//! config/rbac/leader_election_role.yaml it takes, renews and releases the leader lease. The
//! stand-in serves Velero's part, with another cluster's capture to recover from.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use support::env::{Env, is, options};
use support::rbac::{lease_role, service_account, shipped_role_client};
use vrg_operator::api::velero::Restore;
use vrg_operator::controller;
use vrg_operator::leader::Election;
use vrg_operator::velero::names::LABEL_VRG_NAME;
use vrg_testenv::shared;

const TIMEOUT: Duration = Duration::from_secs(40);

#[tokio::test]
async fn the_shipped_rules_are_enough_for_the_whole_lifecycle() {
    let mut env = Env::with_stand_in("rbac").await;
    // The rules exactly as shipped, bound to a ServiceAccount of this test.
    let restricted = shipped_role_client(&env, |_| {}).await;
    env.restart_controller_as(
        restricted,
        controller::Options {
            on_delete: controller::OnDelete::DeleteOwnCaptures,
            ..options(&env.velero_ns, &env.ns)
        },
    );

    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let web: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"nodeName": shared().node_name, "containers": [{"name": "web", "image": "nginx"}]}},
        },
    }))
    .unwrap();
    Api::<Deployment>::namespaced(env.client.clone(), &env.ns)
        .create(&PostParams::default(), &web)
        .await
        .unwrap();

    let recipe = &"      groups: [{name: data}]
      hooks:
        - {name: pod, type: exec, labelSelector: app=db, ops: [{name: mark, command: /bin/true}]}
        - {name: web, type: exec, selectResource: deployment, nameSelector: web, timeout: 30, ops: [{name: mark, command: /bin/true}]}
        - {name: scale, type: scale, selectResource: deployment, nameSelector: web, timeout: 30}
        - {name: job, type: job, jobs: [{name: mark, timeout: 30}]}
      jobs:
        - mark: '{spec: {backoffLimit: 0, template: {spec: {restartPolicy: Never, nodeName: NODE, containers: [{name: mark, image: busybox}]}}}}'
      workflows:
        - {name: backup, sequence: [{hook: pod/mark}, {hook: web/mark}, {hook: scale/down}, {hook: scale/sync}, {hook: job/mark}, {group: data}, {hook: scale/up}, {hook: scale/sync}]}
        - {name: restore, sequence: [{group: data}, {hook: pod/mark}]}
"
    .replace("NODE", &shared().node_name);
    let vrg = |name: &str, action: &str| {
        format!(
            "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: {name}}}
spec:
  replicationState: primary
  action: {action}
  s3Profiles: [east]
  kubeObjectProtection:
    captureInterval: 1h
    recipe:
{recipe}"
        )
    };
    env.apply(&vrg("primary", "\"\"")).await;
    let v = env
        .wait("primary", "a capture as the ServiceAccount", TIMEOUT, |v| {
            is(v, "ClusterDataProtected", "True") && is(v, "HooksReady", "True")
        })
        .await;
    assert!(
        is(&v, "HooksReady", "True"),
        "the exec, scale and job hooks ran with the shipped RBAC: {:#?}",
        v.status
    );
    // Recovery as the ServiceAccount: another cluster's capture of VRG `failover`, synced here.
    env.synced_backup("failover", 5, "data", "Completed").await;
    env.apply(&vrg("failover", "Failover")).await;
    let v = env
        .wait(
            "failover",
            "the recovery as the ServiceAccount",
            TIMEOUT,
            |v| is(v, "KubeObjectsReady", "True"),
        )
        .await;
    assert!(is(&v, "RecipeReady", "True"));
    env.wait("failover", "the capture after recovery", TIMEOUT, |v| {
        is(v, "ClusterDataProtected", "True")
    })
    .await;
    let events =
        Api::<k8s_openapi::api::events::v1::Event>::namespaced(env.client.clone(), &env.ns)
            .list(&Default::default())
            .await
            .unwrap();
    assert!(
        events
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("CaptureStarted")),
        "the ServiceAccount recorded no Events"
    );

    // Deleted, each VRG's captures go through DeleteBackupRequests and its Restores are removed,
    // then its finalizer: all as the ServiceAccount.
    for name in ["primary", "failover"] {
        env.vrgs()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let vrgs = env
            .vrgs()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .len();
        let restores = Api::<Restore>::namespaced(env.client.clone(), &env.velero_ns)
            .list(&env.own())
            .await
            .unwrap()
            .items
            .len();
        let own_backups = env
            .backups()
            .list(&env.own_and(&format!("{LABEL_VRG_NAME}=primary")))
            .await
            .unwrap()
            .items
            .len();
        if (vrgs, restores, own_backups) == (0, 0, 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left after deletion: {vrgs} VRGs, {restores} Restores, {own_backups} Backups"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_shipped_leader_election_role_is_enough_to_lead() {
    let env = Env::start("rbac-lease").await;
    // The Role exactly as shipped, in this test's namespace, bound to a ServiceAccount there.
    let restricted = service_account(&env).await;
    lease_role(&env).await;

    let election = Election {
        namespace: env.ns.clone(),
        lease: "vrg-operator".into(),
        identity: "replica-a".into(),
        duration: Duration::from_secs(3),
    };
    let mut leadership = tokio::time::timeout(TIMEOUT, election.acquire(restricted))
        .await
        .expect("the lease within the timeout")
        .unwrap();
    let holder = || async {
        Api::<Lease>::namespaced(env.client.clone(), &env.ns)
            .get("vrg-operator")
            .await
            .unwrap()
            .spec
            .and_then(|s| s.holder_identity)
    };
    assert_eq!(holder().await.as_deref(), Some("replica-a"));
    // Held across several renewals: losing it would mean a renewal was refused.
    tokio::select! {
        lost = leadership.lost() => panic!("lost the lease: {lost}"),
        () = tokio::time::sleep(Duration::from_secs(7)) => {}
    }
    assert_eq!(holder().await.as_deref(), Some("replica-a"));
    leadership.release().await;
    assert_eq!(holder().await, None, "released on shutdown");
}
