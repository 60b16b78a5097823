//! Acting as the operator's ServiceAccount with the shipped RBAC: the ClusterRole (or an edited
//! copy) and the Velero Role, bound in the test's Velero namespace.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use vrg_testenv::shared;

use super::env::Env;

/// ServiceAccount `vrg-operator` in this test's namespace, and a client that acts as it.
pub async fn service_account(env: &Env) -> kube::Client {
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "vrg-operator"}})).unwrap();
    Api::<ServiceAccount>::namespaced(env.client.clone(), &env.ns)
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    let user = format!("system:serviceaccount:{}:vrg-operator", env.ns);
    shared()
        .client_as(&user, &["system:serviceaccounts", "system:authenticated"])
        .await
        .unwrap()
}

/// config/rbac/role.yaml as shipped, after `edit`, bound to this test's ServiceAccount, and
/// config/rbac/velero_role.yaml as shipped, bound to it in the test's Velero namespace; returns a
/// client acting as it.
pub async fn shipped_role_client(env: &Env, edit: impl FnOnce(&mut ClusterRole)) -> kube::Client {
    let mut role: ClusterRole =
        serde_saphyr::from_str(include_str!("../../config/rbac/role.yaml")).unwrap();
    edit(&mut role);
    let role_name = format!("vrg-operator-{}", env.ns);
    role.metadata = kube::api::ObjectMeta {
        name: Some(role_name.clone()),
        ..Default::default()
    };
    Api::<ClusterRole>::all(env.client.clone())
        .patch(
            &role_name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&role),
        )
        .await
        .unwrap();
    let client = service_account(env).await;
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
    velero_role(env, &role_name).await;
    client
}

/// The shipped Velero Role as `name` in the test's Velero namespace, bound to its ServiceAccount.
async fn velero_role(env: &Env, name: &str) {
    let role = include_str!("../../config/rbac/velero_role.yaml");
    bind_role(env, &env.velero_ns, name, role).await;
}

/// config/rbac/leader_election_role.yaml as shipped, in this test's namespace, bound to its
/// ServiceAccount; returns the RoleBinding's name (deleting it revokes the Lease permissions).
pub async fn lease_role(env: &Env) -> String {
    let name = "leader-election";
    let role = include_str!("../../config/rbac/leader_election_role.yaml");
    bind_role(env, &env.ns, name, role).await;
    name.to_owned()
}

/// The Role of `yaml` as `name` in `namespace`, bound there to this test's ServiceAccount.
pub async fn bind_role(env: &Env, namespace: &str, name: &str, yaml: &str) {
    let mut role: Role = serde_saphyr::from_str(yaml).unwrap();
    role.metadata = kube::api::ObjectMeta {
        name: Some(name.to_owned()),
        ..Default::default()
    };
    Api::<Role>::namespaced(env.client.clone(), namespace)
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "vrg-operator", "namespace": env.ns}],
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(env.client.clone(), namespace)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
}

/// A kubeconfig file whose every user acts as this test's ServiceAccount (through
/// impersonation), for the operator binary.
pub fn impersonating_kubeconfig(env: &Env) -> std::path::PathBuf {
    let mut kubeconfig: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&shared().kubeconfig).unwrap()).unwrap();
    for user in kubeconfig["users"].as_array_mut().unwrap() {
        user["user"]["as"] = json!(format!("system:serviceaccount:{}:vrg-operator", env.ns));
        user["user"]["as-groups"] = json!(["system:serviceaccounts", "system:authenticated"]);
    }
    let path = std::env::temp_dir().join(format!("vrg-{}-kubeconfig", env.ns));
    std::fs::write(&path, kubeconfig.to_string()).unwrap();
    path
}
