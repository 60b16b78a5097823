//! Exactly once under crashes: the operator binary is SIGKILLed at random moments while it
//! captures and recovers with exec hooks, and started again each time. Every exec'd command
//! leaves a line in its trace file the moment it starts; a watch on the VRG records every
//! attempt status ever showed. An op that ran more often than status has attempts for it ran
//! twice within one recorded attempt: a violation. The stand-in plays Velero (it is not what is
//! under test; its objects finish at once, so kills land in hooks more often).

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use kube::runtime::watcher;
use serde_json::json;
use support::env::{Env, condition};
use support::operator::Operator;
use vrg_operator::api::VolumeReplicationGroup;
use vrg_operator::api::progress::RunPhase;
use vrg_testenv::shared;

const KILLS: usize = 30;
const UNIT_TIMEOUT: Duration = Duration::from_secs(90);

/// What status ever showed of one run: its workflow, whether it ended, and the highest attempt
/// of each hook step.
#[derive(Debug, Default, Clone)]
struct Seen {
    workflow: String,
    ended: Option<RunPhase>,
    attempts: BTreeMap<String, u32>,
}

type Runs = Arc<Mutex<BTreeMap<String, Seen>>>;

/// Records every run status shows, from every write (a watch sees each one).
fn record(env: &Env) -> Runs {
    let runs: Runs = Arc::default();
    let stream = watcher(env.vrgs(), watcher::Config::default());
    let into = runs.clone();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let vrgs: Vec<VolumeReplicationGroup> = match event {
                Ok(watcher::Event::Apply(v) | watcher::Event::InitApply(v)) => vec![v],
                _ => continue,
            };
            for v in vrgs {
                let Some(run) = v
                    .status
                    .and_then(|s| s.kube_object_protection)
                    .and_then(|k| k.run)
                else {
                    continue;
                };
                let mut runs = into.lock().unwrap();
                let seen = runs.entry(run.id.clone()).or_default();
                seen.workflow = run.workflow.clone();
                if run.phase != RunPhase::Running {
                    seen.ended = Some(run.phase);
                }
                for step in run.steps.iter().filter(|s| s.name.starts_with("hook ")) {
                    let op = step.name.rsplit('/').next().unwrap_or_default().to_owned();
                    let a = seen.attempts.entry(op).or_default();
                    *a = (*a).max(step.attempt);
                }
            }
        }
    });
    runs
}

/// A small xorshift generator seeded from the clock; the seed is printed to replay a failure.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn vrg(role: &str, action: &str) -> String {
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: app}}
spec:
  replicationState: {role}
  action: {action}
  s3Profiles: [east]
  kubeObjectProtection:
    captureInterval: 1h
    recipeRef: {{name: app}}
"
    )
}

/// Each op leaves its name in the trace the moment it starts, then takes a while.
fn recipe(file: &str) -> String {
    let op = |name: &str| {
        format!(
            "{{name: {name}, command: '[\"/bin/sh\", \"-c\", \"echo {name} >> {file}; sleep 0.7\"]'}}"
        )
    };
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata: {{name: app}}
spec:
  appType: demo
  groups: [{{name: data}}]
  hooks:
    - name: db
      type: exec
      labelSelector: {{matchLabels: {{app: db}}}}
      ops: [{}, {}, {}]
  workflows:
    - {{name: backup, sequence: [{{hook: db/quiesce}}, {{group: data}}, {{hook: db/unquiesce}}]}}
    - {{name: restore, sequence: [{{group: data}}, {{hook: db/warm}}]}}
",
        op("quiesce"),
        op("unquiesce"),
        op("warm")
    )
}

#[tokio::test]
async fn sigkills_during_hooks_never_run_an_op_twice_within_one_recorded_attempt() {
    let mut env = Env::with_stand_in("kills").await;
    env.stop_controller();
    let file = format!("trace-{}", env.ns);
    let trace = shared().kwok_workdir.join(&file);
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let runs = record(&env);
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let mut random = Random(seed);
    let mut operator = Operator::start("kills", &env, &[]);
    env.apply(&recipe(&file)).await;

    let (mut kills, mut violations, mut units) = (0usize, 0usize, 0usize);
    let mut extra_attempts = 0u32;
    while kills < KILLS {
        assert!(units < 3 * KILLS, "too few kills landed in {units} units");
        let before: Vec<String> = runs.lock().unwrap().keys().cloned().collect();
        let _ = std::fs::remove_file(&trace);
        // Alternate captures with recoveries (secondary, then primary with a failover).
        let recovery = units % 2 == 1;
        if units == 0 {
            env.apply(&vrg("primary", "\"\"")).await;
        } else if recovery {
            env.apply(&vrg("secondary", "\"\"")).await;
            env.wait("app", "the VRG to stand by", UNIT_TIMEOUT, |v| {
                condition(v, "ClusterDataProtected").is_some_and(|c| c.reason == "Secondary")
            })
            .await;
            env.apply(&vrg("primary", "Failover")).await;
        } else {
            env.capture_now("app").await;
        }
        // This unit's runs: a capture, or a restore and the capture that follows it.
        let done = |runs: &BTreeMap<String, Seen>| {
            let new: Vec<&Seen> = runs
                .iter()
                .filter(|(id, _)| !before.contains(id))
                .map(|(_, s)| s)
                .collect();
            let ended = |w: &str| new.iter().any(|s| s.workflow == w && s.ended.is_some());
            ended("backup") && (!recovery || ended("restore"))
        };
        let deadline = Instant::now() + UNIT_TIMEOUT;
        loop {
            tokio::time::sleep(Duration::from_millis(100 + random.below(2400))).await;
            if done(&runs.lock().unwrap()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "unit {units} did not finish; operator log:\n{}",
                operator.log_tail()
            );
            operator.kill();
            kills += 1;
            operator = Operator::start("kills", &env, &[]);
        }
        let lines = std::fs::read_to_string(&trace).unwrap_or_default();
        let runs = runs.lock().unwrap().clone();
        for (id, seen) in runs.iter().filter(|(id, _)| !before.contains(id)) {
            assert_eq!(seen.ended, Some(RunPhase::Succeeded), "{id}: {seen:?}");
            for (op, attempts) in &seen.attempts {
                let ran = lines.lines().filter(|l| l == op).count() as u32;
                if ran > *attempts {
                    violations += 1;
                    println!("violation: {id} op {op} ran {ran} times in {attempts} attempt(s)");
                }
                extra_attempts += attempts - 1;
            }
        }
        units += 1;
    }
    println!(
        "{kills} kills, {violations} violations ({units} captures and recoveries, \
         {extra_attempts} extra attempts, each shown in status)"
    );
    assert_eq!(violations, 0);
}
