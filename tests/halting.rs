//! A run stopped from outside — the VRG paused, turned secondary or deleted while it ran —
//! waits for the op in flight, starts nothing new, and undoes what it quiesced, newest first.
//! Exec ops run through the real pod exec API into kwok pods; no group step ever starts.

mod support;

use std::time::Duration;

use futures::StreamExt;
use kube::api::DeleteParams;
use kube::runtime::watcher;
use serde_json::json;
use support::env::{Env, condition, options};
use support::hooks::{finished, lines, vrg};
use vrg_operator::api::progress::{RunPhase, StepPhase, WorkflowRun};

const TIMEOUT: Duration = Duration::from_secs(40);

/// quiesce (undone by unquiesce), a slow op, then a group: stopped during the slow op, the run
/// has quiesced and not yet captured.
fn quiesce_slow_group(env: &Env) -> String {
    let file = format!("trace-{}", env.ns);
    format!(
        "      groups: [{{name: data}}]
      hooks:
        - name: db
          type: exec
          labelSelector: app=db
          ops:
            - {{name: quiesce, inverseOp: unquiesce, command: '[\"/bin/sh\", \"-c\", \"echo quiesce >> {file}\"]'}}
            - {{name: unquiesce, command: '[\"/bin/sh\", \"-c\", \"echo unquiesce >> {file}\"]'}}
            - {{name: slow, command: '[\"/bin/sh\", \"-c\", \"echo slow >> {file}; sleep 2\"]'}}
      workflows:
        - name: backup
          sequence: [{{hook: db/quiesce}}, {{hook: db/slow}}, {{group: data}}]
"
    )
}

/// The run waited for the slow op, skipped the group, and ran unquiesce once, saying so.
async fn assert_stopped_and_unwound(env: &Env, run: &WorkflowRun, why: &str) {
    assert_eq!(run.phase, RunPhase::Failed);
    let message = run.message.clone().unwrap();
    assert!(
        message.starts_with(why) && message.ends_with("inverse op unquiesce succeeded"),
        "{message}"
    );
    let phases: Vec<StepPhase> = run.steps.iter().map(|s| s.phase).collect();
    assert_eq!(
        phases,
        [
            StepPhase::Succeeded,
            StepPhase::Succeeded,
            StepPhase::Skipped
        ],
        "the op in flight was waited for; the group never started"
    );
    assert_eq!(lines(env), ["quiesce", "slow", "unquiesce"]);
    assert!(
        env.backups()
            .list(&env.own())
            .await
            .unwrap()
            .items
            .is_empty(),
        "no Backup of the stopped run"
    );
}

#[tokio::test]
async fn pausing_mid_run_stops_the_run_and_undoes_what_it_quiesced() {
    let env = Env::start("halt-pause").await;
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let recipe = quiesce_slow_group(&env);
    env.apply(&vrg(&recipe)).await;
    env.wait_step("app", "hook db/slow", TIMEOUT).await;
    let paused = vrg(&recipe).replace(
        "    captureInterval: 1h\n",
        "    captureInterval: 1h\n    recipeParameters: {STOP_RECIPE_RECONCILE: [\"true\"]}\n",
    );
    env.apply(&paused).await;
    let vrg = env
        .wait("app", "the run to stop", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_stopped_and_unwound(&env, &run, "the VRG was paused").await;
    assert!(condition(&vrg, "RecipeReady").is_some_and(|c| c.reason == "Paused"));
}

#[tokio::test]
async fn turning_secondary_mid_run_stops_the_run_and_undoes_what_it_quiesced() {
    let env = Env::start("halt-demote").await;
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let recipe = quiesce_slow_group(&env);
    env.apply(&vrg(&recipe)).await;
    env.wait_step("app", "hook db/slow", TIMEOUT).await;
    let demoted = vrg(&recipe).replace("replicationState: primary", "replicationState: secondary");
    env.apply(&demoted).await;
    let vrg = env
        .wait("app", "the run to stop", TIMEOUT, |v| finished(v).is_some())
        .await;
    let run = finished(&vrg).unwrap();
    assert_stopped_and_unwound(&env, &run, "the VRG was turned secondary").await;
}

#[tokio::test]
async fn deleting_mid_run_undoes_what_it_quiesced_before_the_vrg_goes() {
    let mut env = Env::start("halt-delete").await;
    let options = options(&env.velero_ns, &env.ns);
    let metrics = options.metrics.clone();
    env.restart_controller_with(options);
    env.running_pod(&env.ns, "db-0", json!({"app": "db"})).await;
    let recipe = quiesce_slow_group(&env);
    env.apply(&vrg(&recipe)).await;
    env.wait_step("app", "hook db/slow", TIMEOUT).await;
    assert!(metrics.hook_tasks.get() > 0, "the slow op's task is held");
    // The VRG's last state arrives with its deletion: what the run left in status.
    let mut events = watcher(
        env.vrgs(),
        watcher::Config::default().fields("metadata.name=app"),
    )
    .boxed();
    env.vrgs()
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    let last = tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = events.next().await {
            if let Ok(watcher::Event::Delete(vrg)) = event {
                return vrg;
            }
        }
        unreachable!("the watch ended")
    })
    .await
    .expect("the VRG was never released");
    let run = finished(&last).expect("the run ended before the finalizer went");
    assert_stopped_and_unwound(&env, &run, "the VRG was deleted").await;
    assert_eq!(
        metrics.hook_tasks.get(),
        0,
        "nothing is held in memory for a deleted VRG"
    );
}
