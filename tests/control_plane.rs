//! The test control plane itself, and our API against it: CRDs are structural and accepted, every
//! example applies, a VRG round-trips through the API server, and kwok pods run and `exec`.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, AttachParams, ListParams, PostParams};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use vrg_operator::api::VolumeReplicationGroup;
use vrg_operator::hooks::exit_status::ExitStatus;
use vrg_testenv::shared;

fn path(relative: &str) -> String {
    format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn our_crds_are_established_and_structural() {
    let plane = shared();
    let client = plane.client().await.unwrap();
    let api: Api<CustomResourceDefinition> = Api::all(client);
    for name in [
        "volumereplicationgroups.ramendr.openshift.io",
        "recipes.ramendr.openshift.io",
        "backups.velero.io",
        "restores.velero.io",
        "deletebackuprequests.velero.io",
    ] {
        let crd = api.get(name).await.unwrap();
        let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
        assert!(
            conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True"),
            "{name}: {conditions:?}"
        );
        assert!(
            !conditions
                .iter()
                .any(|c| c.type_ == "NonStructuralSchema" && c.status == "True"),
            "{name} has a non-structural schema: {conditions:?}"
        );
    }
}

#[tokio::test]
async fn every_example_applies_with_server_side_dry_run() {
    let plane = shared();
    let client = plane.client().await.unwrap();
    let ns = plane.namespace(&client, "examples").await.unwrap();
    let mut files: Vec<_> = std::fs::read_dir(path("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 6);
    for file in files {
        let out = plane
            .kubectl()
            .args([
                "apply",
                "--dry-run=server",
                "--validate=strict",
                "-n",
                &ns,
                "-f",
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn a_vrg_applied_with_kubectl_round_trips_with_no_field_lost() {
    let plane = shared();
    let client = plane.client().await.unwrap();
    let ns = plane.namespace(&client, "roundtrip").await.unwrap();
    for example in [
        "examples/ramen-vrg.yaml",
        "examples/seed-inline-recipe.yaml",
        "examples/seed-capture-order.yaml",
    ] {
        let out = plane
            .kubectl()
            .args(["apply", "-n", &ns, "-f", &path(example)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let written: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(path(example)).unwrap()).unwrap();
        let name = written["metadata"]["name"].as_str().unwrap();
        let stored: Value = serde_json::to_value(
            Api::<VolumeReplicationGroup>::namespaced(client.clone(), &ns)
                .get(name)
                .await
                .unwrap(),
        )
        .unwrap();
        let mut expected = written["spec"].clone();
        // `action: ""` means "no action" and reads back as absent.
        if expected["action"] == json!("") {
            expected.as_object_mut().unwrap().remove("action");
        }
        assert_eq!(
            stored["spec"], expected,
            "{example}: the API server or our types lost a field"
        );
    }
}

async fn wait_for<T, F: AsyncFnMut() -> Option<T>>(
    what: &str,
    timeout: Duration,
    mut check: F,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            shared().logs(15)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn is_running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

#[tokio::test]
async fn kwok_pods_run_and_exec_returns_output_and_exit_codes() {
    let plane = shared();
    let client = plane.client().await.unwrap();
    let ns = plane.namespace(&client, "exec").await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "app"},
        "spec": {"nodeName": plane.node_name, "containers": [{"name": "main", "image": "busybox"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait_for("pod app Running", Duration::from_secs(30), async || {
        pods.get("app").await.ok().filter(is_running)
    })
    .await;

    let (stdout, stderr, code) = exec(
        &pods,
        "app",
        &["/bin/sh", "-c", "echo out; echo err >&2; exit 3"],
    )
    .await;
    assert_eq!(
        (stdout.as_str(), stderr.as_str(), code),
        ("out\n", "err\n", 3)
    );
    let (stdout, _, code) = exec(&pods, "app", &["pwd"]).await;
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        plane.kwok_workdir.display().to_string(),
        "commands run in kwok's work directory"
    );
}

/// Runs `command` in `pod` through the API server; returns stdout, stderr and the exit code.
async fn exec(pods: &Api<Pod>, pod: &str, command: &[&str]) -> (String, String, i32) {
    let mut process = pods
        .exec(
            pod,
            command.iter().copied(),
            &AttachParams::default().stderr(true),
        )
        .await
        .unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    let mut stdout = process.stdout().unwrap();
    let mut stderr = process.stderr().unwrap();
    let status = process.take_status().unwrap();
    let (a, b) = tokio::join!(
        stdout.read_to_string(&mut out),
        stderr.read_to_string(&mut err)
    );
    a.unwrap();
    b.unwrap();
    let status = status.await.unwrap();
    process.join().await.unwrap();
    let code = ExitStatus::from_status(&status).code().unwrap_or(-1);
    (out, err, code)
}

#[tokio::test]
async fn a_deployment_gets_running_pods() {
    let plane = shared();
    let client = plane.client().await.unwrap();
    let ns = plane.namespace(&client, "deploy").await.unwrap();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"nodeName": plane.node_name, "containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    wait_for(
        "2 Running pods of deployment web",
        Duration::from_secs(60),
        async || {
            let list = pods
                .list(&ListParams::default().labels("app=web"))
                .await
                .ok()?;
            (list.items.iter().filter(|p| is_running(p)).count() == 2).then_some(())
        },
    )
    .await;
}

/// `validate --cluster` checks a VRG against the Recipe on the cluster of the current
/// kubeconfig, as the controller would: a valid one passes, a broken one is reported under the
/// Recipe, a missing one is an error.
#[tokio::test]
async fn validate_cluster_checks_a_vrg_against_the_clusters_recipe() {
    let plane = shared();
    let client = plane.client().await.unwrap();
    let vrg = path("tests/fixtures/ramen/vrg-recipe-ref.yaml");
    let validate = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vrg-operator"))
            .args(["validate", "--cluster", &vrg])
            .env("KUBECONFIG", &plane.kubeconfig)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    // The fixture's VRG lives in namespace busybox (this test binary's control plane is its own).
    let busybox = serde_json::from_value::<k8s_openapi::api::core::v1::Namespace>(
        json!({"metadata": {"name": "busybox"}}),
    )
    .unwrap();
    let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(&PostParams::default(), &busybox)
        .await;
    let (code, text) = validate();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("recipeRef: Recipe busybox/busybox-recipe not found"),
        "{text}"
    );

    let recipes: Api<vrg_operator::api::Recipe> = Api::namespaced(client.clone(), "busybox");
    let recipe = |sequence: &str| {
        serde_json::from_value::<vrg_operator::api::Recipe>(json!({
            "apiVersion": "ramendr.openshift.io/v1alpha1",
            "kind": "Recipe",
            "metadata": {"name": "busybox-recipe"},
            "spec": {
                "groups": [{"name": "rg1", "backupRef": "rg1", "type": "resource"}],
                "workflows": [{"name": "backup", "sequence": [{"group": sequence}]}],
            },
        }))
        .unwrap()
    };
    recipes
        .create(&PostParams::default(), &recipe("rg1"))
        .await
        .unwrap();
    let (code, text) = validate();
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("warning"), "{text}");

    let mut broken = recipe("rg2");
    broken.metadata.resource_version = recipes
        .get("busybox-recipe")
        .await
        .unwrap()
        .metadata
        .resource_version;
    recipes
        .replace("busybox-recipe", &PostParams::default(), &broken)
        .await
        .unwrap();
    let (code, text) = validate();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.starts_with("Recipe/busybox-recipe: spec.workflows[0].sequence[0]"),
        "{text}"
    );
}

/// The Recipe CRD keys its lists by `name`, as Ramen's does: the API server itself refuses two
/// groups, hooks, workflows, ops or checks of one name.
#[tokio::test]
async fn the_api_server_refuses_a_recipe_with_duplicate_names() {
    let plane = shared();
    let client = plane.client().await.unwrap();
    let ns = plane.namespace(&client, "list-maps").await.unwrap();
    let recipes: Api<vrg_operator::api::Recipe> = Api::namespaced(client.clone(), &ns);
    let recipe = |name: &str, spec: Value| {
        serde_json::from_value::<vrg_operator::api::Recipe>(json!({
            "apiVersion": "ramendr.openshift.io/v1alpha1",
            "kind": "Recipe",
            "metadata": {"name": name},
            "spec": spec,
        }))
        .unwrap()
    };
    let hook = |ops: Value| json!({"name": "h", "type": "exec", "ops": ops});
    let op = json!({"name": "o", "command": "/bin/true"});
    let backup = json!({"name": "backup", "sequence": [{"group": "g"}]});
    let cases = [
        (
            "groups",
            json!({"groups": [{"name": "g"}, {"name": "g"}], "workflows": [backup]}),
        ),
        (
            "hooks",
            json!({"hooks": [hook(json!([op])), hook(json!([op]))], "workflows": [backup]}),
        ),
        ("workflows", json!({"workflows": [backup, backup]})),
        (
            "ops",
            json!({"hooks": [hook(json!([op, op]))], "workflows": [backup]}),
        ),
    ];
    for (what, spec) in cases {
        let err = recipes
            .create(
                &PostParams::default(),
                &recipe(&format!("dup-{what}"), spec),
            )
            .await
            .expect_err(what);
        assert!(err.to_string().contains("Duplicate value"), "{what}: {err}");
    }
    recipes
        .create(
            &PostParams::default(),
            &recipe(
                "distinct",
                json!({"groups": [{"name": "g"}], "workflows": [backup]}),
            ),
        )
        .await
        .unwrap();
}

/// A string `labelSelector` in a Recipe object: the API server refuses it (our CRD types it as a
/// mapping, as Ramen's does), and `validate` says the same at the same path. The inline recipe
/// keeps its `"key=value"` form.
#[test]
fn validate_refuses_a_string_selector_in_a_recipe_as_the_api_server_does() {
    let plane = shared();
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("string-selector.yaml");
    std::fs::write(
        &file,
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata: {name: strings, namespace: default}
spec:
  groups: [{name: rg1, type: resource, labelSelector: app=db}]
  workflows: [{name: backup, sequence: [{group: rg1}]}]
",
    )
    .unwrap();
    let out = plane
        .kubectl()
        .args(["apply", "--dry-run=server", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    let server = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(
        server.contains("spec.groups[0].labelSelector")
            && server.contains("must be of type object: \"string\""),
        "{server}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vrg-operator"))
        .args(["validate", file.to_str().unwrap()])
        .output()
        .unwrap();
    let ours = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        ours.starts_with(
            "Recipe/strings: spec.groups[0].labelSelector: must be of type object: \"string\" \
             (a Recipe's selectors are mappings: {matchLabels: {app: db}}"
        ),
        "{ours}"
    );
}

/// Recipes without a spec apply as they do with Ramen's CRD: `spec: null` (kubectl drops it) and
/// no `spec` at all.
#[tokio::test]
async fn kubectl_applies_a_recipe_without_a_spec() {
    let plane = shared();
    let client = plane.client().await.unwrap();
    let ns = plane.namespace(&client, "spec-less").await.unwrap();
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("spec-less.yaml");
    std::fs::write(
        &file,
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata: {name: null-spec}
spec: null
---
apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata: {name: no-spec}
",
    )
    .unwrap();
    let out = plane
        .kubectl()
        .args(["apply", "-n", &ns, "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
