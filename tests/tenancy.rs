//! Tenancy (SPEC 8) as the controller enforces it: a VRG acts only in its own namespace, so one in
//! namespace A cannot back up, restore or exec into namespace B; a VRG in an admin namespace acts
//! in the namespaces its `protectedNamespaces` lists, and only those. Another cluster's capture
//! is played by the stand-in, which serves this test's own Velero namespace.

mod support;

use std::time::Duration;

use kube::api::{Api, ListParams};
use serde_json::json;
use support::env::{Env, condition, is, options};
use vrg_operator::api::velero::Restore;
use vrg_operator::controller;
use vrg_operator::recipe::Settings;
use vrg_testenv::shared;

const TIMEOUT: Duration = Duration::from_secs(40);

/// The file a hook of this test appends to, in kwok's work directory.
fn trace_name(ns: &str) -> String {
    format!("trace-{ns}")
}

fn trace(ns: &str) -> String {
    std::fs::read_to_string(shared().kwok_workdir.join(trace_name(ns))).unwrap_or_default()
}

/// A recipe that backs up, restores and execs into `target`.
fn recipe_into(target: &str, trace: &str) -> String {
    format!(
        "    recipe:
      groups: [{{name: data, includedNamespaces: [{target}]}}]
      hooks:
        - name: db
          type: exec
          namespace: {target}
          labelSelector: app=db
          ops: [{{name: mark, command: '[\"/bin/sh\", \"-c\", \"echo ran >> {trace}\"]'}}]
      workflows:
        - {{name: backup, sequence: [{{hook: db/mark}}, {{group: data}}]}}
        - {{name: restore, sequence: [{{group: data}}, {{hook: db/mark}}]}}
"
    )
}

fn vrg(name: &str, extra_spec: &str, kop: &str) -> String {
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: {name}}}
spec:
  replicationState: primary
  s3Profiles: [east]
{extra_spec}  kubeObjectProtection:
    captureInterval: 1h
{kop}"
    )
}

fn restores(env: &Env) -> Api<Restore> {
    Api::namespaced(env.client.clone(), &env.velero_ns)
}

#[tokio::test]
async fn a_vrg_cannot_back_up_restore_or_exec_into_another_namespace() {
    let env = Env::with_stand_in("tenant-a").await;
    let plane = shared();
    let other = plane.namespace(&env.client, "tenant-b").await.unwrap();
    env.running_pod(&other, "db-0", json!({"app": "db"})).await;
    let mark = trace_name(&other);

    // Capture and recovery (a failover with the other cluster's capture to restore), each with a
    // recipe reaching into the other namespace; one asks for it through protectedNamespaces.
    env.synced_backup("moved", 1, "data", "Completed").await;
    env.apply(&vrg("app", "", &recipe_into(&other, &mark)))
        .await;
    env.apply(&vrg(
        "moved",
        "  action: Failover\n",
        &recipe_into(&other, &mark),
    ))
    .await;
    env.apply(&vrg(
        "claims",
        &format!("  protectedNamespaces: [{other}]\n"),
        "",
    ))
    .await;
    for name in ["app", "moved", "claims"] {
        let vrg = env
            .wait(name, "RecipeReady=False", TIMEOUT, |v| {
                is(v, "RecipeReady", "False")
            })
            .await;
        let message = &condition(&vrg, "RecipeReady").unwrap().message;
        let expected: &[&str] = match name {
            "claims" => &["spec.protectedNamespaces: honoured only for VRGs in an admin namespace"],
            _ => &[
                &format!("group namespace \"{other}\" is not allowed"),
                &format!("hook namespace \"{other}\" is not allowed"),
                "a VRG may only act in its own namespace",
            ],
        };
        for text in expected {
            assert!(
                message.contains(text),
                "{name}: {text:?} not in {message:?}"
            );
        }
    }

    // Nothing was done anywhere: give the controller time to misbehave, then look.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let backups = env
        .backups()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(backups.len(), 1, "only the synced capture: {backups:?}");
    assert!(
        restores(&env)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(trace(&other), "", "no hook ran in {other}");
    for name in ["app", "moved"] {
        let vrg = env.vrgs().get(name).await.unwrap();
        assert!(!is(&vrg, "ClusterDataProtected", "True") && !is(&vrg, "KubeObjectsReady", "True"));
    }
}

#[tokio::test]
async fn an_admin_namespace_vrg_acts_in_its_protected_namespaces_only() {
    let mut env = Env::with_stand_in("tenant-admin").await;
    // This test's namespace is the admin namespace.
    env.restart_controller_with(controller::Options {
        settings: Settings {
            admin_namespaces: vec![env.ns.clone()],
            ..Settings::default()
        },
        ..options(&env.velero_ns, &env.ns)
    });
    let plane = shared();
    let app = plane.namespace(&env.client, "tenant-app").await.unwrap();
    let outside = plane
        .namespace(&env.client, "tenant-outside")
        .await
        .unwrap();
    env.running_pod(&app, "db-0", json!({"app": "db"})).await;
    env.running_pod(&outside, "db-0", json!({"app": "db"}))
        .await;
    let protects = format!("  protectedNamespaces: [{app}]\n");

    // Capture: the hook runs in the protected namespace and the Backup covers it.
    env.apply(&vrg(
        "app",
        &protects,
        &recipe_into(&app, &trace_name(&app)),
    ))
    .await;
    env.wait("app", "the capture", TIMEOUT, |v| {
        is(v, "ClusterDataProtected", "True")
    })
    .await;
    assert_eq!(trace(&app), "ran\n");
    let backups = env
        .backups()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0].spec.filter.included_namespaces, [app.as_str()]);

    // Recovery: the Restore covers the protected namespace, then the hook runs there again.
    env.synced_backup("moved", 1, "data", "Completed").await;
    env.apply(&vrg(
        "moved",
        &format!("{protects}  action: Failover\n"),
        &recipe_into(&app, &trace_name(&app)),
    ))
    .await;
    env.wait("moved", "the recovery", TIMEOUT, |v| {
        is(v, "KubeObjectsReady", "True")
    })
    .await;
    let list = restores(&env)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].spec.filter.included_namespaces, [app.as_str()]);
    assert!(trace(&app).starts_with("ran\nran\n"), "{:?}", trace(&app));

    // A namespace outside protectedNamespaces stays out of reach, even for an admin VRG.
    env.apply(&vrg(
        "reaches-out",
        &protects,
        &recipe_into(&outside, &trace_name(&outside)),
    ))
    .await;
    let vrg = env
        .wait("reaches-out", "RecipeReady=False", TIMEOUT, |v| {
            is(v, "RecipeReady", "False")
        })
        .await;
    let message = &condition(&vrg, "RecipeReady").unwrap().message;
    assert!(
        message.contains("it is not in the VRG's protectedNamespaces"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(trace(&outside), "");
}

/// A cluster-scoped custom resource type, which only discovery can tell is cluster-scoped.
async fn cluster_scoped_crd(client: &kube::Client) -> &'static str {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "clusterwidgets.tenancy.vrg.test"},
        "spec": {
            "group": "tenancy.vrg.test",
            "scope": "Cluster",
            "names": {"plural": "clusterwidgets", "singular": "clusterwidget", "kind": "ClusterWidget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
        },
    }))
    .unwrap();
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let params = kube::api::PatchParams::apply("tenancy-test").force();
    api.patch(
        "clusterwidgets.tenancy.vrg.test",
        &params,
        &kube::api::Patch::Apply(&crd),
    )
    .await
    .unwrap();
    let gv = kube::core::GroupVersion::gv("tenancy.vrg.test", "v1");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while kube::discovery::pinned_group(client, &gv).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the CRD was never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    "clusterwidgets"
}

#[tokio::test]
async fn a_tenant_vrg_cannot_capture_or_restore_cluster_scoped_objects() {
    let env = Env::start("tenant-cluster").await;
    let custom = cluster_scoped_crd(&env.client).await;
    let why = "only a VRG in an admin namespace (vrg-admin) may capture or restore cluster-scoped objects";
    let cases = [
        (
            "bindings",
            "",
            "    recipe:\n      groups: [{name: rbac, includedResourceTypes: [clusterrolebindings], isClusterScoped: true}]\n      workflows: [{name: backup, sequence: [{group: rbac}]}]\n".to_owned(),
            vec![
                format!("recipe.groups[0].isClusterScoped: cluster-scoped resources are not allowed: {why}"),
                "recipe.groups[0].includedResourceTypes[0]: \"clusterrolebindings\" (clusterrolebindings.rbac.authorization.k8s.io) is cluster-scoped".to_owned(),
            ],
        ),
        (
            "custom",
            "",
            format!("    recipe:\n      groups: [{{name: w, includedResourceTypes: [configmaps, {custom}]}}]\n      workflows: [{{name: backup, sequence: [{{group: w}}]}}]\n"),
            vec![format!(
                "recipe.groups[0].includedResourceTypes[1]: \"{custom}\" ({custom}.tenancy.vrg.test) is cluster-scoped: {why}"
            )],
        ),
        (
            "namespaces",
            "  action: Failover\n",
            "    captureOrder: [{name: all}]\n    recoverOrder: [{backupName: all, includedResources: [namespaces]}]\n".to_owned(),
            vec!["recoverOrder[0].includedResources[0]: \"namespaces\" (namespaces) is cluster-scoped".to_owned()],
        ),
    ];
    for (name, extra, kop, _) in &cases {
        env.apply(&vrg(name, extra, kop)).await;
    }
    env.apply(&vrg("plain", "", "")).await;
    for (name, _, _, expected) in &cases {
        let vrg = env
            .wait(name, "RecipeReady=False", TIMEOUT, |v| {
                is(v, "RecipeReady", "False")
            })
            .await;
        let message = &condition(&vrg, "RecipeReady").unwrap().message;
        for text in expected {
            assert!(
                message.contains(text.as_str()),
                "{name}: {text:?} not in {message:?}"
            );
        }
    }
    env.wait("plain", "the capture", TIMEOUT, |v| {
        is(v, "ClusterDataProtected", "True")
    })
    .await;
    // Only the plain VRG captured, and its Backups say they include no cluster-scoped objects
    // (Velero's own default for an unset value does not decide).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let backups = env.backups().list(&env.own()).await.unwrap().items;
    assert_eq!(backups.len(), 1, "{backups:?}");
    for b in &backups {
        assert_eq!(
            b.metadata.labels.as_ref().unwrap()["vrg.ramendr.openshift.io/vrg-name"],
            "plain"
        );
        assert_eq!(b.spec.filter.include_cluster_resources, Some(false));
    }
    assert!(
        restores(&env)
            .list(&env.own())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// A `recipeRef` into another tenant's namespace is refused before anything is read there: a
/// Recipe that exists (and has problems of its own) and one that does not give the same answer.
#[tokio::test]
async fn a_recipe_ref_into_another_namespace_learns_nothing_of_it() {
    let env = Env::start("tenant-peek").await;
    let other = shared()
        .namespace(&env.client, "tenant-private")
        .await
        .unwrap();
    let recipe: vrg_operator::api::Recipe = serde_saphyr::from_str(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata: {name: private}
spec:
  groups: [{name: secret-sauce}]
  workflows: [{name: backup, sequence: [{group: no-such-group}]}]
",
    )
    .unwrap();
    Api::<vrg_operator::api::Recipe>::namespaced(env.client.clone(), &other)
        .create(&Default::default(), &recipe)
        .await
        .unwrap();
    for (vrg_name, recipe_name) in [("peek-present", "private"), ("peek-absent", "nothing")] {
        let kop = format!("    recipeRef: {{name: {recipe_name}, namespace: {other}}}\n");
        env.apply(&vrg(vrg_name, "", &kop)).await;
    }
    let mut answers = vec![];
    for name in ["peek-present", "peek-absent"] {
        let vrg = env
            .wait(name, "RecipeReady=False", TIMEOUT, |v| {
                is(v, "RecipeReady", "False")
            })
            .await;
        answers.push(condition(&vrg, "RecipeReady").unwrap().message.clone());
    }
    assert_eq!(
        answers[0], answers[1],
        "an existing Recipe and a missing one look the same"
    );
    assert!(
        answers[0].contains("a VRG may only use a Recipe in its own namespace"),
        "{}",
        answers[0]
    );
    assert!(!answers[0].contains("no-such-group") && !answers[0].contains("not found"));
}

/// With `--exec-hooks admin` a tenant's exec hook is refused at validation and never runs, and
/// the minimum capture interval is the operator's.
#[tokio::test]
async fn the_operators_shared_cluster_settings_close_exec_hooks_to_tenants() {
    let mut env = Env::start("tenant-settings").await;
    let mut options = options(&env.velero_ns, &env.ns);
    options.settings.exec_hooks = vrg_operator::recipe::scope::Allowed::Admin;
    options.settings.min_capture_interval = Duration::from_secs(2 * 3600);
    env.restart_controller_with(options);
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let mark = trace_name(&env.ns);
    env.apply(&vrg("app", "", &recipe_into(&env.ns, &mark)))
        .await;
    let vrg = env
        .wait("app", "RecipeReady=False", TIMEOUT, |v| {
            is(v, "RecipeReady", "False")
        })
        .await;
    let message = &condition(&vrg, "RecipeReady").unwrap().message;
    for text in [
        "recipe.hooks[0].type: exec hooks are not allowed here",
        "(--exec-hooks=admin)",
        "captureInterval: 1h is shorter than the operator's minimum of 2h",
    ] {
        assert!(message.contains(text), "{text:?} not in {message:?}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(trace(&env.ns), "", "the exec hook never ran");
}

/// Ramen's built-in VM recipe, as Ramen selects it (`recipeRef: {name: vm-recipe}` into the admin
/// namespace) and fills it (its VM namespaces from `protectedNamespaces`): the real Velero server
/// captures the labelled objects of the protected namespace.
#[tokio::test]
async fn ramens_vm_recipe_captures_the_labelled_objects_of_the_protected_namespaces() {
    let mut env = Env::start("tenant-vm").await;
    env.restart_controller_with(controller::Options {
        settings: Settings {
            admin_namespaces: vec![env.ns.clone()],
            min_capture_interval: Duration::from_secs(1),
            ..Settings::default()
        },
        ..options(&env.velero_ns, &env.ns)
    });
    let vms = shared().namespace(&env.client, "tenant-vms").await.unwrap();
    let kop = format!(
        "    recipeRef: {{name: vm-recipe, namespace: {}}}
    recipeParameters:
      K8S_RESOURCE_SELECTOR: [vm-a]
      PVC_RESOURCE_SELECTOR: [vm-a-disks]
",
        env.ns
    );
    env.apply(&vrg(
        "vms",
        &format!("  protectedNamespaces: [{vms}]\n"),
        &kop,
    ))
    .await;
    let vrg = env
        .wait("vms", "the capture", TIMEOUT, |v| {
            is(v, "ClusterDataProtected", "True")
        })
        .await;
    let ready = condition(&vrg, "RecipeReady").unwrap();
    assert!(
        ready
            .message
            .starts_with("built-in recipe vm-recipe is valid; note: ")
            && ready.message.contains("spec.volumes: selects PVCs"),
        "{}",
        ready.message
    );
    let backups = env.backups().list(&env.own()).await.unwrap().items;
    assert!(!backups.is_empty());
    for backup in &backups {
        let filter = &backup.spec.filter;
        assert_eq!(filter.included_namespaces, [vms.as_str()]);
        assert_eq!(filter.include_cluster_resources, Some(true));
        let expression = &filter
            .label_selector
            .as_ref()
            .and_then(|s| s.match_expressions.clone())
            .unwrap()[0];
        assert_eq!(
            (expression.key.as_str(), expression.values.clone()),
            (
                "ramendr.openshift.io/k8s-resource-selector",
                Some(vec!["vm-a".to_owned()])
            )
        );
        assert_eq!(
            backup.status.as_ref().and_then(|s| s.phase.clone()),
            Some(vrg_operator::api::velero::BackupPhase::Completed),
            "the real Velero server took it"
        );
    }
}
