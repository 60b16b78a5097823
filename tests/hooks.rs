//! Hooks end to end: exec ops run through the real pod exec API into kwok pods (kwok runs the
//! commands on this machine, in its work directory, where they leave traces), and check hooks wait
//! for their condition on real objects. Group steps go through the real Velero server; the seed's
//! restore pattern restores another cluster's capture, which the stand-in plays.

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::env::{Env, condition, options};
use support::hooks::{finished, lines, vrg};
use support::rbac::shipped_role_client;
use support::recording::recording_client;
use vrg_operator::api::progress::{RunPhase, StepPhase};
use vrg_testenv::shared;

const TIMEOUT: Duration = Duration::from_secs(40);

#[tokio::test]
async fn quiesce_group_unquiesce_run_in_order_exactly_once() {
    let env = Env::start("hooks-order").await;
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let file = format!("trace-{}", env.ns);
    let recipe = format!(
        "      groups: [{{name: data}}]
      hooks:
        - name: db
          type: exec
          labelSelector: app=db
          ops:
            - {{name: quiesce, command: '[\"/bin/sh\", \"-c\", \"echo quiesce >> {file}\"]'}}
            - {{name: unquiesce, command: '[\"/bin/sh\", \"-c\", \"echo unquiesce >> {file}\"]'}}
      workflows:
        - name: backup
          sequence: [{{hook: db/quiesce}}, {{group: data}}, {{hook: db/unquiesce}}]
"
    );
    env.apply(&vrg(&recipe)).await;
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Succeeded, "{:?}", run);
    assert_eq!(
        lines(&env),
        ["quiesce", "unquiesce"],
        "each op ran exactly once, in order"
    );
    let ends = |i: usize| run.steps[i].end_time.clone().unwrap().0;
    let starts = |i: usize| run.steps[i].start_time.clone().unwrap().0;
    assert!(ends(0) <= starts(1) && ends(1) <= starts(2), "strict order");
    let result = &run.steps[0].results[0];
    assert_eq!(
        (
            result.target.as_str(),
            result.container.as_deref(),
            result.exit_code
        ),
        ("pod/db-0", Some("main"), Some(0))
    );
    assert!(condition(&vrg, "HooksReady").is_some_and(|c| c.status == "True"));
    // A later reconcile runs nothing again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(lines(&env).len(), 2);
}

#[tokio::test]
async fn a_failing_op_stops_the_workflow_and_runs_its_inverse() {
    let env = Env::start("hooks-fail").await;
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let file = format!("trace-{}", env.ns);
    let recipe = format!(
        "      groups: [{{name: data}}]
      hooks:
        - name: db
          type: exec
          labelSelector: app=db
          ops:
            - {{name: quiesce, inverseOp: unquiesce, command: '[\"/bin/sh\", \"-c\", \"echo quiesce >> {file}; echo broken >&2; exit 3\"]'}}
            - {{name: unquiesce, command: '[\"/bin/sh\", \"-c\", \"echo unquiesce >> {file}\"]'}}
      workflows:
        - name: backup
          sequence: [{{hook: db/quiesce}}, {{group: data}}]
"
    );
    env.apply(&vrg(&recipe)).await;
    let vrg = env
        .wait("app", "the capture to end", TIMEOUT, |v| {
            finished(v).is_some()
        })
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Failed);
    assert_eq!(
        run.steps[1].phase,
        StepPhase::Skipped,
        "the group never ran"
    );
    let message = run.steps[0].message.clone().unwrap();
    assert!(
        message.contains("exited 3") && message.contains("broken"),
        "{message}"
    );
    assert_eq!(run.steps[0].results[0].exit_code, Some(3));
    assert_eq!(
        run.steps[0].inverse.as_ref().unwrap().phase,
        StepPhase::Succeeded
    );
    assert_eq!(lines(&env), ["quiesce", "unquiesce"]);
    assert!(condition(&vrg, "HooksReady").is_some_and(|c| c.status == "False"));
}

/// Nothing left quiesced: when a later step stops the run, every earlier op that succeeded and
/// declares an inverse is undone, newest first, each once, and status says so.
#[tokio::test]
async fn a_later_failure_undoes_every_earlier_op_newest_first() {
    let env = Env::start("hooks-unwind").await;
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let file = format!("trace-{}", env.ns);
    let op = |name: &str, exit: u8| {
        format!(
            "{{name: {name}, command: '[\"/bin/sh\", \"-c\", \"echo {name} >> {file}; exit {exit}\"]'"
        )
    };
    let recipe = format!(
        "      groups: [{{name: data}}]
      hooks:
        - name: db
          type: exec
          labelSelector: app=db
          ops:
            - {}, inverseOp: unquiesce}}
            - {}}}
            - {}, inverseOp: unlock}}
            - {}}}
            - {}}}
      workflows:
        - name: backup
          sequence: [{{hook: db/quiesce}}, {{group: data}}, {{hook: db/lock}}, {{hook: db/broken}}]
",
        op("quiesce", 0),
        op("unquiesce", 0),
        op("lock", 0),
        op("unlock", 0),
        op("broken", 4),
    );
    env.apply(&vrg(&recipe)).await;
    let vrg = env
        .wait("app", "the capture to end", TIMEOUT, |v| {
            finished(v).is_some()
        })
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Failed);
    assert_eq!(
        lines(&env),
        ["quiesce", "lock", "broken", "unlock", "unquiesce"]
    );
    for i in [0, 2] {
        let inverse = run.steps[i].inverse.as_ref().unwrap();
        assert_eq!((inverse.phase, inverse.attempt), (StepPhase::Succeeded, 1));
    }
    let message = run.message.unwrap();
    assert!(
        message.ends_with("inverse op unlock succeeded; inverse op unquiesce succeeded"),
        "{message}"
    );
}

/// Pausing a VRG mid-run (STOP_RECIPE_RECONCILE) stops the run: the op in flight is waited for,
/// nothing new starts, and what the run quiesced is undone before it ends.
/// The peak resident set of this process (the controller runs in it) so far, from /proc.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

/// A hook that prints 1 GiB costs the operator a few kilobytes: its output is
/// read with a bound (head and tail kept, the rest counted), and status stays small.
#[tokio::test]
async fn a_hook_that_prints_a_gibibyte_leaves_memory_flat() {
    const PRINTED: u64 = 1024 * 1024 * 1024;
    let env = Env::start("hooks-output").await;
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let recipe = format!(
        "      groups: [{{name: data}}]
      hooks:
        - name: db
          type: exec
          labelSelector: app=db
          ops: [{{name: chatty, command: '[\"/bin/sh\", \"-c\", \"echo BEGIN; head -c {PRINTED} /dev/zero | tr -c x x; echo; echo END\"]'}}]
      workflows:
        - name: backup
          sequence: [{{hook: db/chatty}}, {{group: data}}]
"
    );
    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    env.apply(&vrg(&recipe)).await;
    let vrg = env
        .wait("app", "the capture", Duration::from_secs(300), |v| {
            finished(v).is_some()
        })
        .await;
    let growth = peak_rss_kib().saturating_sub(before);
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Succeeded, "{run:?}");
    let stdout = &run.steps[0].results[0].stdout;
    println!(
        "hook printed {} MiB in {:?}; peak RSS of the operator grew {} KiB; stdout in status {} bytes",
        PRINTED >> 20,
        started.elapsed(),
        growth,
        stdout.len()
    );
    assert!(
        stdout.starts_with("BEGIN\nxxx") && stdout.ends_with("xxx\nEND\n"),
        "{stdout:.200}"
    );
    assert!(stdout.contains("bytes not kept"), "{stdout:.200}");
    assert!(stdout.len() < 4096);
    assert!(
        growth < 64 * 1024,
        "peak RSS grew {growth} KiB while a hook printed {} MiB",
        PRINTED >> 20
    );
}

#[tokio::test]
async fn on_error_continue_goes_on_and_a_timeout_kills_the_command() {
    let env = Env::start("hooks-continue").await;
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let recipe = "      groups: [{name: data}]
      hooks:
        - name: db
          type: exec
          labelSelector: app=db
          ops:
            - {name: slow, command: 'sleep 30', timeout: 2, onError: continue}
      workflows:
        - name: backup
          sequence: [{hook: db/slow}, {group: data}]
";
    env.apply(&vrg(recipe)).await;
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::PartiallySucceeded, "{run:?}");
    assert!(
        run.steps[0]
            .message
            .as_deref()
            .unwrap()
            .contains("timed out"),
        "{:?}",
        run.steps[0].message
    );
    assert_eq!(run.steps[1].phase, StepPhase::Succeeded);
    let took = run.steps[0]
        .end_time
        .clone()
        .unwrap()
        .0
        .duration_since(run.steps[0].start_time.clone().unwrap().0);
    assert!(
        took.as_secs_f64() < 10.0,
        "the 30 s command was cut at its 2 s timeout (took {took:?})"
    );
}

#[tokio::test]
async fn a_deployment_hook_runs_on_its_running_pods_and_single_pod_only_on_one() {
    let env = Env::start("hooks-deploy").await;
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"tier": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"nodeName": shared().node_name, "containers": [{"name": "web", "image": "nginx"}]}},
        },
    }))
    .unwrap();
    Api::<Deployment>::namespaced(env.client.clone(), &env.ns)
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let file = format!("trace-{}", env.ns);
    let recipe = format!(
        "      groups: [{{name: data}}]
      hooks:
        - name: all
          type: exec
          selectResource: deployment
          labelSelector: tier=web
          ops: [{{name: mark, command: '[\"/bin/sh\", \"-c\", \"echo all >> {file}\"]'}}]
        - name: one
          type: exec
          selectResource: deployment
          nameSelector: web
          singlePodOnly: true
          ops: [{{name: mark, command: '[\"/bin/sh\", \"-c\", \"echo one >> {file}\"]'}}]
        - name: ready
          type: check
          selectResource: deployment
          nameSelector: web
          timeout: 30
          chks: [{{name: replicas, condition: '{{$.status.readyReplicas}} == {{2}}'}}]
      workflows:
        - name: backup
          sequence: [{{hook: ready}}, {{hook: all}}, {{hook: one}}, {{group: data}}]
"
    );
    env.apply(&vrg(&recipe)).await;
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Succeeded, "{run:?}");
    let mut traces = lines(&env);
    traces.sort();
    assert_eq!(
        traces,
        ["all", "all", "one"],
        "every Running pod of the Deployment, then one pod only"
    );
}

/// The seed's restore patterns: an exec hook after a restore group waits for its pods to be
/// Running, and `initContainers` ride on that group's Velero Restore.
#[tokio::test]
async fn seed_restore_patterns_wait_for_running_pods_and_carry_init_containers() {
    use vrg_operator::api::velero::{Backup, BackupSpec, Restore};
    use vrg_operator::velero::{self, ObjectIdentity};
    let env = Env::with_stand_in("hooks-restore").await;
    // The other cluster's capture 1 of group `checkpoint`, synced here by Velero.
    let id = ObjectIdentity::backup(&env.ns, "app", 1, "checkpoint", "east");
    let mut backup: Backup =
        velero::spec::backup(&BackupSpec::default(), &id, "east", &env.velero_ns);
    backup.status = Some(serde_json::from_value(json!({"phase": "Completed"})).unwrap());
    env.backups()
        .create(&PostParams::default(), &backup)
        .await
        .unwrap();
    let file = format!("trace-{}", env.ns);
    let manifest = format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: app}}
spec:
  replicationState: primary
  action: Failover
  s3Profiles: [east]
  kubeObjectProtection:
    captureInterval: 1h
    captureOrder:
      - name: checkpoint
        includedResources: [pods]
    recoverOrder:
      - backupName: checkpoint
        includedResources: [pods]
        hooks:
          - name: init
            labelSelector: {{matchLabels: {{app: my-app}}}}
            initContainers:
              - {{name: restore-hook-init, image: busybox, command: [/bin/sh, -c, 'echo init']}}
          - name: after
            labelSelector: {{matchLabels: {{app: my-app}}}}
            exec:
              container: main
              timeout: 30
              command: ['[\"/bin/sh\", \"-c\", \"echo restored >> {file}\"]']
"
    );
    env.apply(&manifest).await;
    // The hook waits: no pod runs yet. The application's pod appears a little later.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(lines(&env).is_empty());
    env.running_pod(&env.ns, "my-app-0", json!({"app": "my-app"}))
        .await;
    let vrg = env
        .wait("app", "the recovery", TIMEOUT, |v| {
            condition(v, "KubeObjectsReady").is_some_and(|c| c.status == "True")
        })
        .await;
    assert_eq!(lines(&env), ["restored"]);
    let restores = Api::<Restore>::namespaced(env.client.clone(), &env.velero_ns)
        .list(&Default::default())
        .await
        .unwrap()
        .items;
    let hooks = restores[0]
        .spec
        .hooks
        .as_ref()
        .expect("init containers on the Restore");
    assert_eq!(
        hooks.resources[0].post_hooks[0]
            .init
            .as_ref()
            .unwrap()
            .init_containers[0]["name"],
        "restore-hook-init"
    );
    assert!(
        vrg.status
            .unwrap()
            .kube_object_protection
            .unwrap()
            .recovered_generation
            .is_some()
    );
}

#[tokio::test]
async fn an_operator_restart_during_an_exec_reruns_it_as_a_new_attempt() {
    let mut env = Env::start("hooks-restart").await;
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let recipe = "      groups: [{name: data}]
      hooks:
        - name: db
          type: exec
          labelSelector: app=db
          ops: [{name: slow, command: 'sleep 3'}]
      workflows:
        - name: backup
          sequence: [{hook: db/slow}, {group: data}]
";
    env.apply(&vrg(recipe)).await;
    env.wait_step("app", "hook db/slow", TIMEOUT).await;
    env.restart_controller();
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Succeeded);
    assert_eq!(run.steps[0].attempt, 2, "the interrupted exec ran again");
    assert_eq!(run.steps[1].attempt, 1);
}

/// An exec starts only once status shows its attempt `Running`: with every status write refused
/// (as a crash right after the decision loses it) the op never runs; a fresh operator, with
/// nothing in memory, then runs it exactly once, as attempt 1.
#[tokio::test]
async fn a_hook_runs_only_after_status_records_its_attempt() {
    let mut env = Env::start("hooks-persist").await;
    let no_status = shipped_role_client(&env, |role| {
        for rules in role.rules.iter_mut() {
            rules.retain(|rule| {
                !rule
                    .resources
                    .iter()
                    .flatten()
                    .any(|r| r == "volumereplicationgroups/status")
            });
        }
    })
    .await;
    env.restart_controller_as(no_status, options(&env.velero_ns, &env.ns));
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let file = format!("trace-{}", env.ns);
    let recipe = format!(
        "      groups: [{{name: data}}]
      hooks:
        - name: db
          type: exec
          labelSelector: app=db
          ops: [{{name: mark, command: '[\"/bin/sh\", \"-c\", \"echo mark >> {file}\"]'}}]
      workflows:
        - name: backup
          sequence: [{{hook: db/mark}}, {{group: data}}]
"
    );
    env.apply(&vrg(&recipe)).await;
    // The operator decided to capture (its Event is out) but could not record the run.
    let events =
        Api::<k8s_openapi::api::events::v1::Event>::namespaced(env.client.clone(), &env.ns);
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .any(|e| e.reason.as_deref() == Some("CaptureStarted"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no CaptureStarted event"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for an exec the operator might have started to reach the pod (it takes milliseconds).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        lines(&env),
        Vec::<String>::new(),
        "the op ran while status did not show its attempt"
    );
    env.restart_controller();
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Succeeded, "{run:?}");
    assert_eq!(run.steps[0].attempt, 1);
    assert_eq!(lines(&env), vec!["mark"], "exactly once");
}

#[tokio::test]
async fn a_check_on_any_resource_found_through_discovery() {
    let env = Env::start("hooks-custom").await;
    let recipe = "      groups: [{name: data}]
      hooks:
        - name: cm
          type: check
          selectResource: v1/configmaps
          nameSelector: settings
          timeout: 20
          chks: [{name: ready, condition: '{$.data.ready} == {yes}'}]
        - name: missing
          type: check
          selectResource: v1/configmaps
          nameSelector: absent
          skipHookIfNotPresent: true
          chks: [{name: any, condition: '{$.data.x} == {1}'}]
      workflows:
        - name: backup
          sequence: [{hook: missing}, {hook: cm}, {group: data}]
";
    env.apply(&vrg(recipe)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cm: k8s_openapi::api::core::v1::ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"ready": "yes"}}))
            .unwrap();
    Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(env.client.clone(), &env.ns)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Succeeded, "{run:?}");
    assert!(
        run.steps[0].message.as_deref().unwrap().contains("skipped"),
        "{:?}",
        run.steps[0].message
    );
    assert!(
        run.steps[1]
            .message
            .as_deref()
            .unwrap()
            .contains("holds on 1 object"),
        "{:?}",
        run.steps[1].message
    );
}

/// Hook targets are filtered by the API server: each poll lists the pods a hook selects (Running,
/// with its labels) and the object a check names, never the whole namespace.
#[tokio::test]
async fn hooks_list_only_what_they_select() {
    let mut env = Env::start("hooks-server-side").await;
    let (recording, requests) = recording_client().await;
    env.restart_controller_as(recording, options(&env.velero_ns, &env.ns));
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    env.running_pod(&env.ns, "other", json!({"app": "other"}))
        .await;
    let cm: k8s_openapi::api::core::v1::ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"ready": "yes"}}))
            .unwrap();
    Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(env.client.clone(), &env.ns)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let file = format!("trace-{}", env.ns);
    let recipe = format!(
        "      groups: [{{name: data}}]
      hooks:
        - name: db
          type: exec
          labelSelector: app=db
          ops: [{{name: mark, command: '[\"/bin/sh\", \"-c\", \"echo mark >> {file}\"]'}}]
        - name: cm
          type: check
          selectResource: v1/configmaps
          nameSelector: settings
          chks: [{{name: ready, condition: '{{$.data.ready}} == {{yes}}'}}]
      workflows:
        - name: backup
          sequence: [{{hook: cm}}, {{hook: db/mark}}, {{group: data}}]
"
    );
    env.apply(&vrg(&recipe)).await;
    let vrg = env
        .wait("app", "the capture", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_eq!(run.phase, RunPhase::Succeeded, "{run:?}");
    assert_eq!(lines(&env), ["mark"], "the selected pod only");
    let pods = requests.of(&format!("/namespaces/{}/pods", env.ns));
    assert!(!pods.is_empty(), "the exec hook listed no pods");
    for request in &pods {
        assert!(
            request.contains("labelSelector=app%3Ddb")
                && request.contains("fieldSelector=status.phase%3DRunning"),
            "a pod list the server did not filter: {request}"
        );
    }
    let maps = requests.of(&format!("/namespaces/{}/configmaps", env.ns));
    assert!(!maps.is_empty(), "the check listed no ConfigMaps");
    for request in &maps {
        assert!(
            request.contains("fieldSelector=metadata.name%3Dsettings"),
            "a ConfigMap list the server did not filter: {request}"
        );
    }
}
