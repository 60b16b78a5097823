//! The controller against a real API server and the real Velero server and bucket: first and
//! periodic captures, capture-now, rotation, invalid recipes, Recipe updates, hook steps and
//! deletion. Failures the real server cannot produce on demand (a Backup that fails or hangs, a
//! deletion Velero refuses, another cluster's capture) are injected with the stand-in.

mod support;

use std::time::{Duration, Instant};

use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use support::env::{Env, condition, is, recovered_capture, run_ended};
use vrg_operator::controller::{self, CAPTURE_NOW};
use vrg_operator::recipe::Settings;
use vrg_testenv::shared;

fn vrg(name: &str, interval: &str, extra: &str) -> String {
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: {name}}}
spec:
  replicationState: primary
  s3Profiles: [east, west]
  kubeObjectProtection:
    captureInterval: {interval}
{extra}"
    )
}

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn first_capture_then_periodic_captures_rotate_old_ones() {
    let env = Env::start("periodic").await;
    env.apply(&vrg(
        "app",
        "3s",
        "    kubeObjectSelector: {matchLabels: {app: web}}\n",
    ))
    .await;
    let vrg = env
        .wait("app", "the first capture", TIMEOUT, |v| {
            is(v, "ClusterDataProtected", "True")
        })
        .await;
    assert_eq!(recovered_capture(&vrg), Some(1));
    assert!(is(&vrg, "RecipeReady", "True"));
    let backups = env.backups().list(&env.own()).await.unwrap().items;
    assert_eq!(backups.len(), 2, "one Backup per group per s3 profile");
    let first: Vec<String> = backups
        .iter()
        .filter_map(|b| b.metadata.name.clone())
        .collect();
    for b in &backups {
        assert_eq!(
            b.spec.filter.included_namespaces,
            std::slice::from_ref(&env.ns),
            "never all namespaces"
        );
        assert!(matches!(
            b.spec.storage_location.as_deref(),
            Some("east" | "west")
        ));
        assert_eq!(
            b.spec
                .filter
                .label_selector
                .as_ref()
                .unwrap()
                .match_labels
                .as_ref()
                .unwrap()["app"],
            "web"
        );
    }
    let vrg = env
        .wait("app", "a second, periodic capture", TIMEOUT, |v| {
            recovered_capture(v) >= Some(2)
        })
        .await;
    let start = vrg
        .status
        .as_ref()
        .unwrap()
        .kube_object_protection
        .as_ref()
        .unwrap()
        .capture_to_recover_from
        .as_ref()
        .unwrap()
        .start_time
        .clone();
    assert!(start.is_some());
    // Capture 1 is deleted through DeleteBackupRequests once capture 2 completed.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let numbers = env.backup_captures().await;
        if !numbers.contains(&"1".to_owned()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "capture 1 was never deleted: {numbers:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Velero deleted its data from the bucket too, and the capture to recover from is there.
    let bucket = &env.real().store;
    for name in &first {
        let deadline = Instant::now() + TIMEOUT;
        while !bucket.keys(&format!("backups/{name}/")).is_empty() {
            assert!(Instant::now() < deadline, "{name} is still in the bucket");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    env.apply(&self::vrg(
        "app",
        "1h",
        "    kubeObjectSelector: {matchLabels: {app: web}}\n",
    ))
    .await;
    let vrg = env
        .wait("app", "the last capture to end", TIMEOUT, |v| {
            is(v, "ClusterDataProtected", "True") && run_ended(v)
        })
        .await;
    let newest = recovered_capture(&vrg).unwrap().to_string();
    let kept = env
        .backups()
        .list(&env.own_and(&format!("vrg.ramendr.openshift.io/capture={newest}")))
        .await
        .unwrap()
        .items;
    assert_eq!(kept.len(), 2, "capture {newest} is kept");
    for b in kept {
        let name = b.metadata.name.unwrap();
        assert!(
            bucket.keys(&format!("backups/{name}/")).len() > 1,
            "capture {newest} is in the bucket: {name}"
        );
    }
}

#[tokio::test]
async fn capture_now_starts_a_capture_at_once_and_is_consumed() {
    let env = Env::start("capture-now").await;
    env.apply(&vrg("app", "1h", "")).await;
    env.wait("app", "the first capture", TIMEOUT, |v| {
        recovered_capture(v) == Some(1)
    })
    .await;
    let patch = json!({"metadata": {"annotations": {CAPTURE_NOW: "please"}}});
    env.vrgs()
        .patch("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let vrg = env
        .wait("app", "capture 2 on request", TIMEOUT, |v| {
            recovered_capture(v) == Some(2)
        })
        .await;
    assert!(
        !vrg.metadata
            .annotations
            .unwrap_or_default()
            .contains_key(CAPTURE_NOW),
        "the request is consumed"
    );
}

#[tokio::test]
async fn kubectl_wait_for_cluster_data_protected_works() {
    let env = Env::start("kubectl-wait").await;
    env.apply(&vrg("app", "1h", "")).await;
    let mut kubectl = shared().kubectl();
    kubectl.args([
        "wait",
        "--for=condition=ClusterDataProtected",
        "vrg/app",
        "-n",
        &env.ns,
        "--timeout=30s",
    ]);
    // kubectl blocks; the controller runs on this test's runtime meanwhile.
    let out = tokio::task::spawn_blocking(move || kubectl.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn an_invalid_recipe_reports_what_validate_reports_and_starts_nothing() {
    let env = Env::start("invalid").await;
    let manifest = vrg(
        "app",
        "1h",
        "    recipe:\n      groups: [{name: g, includedResoures: [pods]}]\n      workflows: [{name: backup, sequence: [{group_: g}]}]\n",
    );
    env.apply(&manifest).await;
    let vrg = env
        .wait("app", "RecipeReady=False", TIMEOUT, |v| {
            is(v, "RecipeReady", "False")
        })
        .await;
    let c = condition(&vrg, "RecipeReady").unwrap();
    assert_eq!(c.reason, "RecipeInvalid");
    let doc: Value = serde_saphyr::from_str(&manifest).unwrap();
    let expected = match vrg_operator::recipe::load_vrg(
        &doc,
        &env.ns,
        &std::collections::BTreeMap::<(String, String), Value>::new(),
        &Settings {
            admin_namespaces: vec!["vrg-admin".into()],
            ..Settings::default()
        },
    ) {
        Err(problems) => problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        Ok(_) => panic!("the manifest is invalid"),
    };
    assert_eq!(
        c.message, expected,
        "the same errors as `vrg-operator validate`"
    );
    assert!(c.message.contains("unknown field \"includedResoures\""));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        env.backups()
            .list(&env.own())
            .await
            .unwrap()
            .items
            .is_empty(),
        "an invalid recipe never starts a workflow"
    );
}

#[tokio::test]
async fn a_recipe_created_later_re_queues_the_vrg_that_references_it() {
    let env = Env::start("recipe-ref").await;
    env.apply(&vrg("app", "1h", "    recipeRef: {name: later}\n"))
        .await;
    let vrg = env
        .wait("app", "RecipeReady=False", TIMEOUT, |v| {
            is(v, "RecipeReady", "False")
        })
        .await;
    assert!(
        condition(&vrg, "RecipeReady")
            .unwrap()
            .message
            .contains("Recipe")
            && condition(&vrg, "RecipeReady")
                .unwrap()
                .message
                .contains("not found")
    );
    let recipe = "apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata: {name: later}
spec:
  appType: demo
  groups: [{name: config, type: resource, includedResourceTypes: [configmaps]}]
  workflows: [{name: backup, sequence: [{group: config}]}]
";
    env.apply(recipe).await;
    env.wait(
        "app",
        "the capture after the Recipe appeared",
        TIMEOUT,
        |v| is(v, "ClusterDataProtected", "True"),
    )
    .await;
}

#[tokio::test]
async fn a_failed_backup_fails_the_capture_with_veleros_reason() {
    let env = Env::with_stand_in("failing").await;
    env.driver()
        .behaviour
        .lock()
        .unwrap()
        .failing_groups
        .insert("broken".into());
    let recipe = "    recipe:\n      groups: [{name: broken}]\n      workflows: [{name: backup, sequence: [{group: broken}]}]\n";
    env.apply(&vrg("app", "1h", recipe)).await;
    let vrg = env
        .wait("app", "ClusterDataProtected=False", TIMEOUT, |v| {
            condition(v, "ClusterDataProtected")
                .is_some_and(|c| c.reason == "KubeObjectsCaptureError")
        })
        .await;
    let c = condition(&vrg, "ClusterDataProtected").unwrap();
    assert!(
        c.message.contains("PartiallyFailed") && c.message.contains("2 errors"),
        "{}",
        c.message
    );
    let run = vrg
        .status
        .unwrap()
        .kube_object_protection
        .unwrap()
        .run
        .unwrap();
    assert_eq!(run.steps[0].objects.len(), 2);
}

#[tokio::test]
async fn a_hook_without_pods_fails_and_stops_the_capture() {
    let env = Env::start("hooks").await;
    let recipe = "    recipe:
      groups: [{name: g}]
      hooks: [{name: h, type: exec, labelSelector: app=db, ops: [{name: o, command: /bin/true}]}]
      workflows: [{name: backup, sequence: [{hook: h}, {group: g}]}]
";
    env.apply(&vrg("app", "1h", recipe)).await;
    let vrg = env
        .wait("app", "the capture to fail", TIMEOUT, |v| {
            condition(v, "ClusterDataProtected")
                .is_some_and(|c| c.reason == "KubeObjectsCaptureError")
        })
        .await;
    let run = vrg
        .status
        .unwrap()
        .kube_object_protection
        .unwrap()
        .run
        .unwrap();
    assert!(
        run.steps[0]
            .message
            .as_deref()
            .unwrap()
            .starts_with("no Running pod in namespace"),
        "{:?}",
        run.steps[0].message
    );
    let vrg = env.vrgs().get("app").await.unwrap();
    assert_eq!(
        condition(&vrg, "HooksReady").map(|c| c.reason.as_str()),
        Some("HookFailed")
    );
    assert!(
        env.backups()
            .list(&env.own())
            .await
            .unwrap()
            .items
            .is_empty(),
        "the group after a failed hook never ran"
    );
}

#[tokio::test]
async fn deleting_a_vrg_deletes_its_captures_when_the_operator_is_told_to() {
    let env = Env::with_stand_in_and("delete", controller::OnDelete::DeleteOwnCaptures).await;
    env.apply(&vrg("app", "1h", "")).await;
    env.wait("app", "the first capture", TIMEOUT, |v| {
        recovered_capture(v) == Some(1)
    })
    .await;
    // An older capture another cluster wrote, synced here: never this cluster's to delete.
    let peers = env
        .synced_backup_in("app", 1, "objects", "Completed", 0)
        .await;
    assert_eq!(env.backups().list(&env.own()).await.unwrap().items.len(), 3);
    env.vrgs()
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let names: Vec<String> = env
            .backups()
            .list(&env.own())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|b| b.metadata.name)
            .collect();
        if env.vrgs().get_opt("app").await.unwrap().is_none() && names == [peers.clone()] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the VRG or its own Backups were not removed, or the peer's was: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_operator_restart_resumes_the_run_without_repeating_a_step() {
    let mut env = Env::with_stand_in("restart").await;
    env.driver().behaviour.lock().unwrap().hold = true;
    let recipe = "    recipe:\n      groups: [{name: first}, {name: second}]\n      workflows: [{name: backup, sequence: [{group: first}, {group: second}]}]\n";
    env.apply(&vrg("app", "1h", recipe)).await;
    env.wait_step("app", "group first", TIMEOUT).await;
    env.restart_controller();
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.driver().behaviour.lock().unwrap().hold = false;
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| {
            is(v, "ClusterDataProtected", "True")
        })
        .await;
    let run = vrg
        .status
        .unwrap()
        .kube_object_protection
        .unwrap()
        .run
        .unwrap();
    assert!(
        run.steps.iter().all(|s| s.attempt == 1),
        "no step ran twice: {:?}",
        run.steps
    );
    assert_eq!(
        env.backups().list(&env.own()).await.unwrap().items.len(),
        4,
        "2 groups x 2 profiles, nothing duplicated"
    );
}

#[tokio::test]
async fn a_backup_failed_by_a_velero_restart_is_retried_under_a_new_name() {
    let env = Env::with_stand_in("velero-restart").await;
    env.driver()
        .behaviour
        .lock()
        .unwrap()
        .server_restart_groups
        .insert("objects".into());
    env.apply(&vrg("app", "1h", "")).await;
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| {
            is(v, "ClusterDataProtected", "True")
        })
        .await;
    let run = vrg
        .status
        .unwrap()
        .kube_object_protection
        .unwrap()
        .run
        .unwrap();
    assert_eq!(run.steps[0].attempt, 2);
    assert!(
        run.steps[0]
            .message
            .as_deref()
            .unwrap()
            .contains("retrying under new names"),
        "{:?}",
        run.steps[0].message
    );
    assert!(
        run.steps[0].objects.iter().all(|o| o.contains("-r1-")),
        "{:?}",
        run.steps[0].objects
    );
}

#[tokio::test]
async fn each_run_tells_its_story_in_two_events() {
    let env = Env::start("events").await;
    let recipe = "    recipe:\n      groups: [{name: first}, {name: second}]\n      workflows: [{name: backup, sequence: [{group: first}, {group: second}]}]\n";
    env.apply(&vrg("app", "1h", recipe)).await;
    env.wait("app", "capture 1", TIMEOUT, |v| {
        recovered_capture(v) == Some(1)
    })
    .await;
    env.capture_now("app").await;
    env.wait("app", "capture 2", TIMEOUT, |v| {
        recovered_capture(v) == Some(2)
    })
    .await;
    // Each capture is one Event at its start and one at its end that names every step, each with
    // its own note (not folded into one series that shows only the first capture's); group steps
    // that succeed are no Events of their own (issue 17: at most 3 API writes per group step).
    let mut expected = vec![];
    for capture in [1, 2] {
        expected.push(format!("CaptureStarted: capture {capture} started"));
        expected.push(format!("WorkflowFinished: backup-{capture} Succeeded in "));
        expected.push(format!(
            "WorkflowFinished: backup-{capture} Succeeded in #; steps: group first Succeeded #; group second Succeeded #"
        ));
    }
    let events =
        kube::Api::<k8s_openapi::api::events::v1::Event>::namespaced(env.client.clone(), &env.ns);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let seen: Vec<String> = events
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default()
                )
            })
            .collect();
        let missing: Vec<&String> = expected
            .iter()
            .filter(|x| !seen.iter().any(|s| matches_shape(s, x)))
            .collect();
        if missing.is_empty() {
            let per_step: Vec<&String> = seen.iter().filter(|s| s.starts_with("Step")).collect();
            assert!(per_step.is_empty(), "no Event per group step: {per_step:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "missing {missing:?}; events: {seen:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `seen` starts with `shape`, where each `#` in `shape` stands for one duration (`1.25s`).
fn matches_shape(seen: &str, shape: &str) -> bool {
    let mut rest = seen;
    for (i, part) in shape.split('#').enumerate() {
        if i > 0 {
            let end = rest.find('s').map_or(0, |n| n + 1);
            let number = &rest[..end.saturating_sub(1)];
            if end == 0 || number.is_empty() || number.parse::<f64>().is_err() {
                return false;
            }
            rest = &rest[end..];
        }
        match rest.strip_prefix(part) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    true
}

#[tokio::test]
async fn a_failed_capture_never_replaces_the_last_complete_one() {
    let env = Env::with_stand_in("keep-last").await;
    env.apply(&vrg("app", "1h", "")).await;
    env.wait("app", "capture 1", TIMEOUT, |v| {
        recovered_capture(v) == Some(1)
    })
    .await;
    env.driver()
        .behaviour
        .lock()
        .unwrap()
        .failing_groups
        .insert("objects".into());
    env.capture_now("app").await;
    let vrg = env
        .wait("app", "capture 2 to fail", TIMEOUT, |v| {
            condition(v, "ClusterDataProtected")
                .is_some_and(|c| c.reason == "KubeObjectsCaptureError")
        })
        .await;
    assert_eq!(
        recovered_capture(&vrg),
        Some(1),
        "the last complete capture stays the one to recover from"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let captures = env.backup_captures().await;
    assert_eq!(
        captures.iter().filter(|c| *c == "1").count(),
        2,
        "capture 1 is kept: {captures:?}"
    );
}

#[tokio::test]
async fn a_capture_a_failover_could_not_restore_never_replaces_one_it_could() {
    let env = Env::with_stand_in("unrestorable").await;
    // `optional` may fail without failing the capture, but the restore workflow needs it.
    let recipe = "    recipe:
      groups: [{name: optional, essential: false}, {name: needed, essential: true}]
      workflows:
        - {name: backup, failOn: essential-error, sequence: [{group: optional}, {group: needed}]}
        - {name: restore, sequence: [{group: optional}, {group: needed}]}
";
    env.apply(&vrg("app", "1h", recipe)).await;
    env.wait("app", "capture 1", TIMEOUT, |v| {
        recovered_capture(v) == Some(1)
    })
    .await;
    env.driver()
        .behaviour
        .lock()
        .unwrap()
        .failing_groups
        .insert("optional".into());
    env.capture_now("app").await;
    let vrg = env
        .wait("app", "capture 2 to end", TIMEOUT, |v| {
            condition(v, "ClusterDataProtected")
                .is_some_and(|c| c.message.contains("capture 2 finished"))
        })
        .await;
    let c = condition(&vrg, "ClusterDataProtected").unwrap();
    assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", "Uploaded"));
    assert!(
        c.message.contains("cannot be restored") && c.message.contains("capture 1 is the newest"),
        "{}",
        c.message
    );
    assert_eq!(recovered_capture(&vrg), Some(1));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let kept = env
        .backup_captures()
        .await
        .iter()
        .filter(|c| *c == "1")
        .count();
    assert_eq!(kept, 4, "capture 1 (2 groups x 2 profiles) is kept");
}

#[tokio::test]
async fn fail_on_modes_decide_whether_a_failed_group_fails_the_capture() {
    let env = Env::with_stand_in("fail-on").await;
    env.driver()
        .behaviour
        .lock()
        .unwrap()
        .failing_groups
        .insert("optional".into());
    for (name, fail_on, reason) in [
        ("any", "any-error", "KubeObjectsCaptureError"),
        ("essential", "essential-error", "Uploaded"),
        ("full", "full-error", "Uploaded"),
    ] {
        let recipe = format!(
            "    recipe:\n      groups: [{{name: optional, essential: false}}, {{name: needed, essential: true}}]\n      workflows: [{{name: backup, failOn: {fail_on}, sequence: [{{group: optional}}, {{group: needed}}]}}]\n"
        );
        env.apply(&vrg(name, "1h", &recipe)).await;
        let vrg = env
            .wait(name, "the capture to end", TIMEOUT, |v| {
                // The run's end, not the condition: the capture can be seen complete (and
                // restorable) a moment before the run that took it is concluded.
                run_ended(v)
            })
            .await;
        let c = condition(&vrg, "ClusterDataProtected").unwrap();
        assert_eq!(c.reason, reason, "{fail_on}: {}", c.message);
        let run = vrg
            .status
            .unwrap()
            .kube_object_protection
            .unwrap()
            .run
            .unwrap();
        let expected = if fail_on == "any-error" {
            vrg_operator::api::progress::RunPhase::Failed
        } else {
            vrg_operator::api::progress::RunPhase::PartiallySucceeded
        };
        assert_eq!(run.phase, expected, "{fail_on}");
    }
}

#[tokio::test]
async fn a_recipe_edit_takes_effect() {
    let env = Env::start("recipe-edit").await;
    let recipe = |types: &str| {
        format!(
            "apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata: {{name: r}}
spec:
  appType: demo
  groups: [{{name: config, type: resource, includedResourceTypes: [{types}]}}]
  workflows: [{{name: backup, sequence: [{{group: config}}]}}]
"
        )
    };
    env.apply(&recipe("configmaps")).await;
    env.apply(&vrg("app", "1h", "    recipeRef: {name: r}\n"))
        .await;
    env.wait("app", "capture 1", TIMEOUT, |v| {
        recovered_capture(v) == Some(1)
    })
    .await;
    // A broken edit is reported at once; a fixed one is used by the next capture.
    env.apply(&recipe("\"configmaps, secrets\"")).await;
    env.wait("app", "RecipeReady=False after the edit", TIMEOUT, |v| {
        is(v, "RecipeReady", "False")
    })
    .await;
    env.apply(&recipe("secrets")).await;
    env.wait("app", "RecipeReady=True after the fix", TIMEOUT, |v| {
        is(v, "RecipeReady", "True")
    })
    .await;
    env.capture_now("app").await;
    env.wait("app", "capture 2", TIMEOUT, |v| {
        recovered_capture(v) == Some(2)
    })
    .await;
    let resources: Vec<Vec<String>> = env
        .backups()
        .list(&env.own_and("vrg.ramendr.openshift.io/capture=2"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|b| b.spec.filter.included_resources)
        .collect();
    assert!(
        !resources.is_empty() && resources.iter().all(|r| r == &["secrets"]),
        "{resources:?}"
    );
}

#[tokio::test]
async fn an_operator_that_keeps_captures_leaves_them_when_a_vrg_is_deleted() {
    let env = Env::start_with("keep", controller::OnDelete::KeepCaptures).await;
    env.apply(&vrg("app", "1h", "")).await;
    env.wait("app", "the first capture", TIMEOUT, |v| {
        recovered_capture(v) == Some(1)
    })
    .await;
    env.vrgs()
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while env.vrgs().get_opt("app").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the VRG was not removed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        env.backups().list(&env.own()).await.unwrap().items.len(),
        2,
        "the captures are kept"
    );
}

#[tokio::test]
async fn deleting_a_secondary_vrg_keeps_the_primarys_captures() {
    let env =
        Env::with_stand_in_and("secondary-delete", controller::OnDelete::DeleteOwnCaptures).await;
    // The primary cluster's capture, synced here by Velero from the shared storage.
    env.synced_backup("app", 4, "objects", "Completed").await;
    env.apply(&vrg("app", "1h", "").replace("primary", "secondary"))
        .await;
    env.wait("app", "the VRG to be seen", TIMEOUT, |v| {
        v.metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == controller::FINALIZER))
    })
    .await;
    env.vrgs()
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while env.vrgs().get_opt("app").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the VRG was not removed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let requests = kube::Api::<vrg_operator::api::velero::DeleteBackupRequest>::namespaced(
        env.client.clone(),
        &env.velero_ns,
    );
    assert!(
        requests.list(&env.own()).await.unwrap().items.is_empty(),
        "no deletion was requested"
    );
    assert_eq!(env.backups().list(&env.own()).await.unwrap().items.len(), 1);
}

#[tokio::test]
async fn a_deletion_velero_fails_is_shown_in_status_and_asked_again() {
    let env = Env::with_stand_in("delete-fails").await;
    env.driver().behaviour.lock().unwrap().delete_error =
        Some("error deleting backup from object storage: AccessDenied".into());
    env.apply(&vrg("app", "3s", "")).await;
    let vrg = env
        .wait("app", "a deletion to fail", Duration::from_secs(60), |v| {
            v.status
                .as_ref()
                .and_then(|s| s.kube_object_protection.as_ref())
                .is_some_and(|k| k.deletions.iter().any(|d| d.attempt >= 1))
        })
        .await;
    let deletion = vrg
        .status
        .unwrap()
        .kube_object_protection
        .unwrap()
        .deletions[0]
        .clone();
    let message = deletion.message.unwrap_or_default();
    assert!(
        message.contains("AccessDenied") && message.contains("asked again"),
        "{message}"
    );
    let requests = kube::Api::<vrg_operator::api::velero::DeleteBackupRequest>::namespaced(
        env.client.clone(),
        &env.velero_ns,
    );
    let names: Vec<String> = requests
        .list(&env.own())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|r| r.metadata.name)
        .filter(|n| n.starts_with(&deletion.backup[..20]))
        .collect();
    assert!(names.len() >= 2, "a new request per attempt: {names:?}");
}

#[tokio::test]
async fn a_recipe_edit_mid_run_ends_the_run_cleanly_and_the_next_uses_the_new_plan() {
    let env = Env::with_stand_in("edit-mid-run").await;
    env.driver().behaviour.lock().unwrap().hold = true;
    let three = "    recipe:\n      groups: [{name: first}, {name: second}, {name: third}]\n      workflows: [{name: backup, sequence: [{group: first}, {group: second}, {group: third}]}]\n";
    env.apply(&vrg("app", "1h", three)).await;
    env.wait_step("app", "group first", TIMEOUT).await;
    // Shortened and replaced while step 1's Backups run.
    let one = "    recipe:\n      groups: [{name: only}]\n      workflows: [{name: backup, sequence: [{group: only}]}]\n";
    env.apply(&vrg("app", "1h", one)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    env.driver().behaviour.lock().unwrap().hold = false;
    let vrg = env
        .wait("app", "capture 2 with the new recipe", TIMEOUT, |v| {
            recovered_capture(v) == Some(2) && run_ended(v)
        })
        .await;
    let run = vrg
        .status
        .unwrap()
        .kube_object_protection
        .unwrap()
        .run
        .unwrap();
    assert_eq!(
        run.steps
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["group only"]
    );
    // Capture 1 ended with the reason, and never started its later steps.
    let groups: Vec<String> = env
        .backups()
        .list(&env.own())
        .await
        .unwrap()
        .items
        .iter()
        .map(|b| b.metadata.labels.as_ref().unwrap()["vrg.ramendr.openshift.io/group"].clone())
        .collect();
    assert!(
        !groups.iter().any(|g| g == "second" || g == "third"),
        "{groups:?}"
    );
    let events =
        kube::Api::<k8s_openapi::api::events::v1::Event>::namespaced(env.client.clone(), &env.ns)
            .list(&Default::default())
            .await
            .unwrap()
            .items;
    assert!(
        events.iter().any(|e| e
            .note
            .as_deref()
            .is_some_and(|n| n.contains("the recipe changed while the run was in progress"))),
        "{:?}",
        events.iter().map(|e| e.note.clone()).collect::<Vec<_>>()
    );
}

/// A Recipe with no spec at all, as Ramen's CRD allows: the API server takes it, and the VRG that
/// references it is protected by the default capture, with a note that says so.
#[tokio::test]
async fn a_recipe_without_a_spec_protects_the_namespace_as_no_recipe_would() {
    let env = Env::start("spec-less").await;
    env.apply(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata: {name: bare}
",
    )
    .await;
    env.apply(&vrg("app", "1h", "    recipeRef: {name: bare}\n"))
        .await;
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| {
            is(v, "ClusterDataProtected", "True")
        })
        .await;
    let ready = condition(&vrg, "RecipeReady").unwrap();
    assert!(
        ready
            .message
            .contains("is valid; note: Recipe/bare: spec.workflows: no backup or restore workflow"),
        "{}",
        ready.message
    );
    let groups: Vec<String> = env
        .backups()
        .list(&env.own())
        .await
        .unwrap()
        .items
        .iter()
        .filter_map(|b| {
            vrg_operator::velero::names::capture_of(b.metadata.labels.as_ref()?).map(|c| c.group)
        })
        .collect();
    assert!(
        groups.iter().all(|g| g == "objects") && !groups.is_empty(),
        "{groups:?}"
    );
}
