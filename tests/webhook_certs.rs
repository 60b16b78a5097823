//! The webhook's own certificates against the real API server: two operator replicas, as their
//! ServiceAccount with the shipped RBAC, make the CA and serving certificate, keep them in the
//! Secret and give the ValidatingWebhookConfiguration the CA; with lifetimes of seconds, both
//! the serving certificate and the CA are renewed while admissions run without pause, and not
//! one admission fails. Then, with the operator stopped, the failure policy holds: `Fail`
//! refuses, `Ignore` admits.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};
use support::env::Env;
use support::net::free_port;
use support::operator::Operator;
use support::rbac::{bind_role, impersonating_kubeconfig, shipped_role_client};
use vrg_operator::webhook::{RECIPE_PATH, VRG_PATH};

const SECRET: &str = "vrg-operator-webhook-cert";

/// VRGs go to the replica on `vrg_port`, Recipes to the one on `recipe_port`, for namespace
/// `ns` alone; no caBundle: the operator gives it.
fn registration(name: &str, ns: &str, vrg_port: u16, recipe_port: u16) -> Value {
    let hook = |hook: &str, plural: &str, port: u16, path: &str| {
        json!({
            "name": format!("{hook}.{ns}.vrg-operator.test"),
            "clientConfig": {"url": format!("https://127.0.0.1:{port}{path}")},
            "rules": [{"apiGroups": ["ramendr.openshift.io"], "apiVersions": ["v1alpha1"], "operations": ["CREATE", "UPDATE"], "resources": [plural]}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 5,
        })
    };
    json!({
        "metadata": {"name": name},
        "webhooks": [
            hook("vrgs", "volumereplicationgroups", vrg_port, VRG_PATH),
            hook("recipes", "recipes", recipe_port, RECIPE_PATH),
        ],
    })
}

/// The shipped webhook RBAC bound to the test's ServiceAccount: the Secret Role in the test's
/// namespace, and the configuration ClusterRole naming this test's configuration.
async fn webhook_rbac(env: &Env, configuration: &str) {
    bind_role(
        env,
        &env.ns,
        "webhook-cert",
        include_str!("../config/rbac/webhook_cert_role.yaml"),
    )
    .await;
    let mut role: ClusterRole = serde_saphyr::from_str(include_str!(
        "../config/rbac/webhook_configuration_role.yaml"
    ))
    .unwrap();
    let name = format!("vrg-operator-webhook-{}", env.ns);
    role.metadata = kube::api::ObjectMeta {
        name: Some(name.clone()),
        ..Default::default()
    };
    for rule in role.rules.iter_mut().flatten() {
        rule.resource_names = Some(vec![configuration.to_owned()]);
    }
    Api::<ClusterRole>::all(env.client.clone())
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "vrg-operator", "namespace": env.ns}],
    }))
    .unwrap();
    Api::<ClusterRoleBinding>::all(env.client.clone())
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
}

fn api(env: &Env, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("ramendr.openshift.io", "v1alpha1", kind);
    Api::namespaced_with(env.client.clone(), &env.ns, &ApiResource::from_gvk(&gvk))
}

fn object(kind: &str, name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "ramendr.openshift.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

fn good_vrg() -> DynamicObject {
    object(
        "VolumeReplicationGroup",
        "good",
        json!({"replicationState": "primary", "s3Profiles": ["east"], "kubeObjectProtection": {"captureInterval": "1h"}}),
    )
}

fn bad_vrg() -> DynamicObject {
    object(
        "VolumeReplicationGroup",
        "bad",
        json!({"replicationState": "primary", "s3Profiles": ["east"], "kubeObjectProtection": {"captureInterval": "10s"}}),
    )
}

fn good_recipe() -> DynamicObject {
    object(
        "Recipe",
        "good",
        json!({"groups": [{"name": "data", "type": "resource", "includedResourceTypes": ["configmaps"]}],
               "workflows": [{"name": "backup", "sequence": [{"group": "data"}]}]}),
    )
}

fn bad_recipe() -> DynamicObject {
    object(
        "Recipe",
        "bad",
        json!({"groups": [{"name": "data", "type": "resource", "includedResourceTypes": ["configmaps"]}],
               "workflows": [{"name": "backup", "sequence": [{"group": "dat"}]}]}),
    )
}

/// A dry-run create: Ok when admitted, else the API server's message.
async fn try_create(api: &Api<DynamicObject>, object: &DynamicObject) -> Result<(), String> {
    let params = PostParams {
        dry_run: true,
        ..Default::default()
    };
    api.create(&params, object)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// One round of the load: each good object admitted, each bad one denied by the webhook itself.
/// The problems, if any.
async fn round(env: &Env) -> Vec<String> {
    let (vrgs, recipes) = (api(env, "VolumeReplicationGroup"), api(env, "Recipe"));
    let mut problems = Vec::new();
    for (api, good, bad, said) in [
        (&vrgs, good_vrg(), bad_vrg(), "captureInterval"),
        (&recipes, good_recipe(), bad_recipe(), "no group \"dat\""),
    ] {
        if let Err(e) = try_create(api, &good).await {
            problems.push(format!("good object refused: {e}"));
        }
        match try_create(api, &bad).await {
            Ok(()) => problems.push("bad object admitted".to_owned()),
            Err(e) if e.contains("denied the request") && e.contains(said) => {}
            Err(e) => problems.push(format!("bad object refused for another reason: {e}")),
        }
    }
    problems
}

/// The serving certificate and the newest CA in the Secret now.
async fn stored(env: &Env) -> Option<(Vec<u8>, String)> {
    let secret = Api::<Secret>::namespaced(env.client.clone(), &env.ns)
        .get_opt(SECRET)
        .await
        .unwrap()?;
    let data = secret.data?;
    let bundle = String::from_utf8(data.get("ca.crt")?.0.clone()).ok()?;
    let newest = bundle
        .split_inclusive("-----END CERTIFICATE-----")
        .next()?
        .to_owned();
    Some((data.get("tls.crt")?.0.clone(), newest))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_renewed_under_load_without_a_failed_admission_and_the_failure_policy_holds()
 {
    let env = Env::with_stand_in("webhook-certs").await;
    let configuration = format!("vrg-operator-test-{}", env.ns);
    shipped_role_client(&env, |_| {}).await;
    webhook_rbac(&env, &configuration).await;
    let (vrg_port, recipe_port) = (free_port(), free_port());
    let configurations = Api::<ValidatingWebhookConfiguration>::all(env.client.clone());
    let registration: ValidatingWebhookConfiguration =
        serde_json::from_value(registration(&configuration, &env.ns, vrg_port, recipe_port))
            .unwrap();
    configurations
        .create(&PostParams::default(), &registration)
        .await
        .unwrap();

    let kubeconfig = impersonating_kubeconfig(&env);
    let secret = format!("{}/{SECRET}", env.ns);
    let replica = |name: &'static str, port: u16| {
        let address = format!("127.0.0.1:{port}");
        Operator::start_as(
            name,
            &env,
            &kubeconfig,
            &[
                "--webhook-address",
                &address,
                "--webhook-cert-secret",
                &secret,
                "--webhook-configuration",
                &configuration,
                "--webhook-host",
                "127.0.0.1",
                "--webhook-cert-validity",
                "6s",
                "--webhook-ca-validity",
                "18s",
            ],
        )
    };
    let mut replicas = [replica("a", vrg_port), replica("b", recipe_port)];

    // Until both replicas serve with a CA the API server was given.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let problems = round(&env).await;
        if problems.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the webhook never answered: {problems:?}\n{}\n{}",
            replicas[0].log_tail(),
            replicas[1].log_tail()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Load for long enough that the CA is renewed once and serving certificates several times.
    let seen_serving = Arc::new(Mutex::new(BTreeSet::new()));
    let seen_cas = Arc::new(Mutex::new(BTreeSet::new()));
    let load_for = Duration::from_secs(25);
    let start = Instant::now();
    let watcher = {
        let (env_client, ns) = (env.client.clone(), env.ns.clone());
        let (serving, cas) = (seen_serving.clone(), seen_cas.clone());
        tokio::spawn(async move {
            let secrets = Api::<Secret>::namespaced(env_client, &ns);
            while start.elapsed() < load_for {
                if let Some(data) = secrets
                    .get_opt(SECRET)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|s| s.data)
                {
                    if let Some(crt) = data.get("tls.crt") {
                        serving.lock().unwrap().insert(crt.0.clone());
                    }
                    if let Some(bundle) = data.get("ca.crt") {
                        let bundle = String::from_utf8_lossy(&bundle.0).into_owned();
                        let newest = bundle.split_inclusive("-----END CERTIFICATE-----").next();
                        cas.lock().unwrap().extend(newest.map(str::to_owned));
                    }
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let (mut rounds, mut problems) = (0, Vec::new());
    while start.elapsed() < load_for {
        problems.extend(round(&env).await);
        rounds += 1;
    }
    watcher.await.unwrap();
    let (serving, cas) = (
        seen_serving.lock().unwrap().len(),
        seen_cas.lock().unwrap().len(),
    );
    eprintln!(
        "webhook-certs: {} admissions in {load_for:?}, {serving} serving certificates, {cas} CAs",
        rounds * 4
    );
    assert!(
        problems.is_empty(),
        "{} of {} admissions went wrong: {:#?}",
        problems.len(),
        rounds * 4,
        &problems[..problems.len().min(10)]
    );
    assert!(serving >= 3, "only {serving} serving certificates seen");
    assert!(cas >= 2, "only {cas} CAs seen: the CA was never renewed");
    let (_, newest) = stored(&env).await.unwrap();
    let published = configurations.get(&configuration).await.unwrap();
    for hook in published.webhooks.iter().flatten() {
        let bundle = String::from_utf8(hook.client_config.ca_bundle.clone().unwrap().0).unwrap();
        assert!(
            bundle.contains(&newest),
            "{}: the newest CA is not in its caBundle",
            hook.name
        );
    }

    // The operator stops: with failurePolicy Fail, nothing is admitted.
    for replica in &mut replicas {
        replica.kill();
    }
    match try_create(&api(&env, "VolumeReplicationGroup"), &good_vrg()).await {
        Err(e) if e.contains("failed calling webhook") => {}
        other => panic!("with the operator stopped and failurePolicy Fail: {other:?}"),
    }
    // With Ignore, everything is, unchecked (the operator reports problems in status later).
    let ignore: Vec<Value> = ["vrgs", "recipes"]
        .iter()
        .map(|h| json!({"name": format!("{h}.{}.vrg-operator.test", env.ns), "failurePolicy": "Ignore"}))
        .collect();
    configurations
        .patch(
            &configuration,
            &PatchParams::default(),
            &Patch::Strategic(json!({"webhooks": ignore})),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match try_create(&api(&env, "Recipe"), &bad_recipe()).await {
            Ok(()) => break,
            Err(e) => assert!(
                Instant::now() < deadline,
                "with the operator stopped and failurePolicy Ignore: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    configurations
        .delete(&configuration, &Default::default())
        .await
        .unwrap();
}
