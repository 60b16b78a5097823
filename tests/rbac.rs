//! The shipped RBAC (config/rbac/role.yaml) is enough: the controller, acting as a ServiceAccount
//! bound to that ClusterRole and nothing else, captures, runs exec hooks and recovers.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::env::{Env, is, options};
use vrg_operator::api::velero::{Backup, BackupSpec};
use vrg_operator::velero::{self, ObjectIdentity};
use vrg_testenv::shared;

const TIMEOUT: Duration = Duration::from_secs(40);

#[tokio::test]
async fn the_shipped_cluster_role_is_enough_for_capture_hooks_and_recovery() {
    let mut env = Env::start("rbac").await;
    // The role exactly as shipped, bound to a ServiceAccount of this test.
    let role: ClusterRole =
        serde_saphyr::from_str(include_str!("../config/rbac/role.yaml")).unwrap();
    let role_name = format!("vrg-operator-{}", env.ns);
    let role = ClusterRole {
        metadata: kube::api::ObjectMeta {
            name: Some(role_name.clone()),
            ..Default::default()
        },
        ..role
    };
    Api::<ClusterRole>::all(env.client.clone())
        .patch(
            &role_name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&role),
        )
        .await
        .unwrap();
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "vrg-operator"}})).unwrap();
    Api::<ServiceAccount>::namespaced(env.client.clone(), &env.ns)
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": role_name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
        "subjects": [{"kind": "ServiceAccount", "name": "vrg-operator", "namespace": env.ns}],
    }))
    .unwrap();
    Api::<ClusterRoleBinding>::all(env.client.clone())
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let user = format!("system:serviceaccount:{}:vrg-operator", env.ns);
    let restricted = shared()
        .client_as(&user, &["system:serviceaccounts", "system:authenticated"])
        .await
        .unwrap();
    env.restart_controller_as(restricted, options(&env.velero_ns, &env.ns));

    // A pod for the exec hook.
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "db-0", "labels": {"app": "db"}},
        "spec": {"nodeName": shared().node_name, "containers": [{"name": "main", "image": "busybox"}]},
    }))
    .unwrap();
    Api::<Pod>::namespaced(env.client.clone(), &env.ns)
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;

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
    let id = ObjectIdentity::backup(&env.ns, "failover", 5, "data", "east");
    let mut backup: Backup =
        velero::spec::backup(&BackupSpec::default(), &id, "east", &env.velero_ns);
    backup.status = Some(serde_json::from_value(json!({"phase": "Completed"})).unwrap());
    env.backups()
        .create(&PostParams::default(), &backup)
        .await
        .unwrap();
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
