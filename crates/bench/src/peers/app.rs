//! The application every peer protects, and the recipe they all run: a database pod whose
//! quiesce and unquiesce commands append to a trace file (kwok runs exec'd commands on this host),
//! ConfigMaps and Secrets, and three groups captured between the two hooks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};
use vrg_testenv::ControlPlane;

use super::err;

/// Objects of each kind in the application.
const OBJECTS: usize = 5;

/// The trace the hooks of `namespace` append to, in kwok's work directory.
pub fn trace(plane: &ControlPlane, namespace: &str) -> PathBuf {
    plane.kwok_workdir.join(format!("trace-{namespace}"))
}

/// Lines of `trace`: `<unix seconds> quiesce|unquiesce`.
pub fn trace_lines(trace: &Path) -> Vec<(f64, String)> {
    std::fs::read_to_string(trace)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (at, what) = l.split_once(' ')?;
            Some((at.parse().ok()?, what.trim().to_owned()))
        })
        .collect()
}

/// The command of a hook op: one line in the trace per execution.
pub fn hook_command(trace: &Path, op: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("echo $(date +%s.%N) {op} >> {}", trace.display()),
    ]
}

/// Creates `namespace` with the application in `plane` (`objects: false`: the namespace alone,
/// as on a cluster that recovers). Returns once the pod runs.
pub async fn create(plane: &ControlPlane, namespace: &str, objects: bool) -> Result<(), String> {
    let client = plane.client().await.map_err(err)?;
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": namespace}})).map_err(err)?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .map_err(err)?;
    if !objects {
        return Ok(());
    }
    let labels = json!({"app": "shop"});
    for i in 0..OBJECTS {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": format!("config-{i}"), "labels": labels},
            "data": {"setting": format!("value-{i}")},
        }))
        .map_err(err)?;
        Api::<ConfigMap>::namespaced(client.clone(), namespace)
            .create(&PostParams::default(), &cm)
            .await
            .map_err(err)?;
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": format!("secret-{i}"), "labels": labels},
            "stringData": {"password": format!("pw-{i}")},
        }))
        .map_err(err)?;
        Api::<Secret>::namespaced(client.clone(), namespace)
            .create(&PostParams::default(), &secret)
            .await
            .map_err(err)?;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "db-0", "labels": {"app": "db"}},
        "spec": {"nodeName": plane.node_name, "containers": [{"name": "main", "image": "mysql"}]},
    }))
    .map_err(err)?;
    pods.create(&PostParams::default(), &pod)
        .await
        .map_err(err)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let phase = pods
            .get("db-0")
            .await
            .map_err(err)?
            .status
            .and_then(|s| s.phase);
        if phase.as_deref() == Some("Running") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("pod {namespace}/db-0 never ran"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The Recipe (Ramen's CR, which vrg-operator reads as it is): quiesce, the groups, unquiesce;
/// restore the groups in order. `groups` is 3 (ConfigMaps, Secrets, pods) or 1 (everything).
pub fn recipe(plane: &ControlPlane, namespace: &str, groups: usize) -> Value {
    let trace = trace(plane, namespace);
    let command = |op: &str| serde_json::to_string(&hook_command(&trace, op)).unwrap_or_default();
    let group_list: Vec<Value> = if groups == 1 {
        vec![json!({"name": "all", "type": "resource", "includedNamespaces": [namespace]})]
    } else {
        [
            ("config", "configmaps"),
            ("secrets", "secrets"),
            ("workload", "pods"),
        ]
        .iter()
        .map(|(name, kind)| {
            json!({"name": name, "type": "resource", "includedNamespaces": [namespace],
                       "includedResourceTypes": [kind]})
        })
        .collect()
    };
    let names: Vec<Value> = group_list
        .iter()
        .map(|g| json!({"group": g["name"]}))
        .collect();
    let mut backup = vec![json!({"hook": "db/quiesce"})];
    backup.extend(names.iter().cloned());
    backup.push(json!({"hook": "db/unquiesce"}));
    json!({
        "apiVersion": "ramendr.openshift.io/v1alpha1",
        "kind": "Recipe",
        "metadata": {"name": "shop", "namespace": namespace},
        "spec": {
            // Required by Ramen's Recipe CRD; informational here.
            "appType": "shop",
            "groups": group_list,
            "hooks": [{
                "name": "db", "type": "exec", "namespace": namespace,
                "selectResource": "pod", "labelSelector": {"matchLabels": {"app": "db"}},
                "ops": [
                    {"name": "quiesce", "container": "main", "command": command("quiesce"), "timeout": 60},
                    {"name": "unquiesce", "container": "main", "command": command("unquiesce"), "timeout": 60},
                ],
            }],
            "workflows": [
                {"name": "backup", "sequence": backup},
                {"name": "restore", "sequence": names},
            ],
        },
    })
}

/// [`create`] the app's namespace (with the objects or not) and apply its [`recipe`] with
/// `groups`; returns the admin client it used.
pub async fn install(
    plane: &ControlPlane,
    namespace: &str,
    objects: bool,
    groups: usize,
) -> Result<kube::Client, String> {
    let client = plane.client().await.map_err(err)?;
    create(plane, namespace, objects).await?;
    apply(
        &client,
        &recipe(plane, namespace, groups),
        ("ramendr.openshift.io", "v1alpha1", "Recipe"),
    )
    .await?;
    Ok(client)
}

/// Applies `object` (server-side, forced) through the dynamic API of its kind.
pub async fn apply(
    client: &kube::Client,
    object: &Value,
    kind: (&str, &str, &str),
) -> Result<(), String> {
    let (group, version, kind) = kind;
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let typed: DynamicObject = serde_json::from_value(object.clone()).map_err(err)?;
    api.patch(
        name,
        &PatchParams::apply("vrg-bench").force(),
        &Patch::Apply(&typed),
    )
    .await
    .map_err(|e| format!("apply {kind} {namespace}/{name}: {e}"))?;
    Ok(())
}

/// Objects of the application in `namespace` (ConfigMaps and Secrets with its label, pods).
pub async fn count(client: &kube::Client, namespace: &str) -> Result<usize, String> {
    let lp = kube::api::ListParams::default().labels("app=shop");
    let cms = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .list(&lp)
        .await
        .map_err(err)?;
    let secrets = Api::<Secret>::namespaced(client.clone(), namespace)
        .list(&lp)
        .await
        .map_err(err)?;
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&Default::default())
        .await
        .map_err(err)?;
    Ok(cms.items.len() + secrets.items.len() + pods.items.len())
}

/// Everything the application has: what a recovery must bring back.
pub fn expected_objects() -> usize {
    2 * OBJECTS + 1
}
