//! The admission webhook against the real API server: `kubectl apply` of the seed's samples as
//! written is refused with the lines `vrg-operator validate` prints, every example applies, notes
//! come back as warnings kubectl prints, and the operator's own metadata patches of a VRG that
//! has become invalid are never blocked; a Recipe edit is refused when it would make a VRG that
//! uses it invalid, naming the VRG. The webhook is served in-process over HTTPS, with a
//! certificate of this test's CA, and registered for this test's namespace only.

mod support;

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use kube::api::{Api, Patch, PatchParams, PostParams};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use serde_json::json;
use support::net::free_port;
use vrg_operator::api::VolumeReplicationGroup;
use vrg_operator::recipe::Settings;
use vrg_operator::webhook::{RECIPE_PATH, VRG_PATH, serve};
use vrg_testenv::shared;

fn path(relative: &str) -> String {
    format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"))
}

/// A CA and a serving certificate for 127.0.0.1 in `dir` (`tls.crt`, `tls.key`); the CA's PEM.
fn certificates(dir: &std::path::Path) -> String {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    ca.pem()
}

/// The webhook, registered for namespace `ns` alone (other tests share the API server).
fn registration(ns: &str, port: u16, ca: &str) -> ValidatingWebhookConfiguration {
    let bundle = base64::engine::general_purpose::STANDARD.encode(ca);
    let hook = |name: &str, plural: &str, path: &str| {
        json!({
            "name": format!("{name}.{ns}.vrg-operator.test"),
            "clientConfig": {"url": format!("https://127.0.0.1:{port}{path}"), "caBundle": bundle},
            "rules": [{"apiGroups": ["ramendr.openshift.io"], "apiVersions": ["v1alpha1"], "operations": ["CREATE", "UPDATE"], "resources": [plural]}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 5,
        })
    };
    serde_json::from_value(json!({
        "metadata": {"name": format!("vrg-operator-test-{ns}")},
        "webhooks": [
            hook("vrgs", "volumereplicationgroups", VRG_PATH),
            hook("recipes", "recipes", RECIPE_PATH),
        ],
    }))
    .unwrap()
}

fn kubectl(args: &[&str]) -> Output {
    shared().kubectl().args(args).output().unwrap()
}

fn validate(ns: &str, file: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_vrg-operator"))
        .args(["validate", "-n", ns, file])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !l.starts_with("valid:") && !l.starts_with("note:") && !l.starts_with("warning:")
        })
        .map(str::to_owned)
        .collect()
}

struct Webhook {
    ns: String,
    client: kube::Client,
    dir: std::path::PathBuf,
    port: u16,
    ca: String,
    _cleanup: tempdir::Dir,
}

mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The webhook serving and registered for a namespace of this test, refusing already.
async fn webhook(prefix: &str) -> Webhook {
    let plane = shared();
    let client = plane.client().await.unwrap();
    let ns = plane.namespace(&client, prefix).await.unwrap();
    let dir = plane.dir.join(format!("webhook-{ns}"));
    let ca = certificates(&dir);
    let port = free_port();
    let options = serve::Options {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        certificates: serve::Certificates::Files(dir.clone()),
    };
    let serving = client.clone();
    tokio::spawn(async move {
        serve::serve(serving, Settings::default(), options)
            .await
            .unwrap()
    });
    let hook = Webhook {
        ns,
        client,
        dir: dir.clone(),
        port,
        ca,
        _cleanup: tempdir::Dir(dir),
    };
    hook.register().await;
    hook
}

impl Webhook {
    /// Registers the webhook for this test's namespace and waits until the API server calls it.
    async fn register(&self) {
        let (ns, dir) = (&self.ns, &self.dir);
        Api::<ValidatingWebhookConfiguration>::all(self.client.clone())
            .create(
                &PostParams::default(),
                &registration(ns, self.port, &self.ca),
            )
            .await
            .unwrap();
        // The API server picks up a new registration within a moment: until a bad VRG is refused.
        let bad = format!(
            "apiVersion: ramendr.openshift.io/v1alpha1\nkind: VolumeReplicationGroup\nmetadata: {{name: probe, namespace: {ns}}}\nspec: {{replicationState: primary, s3Profiles: [east], kubeObjectProtection: {{captureInterval: 10s}}}}\n"
        );
        let probe = dir.join("probe.yaml");
        std::fs::write(&probe, bad).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let out = kubectl(&["apply", "--dry-run=server", "-f", probe.to_str().unwrap()]);
            if String::from_utf8_lossy(&out.stderr).contains("denied the request") {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the webhook never refused: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Removes the registration and waits until the API server no longer calls the webhook:
    /// what objects written before the webhook was installed went through.
    async fn unregister(&self) {
        Api::<ValidatingWebhookConfiguration>::all(self.client.clone())
            .delete(
                &format!("vrg-operator-test-{}", self.ns),
                &Default::default(),
            )
            .await
            .unwrap();
        let probe = self.dir.join("probe.yaml");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let out = kubectl(&["apply", "--dry-run=server", "-f", probe.to_str().unwrap()]);
            if out.status.success() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the webhook is still called"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_samples_are_refused_at_apply_with_validates_lines() {
    let hook = webhook("admit-seed").await;
    let mut seeds: Vec<String> = std::fs::read_dir(path("tests/fixtures/seed"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 4, "{seeds:?}");
    let mut denied = 0;
    for seed in seeds {
        let expected = validate(&hook.ns, &seed);
        assert!(
            !expected.is_empty(),
            "{seed}: the sample as written is invalid"
        );
        let out = kubectl(&["apply", "-n", &hook.ns, "-f", &seed]);
        let said = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{seed}: applied");
        if expected.iter().any(|l| l.contains("while parsing")) {
            // Not YAML: kubectl refuses it itself, with the parser's words validate prints.
            assert!(said.contains("did not find expected key"), "{seed}: {said}");
            continue;
        }
        // kubectl refuses a document without apiVersion before any server sees it; with it,
        // the CRD's schema refuses a missing replicationState before admission. Both are lines
        // validate prints too; fixed as a user would, the webhook says every other line.
        assert!(said.contains("apiVersion not set"), "{seed}: {said}");
        let (first, rest): (Vec<&String>, Vec<&String>) = expected.iter().partition(|l| {
            l.contains(": apiVersion: missing") || l.contains("\"replicationState\"")
        });
        assert_eq!(first.len(), 2, "{seed}: {expected:#?}");
        let fixed = hook.dir.join("seed.yaml");
        let text = std::fs::read_to_string(&seed)
            .unwrap()
            .lines()
            .map(|l| match l.trim_end() {
                "spec:" => "spec:\n  replicationState: primary".to_owned(),
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(
            &fixed,
            format!("apiVersion: ramendr.openshift.io/v1alpha1\n{text}"),
        )
        .unwrap();
        let out = kubectl(&["apply", "-n", &hook.ns, "-f", fixed.to_str().unwrap()]);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{seed}: applied once fixed");
        assert!(said.contains("denied the request"), "{seed}: {said}");
        for line in rest {
            assert!(
                said.contains(line.as_str()),
                "{seed}: kubectl does not say {line:?}:\n{said}"
            );
        }
        denied += 1;
    }
    assert!(denied >= 3, "the webhook refused {denied} samples");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_applies_and_notes_are_warnings() {
    let hook = webhook("admit-examples").await;
    let mut examples: Vec<String> = std::fs::read_dir(path("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.display().to_string())
        .collect();
    examples.sort();
    for example in examples {
        let out = kubectl(&["apply", "-n", &hook.ns, "-f", &example]);
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A volume group is accepted and not acted on: said as a warning.
    let recipe = std::env::temp_dir().join(format!("{}-volume.yaml", hook.ns));
    std::fs::write(
        &recipe,
        "apiVersion: ramendr.openshift.io/v1alpha1\nkind: Recipe\nmetadata: {name: vols}\nspec:\n  groups: [{name: data, type: resource}, {name: pvcs, type: volume}]\n  workflows: [{name: backup, sequence: [{group: data}, {group: pvcs}]}]\n",
    )
    .unwrap();
    let out = kubectl(&["apply", "-n", &hook.ns, "-f", recipe.to_str().unwrap()]);
    let _ = std::fs::remove_file(&recipe);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Warning: note: Recipe/vols: "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A VRG whose Recipe does not exist yet applies (with a warning: GitOps applies in any order);
/// once the Recipe exists, a VRG edit it makes invalid is refused; the operator's metadata
/// patches of that VRG (finalizers, annotations) and its status are never blocked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vrg_is_checked_against_its_recipe_and_metadata_patches_pass() {
    let hook = webhook("admit-ref").await;
    let vrg = |interval: &str| {
        json!({
            "apiVersion": "ramendr.openshift.io/v1alpha1", "kind": "VolumeReplicationGroup",
            "metadata": {"name": "app", "namespace": hook.ns},
            "spec": {"replicationState": "primary", "s3Profiles": ["east"],
                     "kubeObjectProtection": {"captureInterval": interval, "recipeRef": {"name": "r"}}},
        })
    };
    let file = std::env::temp_dir().join(format!("{}-vrg.yaml", hook.ns));
    std::fs::write(&file, serde_json::to_string(&vrg("5m")).unwrap()).unwrap();
    let out = kubectl(&["apply", "-f", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist yet, so it was not checked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recipe = std::env::temp_dir().join(format!("{}-recipe.yaml", hook.ns));
    let write_recipe = |namespaces: &str| {
        std::fs::write(
            &recipe,
            format!("apiVersion: ramendr.openshift.io/v1alpha1\nkind: Recipe\nmetadata: {{name: r, namespace: {}}}\nspec:\n  groups: [{{name: data{namespaces}}}]\n  workflows: [{{name: backup, sequence: [{{group: data}}]}}]\n", hook.ns),
        )
        .unwrap();
        kubectl(&["apply", "-f", recipe.to_str().unwrap()])
    };
    let out = write_recipe("");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A capture interval under the operator's minimum is refused, with validate's line.
    std::fs::write(&file, serde_json::to_string(&vrg("10s")).unwrap()).unwrap();
    let out = kubectl(&["apply", "-f", file.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "applied a 10s interval");
    let expected = validate(&hook.ns, file.to_str().unwrap());
    assert!(!expected.is_empty());
    for line in &expected {
        assert!(said.contains(line.as_str()), "no {line:?} in:\n{said}");
    }
    // A Recipe valid on its own that takes the VRG into another namespace would make the VRG
    // invalid: refused, naming it.
    let out = write_recipe(", includedNamespaces: [kube-system]");
    assert!(
        !out.status.success(),
        "a Recipe edit that breaks its VRG applied"
    );
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        said.contains(&format!(
            "VolumeReplicationGroup {}/app would become invalid:",
            hook.ns
        )),
        "{said}"
    );
    // Written before the webhook was installed, it makes the VRG invalid; the VRG's spec edits
    // are refused from then on...
    hook.unregister().await;
    let out = write_recipe(", includedNamespaces: [kube-system]");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    hook.register().await;
    std::fs::write(&file, serde_json::to_string(&vrg("6m")).unwrap()).unwrap();
    let out = kubectl(&["apply", "-f", file.to_str().unwrap()]);
    assert!(
        !out.status.success(),
        "a VRG its Recipe makes invalid was edited"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("kube-system"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ...but the operator's metadata patches and status writes always pass.
    let vrgs = Api::<VolumeReplicationGroup>::namespaced(hook.client.clone(), &hook.ns);
    for patch in [
        json!({"metadata": {"finalizers": ["vrg.ramendr.openshift.io/test"], "annotations": {"a": "b"}}}),
        json!({"metadata": {"finalizers": null}}),
    ] {
        vrgs.patch("app", &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
    }
    vrgs.patch_status(
        "app",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"observedGeneration": 1}})),
    )
    .await
    .unwrap();
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&recipe);
}

/// A Recipe edit is checked against the VRGs that use it: one that would make a VRG invalid is
/// refused, naming the VRG with the lines `validate` prints for it; one that keeps it valid
/// applies; a Recipe no VRG uses is checked on its own. What kubectl says is printed, as the user
/// guide shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipe_edit_is_checked_against_the_vrgs_that_use_it() {
    let hook = webhook("admit-recipe-edit").await;
    let ns = &hook.ns;
    let apply = |name: &str, text: String| {
        let file = hook.dir.join(name);
        std::fs::write(&file, text).unwrap();
        let out = kubectl(&["apply", "-f", file.to_str().unwrap()]);
        let said = String::from_utf8_lossy(&out.stderr).to_string();
        eprintln!(
            "$ kubectl apply -f {name}\n{}{said}",
            String::from_utf8_lossy(&out.stdout)
        );
        (out.status.success(), said, file)
    };
    let recipe = |name: &str, selector: &str| {
        format!(
            "apiVersion: ramendr.openshift.io/v1alpha1\nkind: Recipe\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  groups:\n  - name: data\n    includedResourceTypes: [configmaps]{selector}\n  workflows:\n  - name: backup\n    sequence:\n    - group: data\n"
        )
    };
    let (ok, said, _) = apply("recipe.yaml", recipe("shop", ""));
    assert!(ok, "{said}");
    let vrg = format!(
        "apiVersion: ramendr.openshift.io/v1alpha1\nkind: VolumeReplicationGroup\nmetadata:\n  name: shop\n  namespace: {ns}\nspec:\n  replicationState: primary\n  s3Profiles: [default]\n  kubeObjectProtection:\n    recipeRef:\n      name: shop\n    recipeParameters:\n      TIER: [web]\n"
    );
    let (ok, said, vrg_file) = apply("vrg.yaml", vrg);
    assert!(ok, "{said}");

    // A parameter the VRG does not supply: refused, naming the VRG, with validate's lines.
    let breaking = "\n    labelSelector:\n      matchLabels:\n        app: ${APP}";
    let (ok, said, recipe_file) = apply("recipe.yaml", recipe("shop", breaking));
    assert!(!ok, "applied a Recipe edit that breaks VRG shop");
    assert!(said.contains("denied the request"), "{said}");
    assert!(
        said.contains(&format!(
            "VolumeReplicationGroup {ns}/shop would become invalid:"
        )),
        "{said}"
    );
    let expected = validate_both(ns, &vrg_file, &recipe_file);
    assert!(!expected.is_empty());
    for line in &expected {
        assert!(said.contains(line.as_str()), "no {line:?} in:\n{said}");
    }
    // An edit that keeps the VRG valid (a parameter it supplies) applies.
    let (ok, said, _) = apply(
        "recipe.yaml",
        recipe(
            "shop",
            "\n    labelSelector:\n      matchLabels:\n        tier: ${TIER}",
        ),
    );
    assert!(ok, "{said}");
    // A Recipe no VRG uses is checked on its own: its parameters are assumed supplied...
    let (ok, said, _) = apply("unused.yaml", recipe("unused", breaking));
    assert!(ok, "{said}");
    // ...and its own problems are refused with validate's lines, no VRG named.
    let (ok, said, file) = apply(
        "orders.yaml",
        recipe("orders", "").replace("- group: data", "- group: dta"),
    );
    assert!(!ok, "applied a Recipe with a typo");
    let expected = validate(ns, file.to_str().unwrap());
    assert!(!expected.is_empty());
    for line in &expected {
        assert!(said.contains(line.as_str()), "no {line:?} in:\n{said}");
    }
    assert!(!said.contains("VolumeReplicationGroup"), "{said}");
    // A misspelt field name is refused by the API server itself (the CRD's schema), before
    // the webhook is called.
    let (ok, said, _) = apply(
        "orders.yaml",
        recipe("orders", "\n    includedResoures: [secrets]"),
    );
    assert!(!ok, "applied an unknown field");
    assert!(
        said.contains("strict decoding error: unknown field \"spec.groups[0].includedResoures\""),
        "{said}"
    );
    // A VRG with a typo in a parameter's name: refused with validate's lines.
    let typo = format!(
        "apiVersion: ramendr.openshift.io/v1alpha1\nkind: VolumeReplicationGroup\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n  replicationState: primary\n  s3Profiles: [default]\n  kubeObjectProtection:\n    recipeRef:\n      name: shop\n    recipeParameters:\n      TEIR: [web]\n"
    );
    let (ok, said, file) = apply("web.yaml", typo);
    assert!(!ok, "applied a VRG with a typo");
    let kept = hook.dir.join("kept.yaml");
    std::fs::write(
        &kept,
        recipe(
            "shop",
            "\n    labelSelector:\n      matchLabels:\n        tier: ${TIER}",
        ),
    )
    .unwrap();
    let expected = validate_both(ns, &file, &kept);
    assert!(!expected.is_empty());
    for line in expected {
        assert!(said.contains(line.as_str()), "no {line:?} in:\n{said}");
    }
}

/// The lines `validate` prints for a VRG and its Recipe given together.
fn validate_both(ns: &str, vrg: &std::path::Path, recipe: &std::path::Path) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_vrg-operator"))
        .args(["validate", "-n", ns])
        .arg(vrg)
        .arg(recipe)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !l.starts_with("valid:") && !l.starts_with("note:") && !l.starts_with("warning:")
        })
        .map(str::to_owned)
        .collect()
}
