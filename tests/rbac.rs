//! The shipped RBAC is enough: the controller, acting as a ServiceAccount bound to
//! config/rbac/role.yaml and nothing else, captures, runs exec hooks and recovers; and with
//! config/rbac/leader_election_role.yaml it takes, renews and releases the leader lease. The
//! stand-in serves Velero's part, with another cluster's capture to recover from.

mod support;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PostParams};
use serde_json::json;
use support::env::{Env, is, options};
use support::rbac::{service_account, shipped_role_client};
use vrg_operator::leader::Election;

const TIMEOUT: Duration = Duration::from_secs(40);

#[tokio::test]
async fn the_shipped_cluster_role_is_enough_for_capture_hooks_and_recovery() {
    let mut env = Env::with_stand_in("rbac").await;
    // The role exactly as shipped, bound to a ServiceAccount of this test.
    let restricted = shipped_role_client(&env, |_| {}).await;
    env.restart_controller_as(restricted, options(&env.velero_ns, &env.ns));

    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;

    let recipe = "      groups: [{name: data}]
      hooks: [{name: pod, type: exec, labelSelector: app=db, ops: [{name: mark, command: /bin/true}]}]
      workflows:
        - {name: backup, sequence: [{hook: pod/mark}, {group: data}]}
        - {name: restore, sequence: [{group: data}, {hook: pod/mark}]}
";
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
            is(v, "ClusterDataProtected", "True")
        })
        .await;
    assert!(
        is(&v, "HooksReady", "True"),
        "the exec hook ran with the shipped RBAC"
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
}

#[tokio::test]
async fn the_shipped_leader_election_role_is_enough_to_lead() {
    let env = Env::start("rbac-lease").await;
    // The Role exactly as shipped, in this test's namespace, bound to a ServiceAccount there.
    let role: Role =
        serde_saphyr::from_str(include_str!("../config/rbac/leader_election_role.yaml")).unwrap();
    let role = Role {
        metadata: kube::api::ObjectMeta {
            name: Some("leader-election".into()),
            namespace: Some(env.ns.clone()),
            ..Default::default()
        },
        ..role
    };
    Api::<Role>::namespaced(env.client.clone(), &env.ns)
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let restricted = service_account(&env).await;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "leader-election"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "leader-election"},
        "subjects": [{"kind": "ServiceAccount", "name": "vrg-operator", "namespace": env.ns}],
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(env.client.clone(), &env.ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();

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
        () = leadership.lost() => panic!("lost the lease: a renewal was refused"),
        () = tokio::time::sleep(Duration::from_secs(7)) => {}
    }
    assert_eq!(holder().await.as_deref(), Some("replica-a"));
    leadership.release().await;
    assert_eq!(holder().await, None, "released on shutdown");
}
