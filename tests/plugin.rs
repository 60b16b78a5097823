//! `kubectl vrg` against the real API server and the real Velero server: the plugin binary run as
//! kubectl runs it, with kubectl's flags and `KUBECONFIG`. A capture requested and followed to
//! its end, the tree, the fleet list, the captures, the logs and the plan of the live VRG; then
//! the moves: refused while unsafe (this cluster protecting, no final capture for a relocate, no
//! capture at all, a recovery already running), and a failover followed until the application
//! is recovered.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::json;
use support::env::{Env, is, recovered_capture};
use vrg_testenv::shared;

const TIMEOUT: Duration = Duration::from_secs(90);

const RECIPE: &str = "apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata: {name: shop}
spec:
  groups:
    - {name: config, type: resource, includedResourceTypes: [configmaps]}
    - {name: secrets, type: resource, includedResourceTypes: [secrets]}
  workflows:
    - {name: backup, sequence: [{group: config}, {group: secrets}]}
    - {name: restore, sequence: [{group: config}, {group: secrets}]}
";

fn vrg(name: &str, role: &str) -> String {
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: {name}}}
spec:
  replicationState: {role}
  s3Profiles: [east]
  kubeObjectProtection:
    captureInterval: 1h
    recipeRef: {{name: shop}}
"
    )
}

/// `kubectl vrg ARGS` for this test's namespace and Velero.
fn plugin(env: &Env, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-vrg"))
        .arg("--kubeconfig")
        .arg(&shared().kubeconfig)
        .args(["-n", &env.ns, "--velero-namespace", &env.velero_ns])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &Output, why: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused:") && stderr.contains(why),
        "{}",
        text(out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_follows_a_capture_and_shows_the_vrg_as_it_is() {
    let env = Env::start("plugin-get").await;
    env.apply(RECIPE).await;
    env.apply(&vrg("shop", "primary")).await;
    env.wait("shop", "the first capture", TIMEOUT, |v| {
        is(v, "ClusterDataProtected", "True") && support::hooks::finished(v).is_some()
    })
    .await;

    // A capture asked for and followed: the frames show its steps, the exit code its outcome.
    let out = plugin(&env, &["capture", "shop", "--wait"]);
    let followed = ok(&out);
    assert!(followed.contains("Capture of"), "{followed}");
    assert!(followed.contains("Run backup-2 succeeded."), "{followed}");
    assert!(followed.contains("✓ group config"), "{followed}");
    let vrg = env.vrgs().get("shop").await.unwrap();
    assert_eq!(
        recovered_capture(&vrg),
        Some(2),
        "the requested capture is the newest"
    );

    let tree = ok(&plugin(&env, &["get", "shop"]));
    // As the user guide shows them: run with --nocapture.
    eprintln!("$ kubectl vrg get shop\n{tree}\n$ kubectl vrg capture shop --wait\n{followed}");
    for want in [
        format!("VolumeReplicationGroup {}/shop: primary", env.ns),
        "Restorable:  capture 2".to_owned(),
        "✓ ClusterDataProtected".to_owned(),
        "Run backup-2 (backup workflow, capture 2): Succeeded".to_owned(),
        "├─ ✓ group config".to_owned(),
        "└─ ✓ group secrets".to_owned(),
        "Completed".to_owned(),
    ] {
        assert!(tree.contains(&want), "no {want:?} in:\n{tree}");
    }
    assert!(
        tree.contains("└─ Backup "),
        "each step's Backup with its phase:\n{tree}"
    );

    // KUBECONFIG and --context are honoured as kubectl honours them.
    let context = std::fs::read_to_string(&shared().kubeconfig).unwrap();
    let context = context
        .lines()
        .find_map(|l| l.trim().strip_prefix("current-context:"))
        .map(|c| c.trim().trim_matches('"').to_owned())
        .unwrap();
    let listed = Command::new(env!("CARGO_BIN_EXE_kubectl-vrg"))
        .env("KUBECONFIG", &shared().kubeconfig)
        .args(["list", "-A", "--context", &context])
        .output()
        .unwrap();
    let listed = ok(&listed);
    let row = listed
        .lines()
        .find(|l| l.starts_with(&env.ns))
        .unwrap_or_else(|| panic!("no row for {} in:\n{listed}", env.ns));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..4],
        [env.ns.as_str(), "shop", "primary", "yes"],
        "{listed}"
    );
    let header: Vec<&str> = listed.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAMESPACE", "NAME", "STATE", "PROTECTED", "RPO", "STEP"]
    );

    let captures = ok(&plugin(&env, &["captures", "shop"]));
    eprintln!("$ kubectl vrg list -A\n{listed}\n$ kubectl vrg captures shop\n{captures}");
    let numbers: Vec<&str> = captures
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(numbers, ["2", "1"], "newest first:\n{captures}");
    assert!(
        captures.contains("config@east=Completed, secrets@east=Completed"),
        "{captures}"
    );
    assert!(
        captures.lines().skip(1).all(|l| l.contains("   yes   ")),
        "{captures}"
    );

    let logs = ok(&plugin(&env, &["logs", "shop", "--step", "2"]));
    assert_eq!(
        logs,
        "step 2 group secrets (Succeeded, attempt 1)\n  (no hook output)\n"
    );
    let out = plugin(&env, &["logs", "shop", "--step", "3"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    let plan = ok(&plugin(&env, &["plan", "shop", "--workflow", "restore"]));
    assert!(
        plan.contains("group config") && plan.contains("group secrets"),
        "{plan}"
    );

    // Watching draws frames until stopped; without a terminal, frame after frame.
    let mut watch = Command::new(env!("CARGO_BIN_EXE_kubectl-vrg"))
        .arg("--kubeconfig")
        .arg(&shared().kubeconfig)
        .args(["-n", &env.ns, "--velero-namespace", &env.velero_ns])
        .args(["get", "shop", "--watch"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    watch.kill().unwrap();
    let frames = watch.wait_with_output().unwrap();
    let frames = String::from_utf8_lossy(&frames.stdout);
    assert!(
        frames.starts_with("--- ") && frames.contains("Run backup-2"),
        "{frames}"
    );

    let missing = plugin(&env, &["get", "nothing"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nothing not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_are_refused_while_unsafe_and_a_failover_is_followed_to_recovery() {
    let env = Env::start("plugin-move").await;
    env.apply(RECIPE).await;
    env.apply(&vrg("shop", "primary")).await;
    env.apply(&vrg("standby", "secondary")).await;
    env.wait("shop", "the first capture", TIMEOUT, |v| {
        is(v, "ClusterDataProtected", "True") && support::hooks::finished(v).is_some()
    })
    .await;

    refused(
        &plugin(&env, &["failover", "shop"]),
        "already primary on this cluster",
    );
    refused(
        &plugin(&env, &["failover", "standby"]),
        "no restorable capture of standby is visible",
    );

    // The application leaves this cluster without a final capture: a relocate is refused, a
    // failover recovers from capture 1.
    let secondary = json!({"apiVersion": "ramendr.openshift.io/v1alpha1", "kind": "VolumeReplicationGroup",
                           "metadata": {"name": "shop"}, "spec": {"replicationState": "secondary"}});
    env.vrgs()
        .patch(
            "shop",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&secondary),
        )
        .await
        .unwrap();
    refused(
        &plugin(&env, &["relocate", "shop"]),
        "its final capture is not visible here",
    );
    // Followed in the background; meanwhile another move is refused, the recovery running.
    let failover = Command::new(env!("CARGO_BIN_EXE_kubectl-vrg"))
        .arg("--kubeconfig")
        .arg(&shared().kubeconfig)
        .args(["-n", &env.ns, "--velero-namespace", &env.velero_ns])
        .args(["failover", "shop", "--wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    env.wait("shop", "the failover to be asked", TIMEOUT, |v| {
        v.spec.action.is_some()
    })
    .await;
    refused(
        &plugin(&env, &["relocate", "shop"]),
        "a Failover is already running here",
    );
    let out = tokio::task::spawn_blocking(move || failover.wait_with_output().unwrap())
        .await
        .unwrap();
    let followed = ok(&out);
    eprintln!("$ kubectl vrg failover shop --wait\n{followed}");
    assert!(
        followed.contains("action Failover: recovering"),
        "{followed}"
    );
    assert!(followed.contains("Recovered."), "{followed}");
    assert!(
        followed.contains("(restore workflow, restoring capture 1)"),
        "{followed}"
    );
    let vrg = env.vrgs().get("shop").await.unwrap();
    assert!(is(&vrg, "KubeObjectsReady", "True"), "{:?}", vrg.status);

    refused(
        &plugin(&env, &["failover", "shop"]),
        "already recovered with Failover",
    );
}
