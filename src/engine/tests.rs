//! The state machine's rules, one scenario each.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::recipe::{Loaded, Settings, load_vrg};

/// The backup plan of an inline recipe: `steps` is the sequence (YAML list items), `fail_on` the
/// workflow's failOn. Groups g0..g3 and hook `h` (ops `ok`, `undo`, `tolerant` with onError
/// continue; `quiesce` whose inverse is `undo`, `freeze` (succeeds) whose inverse is `undo`, `lock`
/// (succeeds) whose inverse is `unlock`) exist; group g2 is not essential, the rest are.
pub fn plan(steps: &[&str], fail_on: &str) -> WorkflowPlan {
    let sequence: String = steps
        .iter()
        .map(|s| format!("            - {s}\n"))
        .collect();
    let yaml = format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: v, namespace: app}}
spec:
  replicationState: primary
  s3Profiles: [default]
  kubeObjectProtection:
    recipe:
      groups:
        - {{name: g0, essential: true}}
        - {{name: g1, timeout: 60, essential: true}}
        - {{name: g2, essential: false}}
        - {{name: g3, essential: true}}
      hooks:
        - name: h
          type: exec
          labelSelector: app=db
          timeout: 100
          essential: true
          ops:
            - {{name: ok, command: /bin/true}}
            - {{name: undo, command: /bin/true}}
            - {{name: tolerant, command: /bin/false, onError: continue}}
            - {{name: quiesce, command: /bin/false, inverseOp: undo}}
            - {{name: freeze, command: /bin/true, inverseOp: undo}}
            - {{name: unlock, command: /bin/true}}
            - {{name: lock, command: /bin/true, inverseOp: unlock}}
      workflows:
        - name: backup
          failOn: {fail_on}
          sequence:
{sequence}"
    );
    let doc: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    match load_vrg(&doc, "app", &BTreeMap::new(), &Settings::default()) {
        Ok(Loaded::Planned(plan)) => plan.backup.unwrap(),
        other => panic!("{other:?}"),
    }
}

pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

pub(crate) fn observe(now: i64, steps: &[(usize, Observation)]) -> Observed {
    Observed {
        now: at(now),
        steps: steps.iter().cloned().collect(),
        inverses: BTreeMap::new(),
    }
}

pub(crate) fn velero(progress: &[ObjectProgress]) -> Observation {
    Observation::Velero(progress.iter().cloned().map(Some).collect())
}

pub(crate) fn done() -> Observation {
    velero(&[ObjectProgress::Completed])
}

pub(crate) fn failed(retryable: bool) -> Observation {
    velero(&[ObjectProgress::Failed {
        reason: "PartiallyFailed: 2 errors".into(),
        retryable,
    }])
}

pub(crate) fn hook_finished(ok: bool) -> Observation {
    Observation::Hook(HookObservation::Finished {
        ok,
        message: if ok { "exit 0" } else { "exit 1" }.into(),
        results: vec![],
    })
}

pub(crate) fn phases(run: &WorkflowRun) -> Vec<StepPhase> {
    run.steps.iter().map(|s| s.phase).collect()
}

use StepPhase::{Failed, Pending, Running, Skipped, Succeeded};

#[test]
fn steps_run_strictly_in_order() {
    let plan = plan(&["group: g0", "hook: h/ok", "group: g3"], "any-error");
    let run = start(&plan, "backup-1".into(), 1, at(0));
    let n = next(&plan, &run, &observe(0, &[]));
    assert_eq!(
        n.actions,
        [Action::Start {
            step: 0,
            attempt: 1
        }]
    );
    assert_eq!(phases(&n.run), [Running, Pending, Pending]);
    let n = next(
        &plan,
        &n.run,
        &observe(1, &[(0, velero(&[ObjectProgress::Running]))]),
    );
    assert!(n.actions.is_empty(), "nothing new while the Backup runs");
    let n = next(&plan, &n.run, &observe(2, &[(0, done())]));
    assert_eq!(
        n.actions,
        [Action::Start {
            step: 1,
            attempt: 1
        }],
        "the next step starts in the same pass"
    );
    let n = next(&plan, &n.run, &observe(3, &[(1, hook_finished(true))]));
    assert_eq!(
        n.actions,
        [Action::Start {
            step: 2,
            attempt: 1
        }]
    );
    let n = next(&plan, &n.run, &observe(4, &[(2, done())]));
    assert_eq!(n.run.phase, RunPhase::Succeeded);
    assert_eq!(phases(&n.run), [Succeeded, Succeeded, Succeeded]);
    assert!(n.run.end_time.is_some());
}

#[test]
fn a_finished_step_never_runs_again() {
    let plan = plan(&["group: g0", "group: g3"], "any-error");
    let run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    let run = next(&plan, &run, &observe(1, &[(0, done())])).run;
    // Stale or contradictory news about step 0 changes nothing.
    let n = next(
        &plan,
        &run,
        &observe(
            2,
            &[(0, failed(true)), (1, velero(&[ObjectProgress::Running]))],
        ),
    );
    assert_eq!(n.run.steps[0].phase, Succeeded);
    assert_eq!(n.run.steps[0].attempt, 1);
    assert!(n.actions.iter().all(|a| *a
        != Action::Start {
            step: 0,
            attempt: 2
        }));
}

#[test]
fn missing_objects_are_created_again_idempotently() {
    let plan = plan(&["group: g0"], "any-error");
    let run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    let n = next(
        &plan,
        &run,
        &observe(1, &[(0, Observation::Velero(vec![None]))]),
    );
    assert_eq!(
        n.actions,
        [Action::Start {
            step: 0,
            attempt: 1
        }],
        "same attempt, same names"
    );
    assert_eq!(n.run.steps[0].phase, Running);
}

#[test]
fn any_error_stops_at_the_first_failure() {
    let plan = plan(&["group: g0", "group: g2", "group: g3"], "any-error");
    let run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    let n = next(&plan, &run, &observe(1, &[(0, failed(false))]));
    assert_eq!(phases(&n.run), [Failed, Skipped, Skipped]);
    assert_eq!(n.run.phase, RunPhase::Failed);
    assert!(
        n.run
            .message
            .as_deref()
            .unwrap()
            .contains("group g0 failed: PartiallyFailed: 2 errors"),
        "{:?}",
        n.run.message
    );
    assert!(n.actions.is_empty());
}

#[test]
fn essential_error_tolerates_non_essential_failures() {
    let plan = plan(&["group: g0", "group: g2", "group: g3"], "essential-error");
    let run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    let run = next(&plan, &run, &observe(1, &[(0, done())])).run;
    let n = next(&plan, &run, &observe(2, &[(1, failed(false))]));
    assert_eq!(
        phases(&n.run),
        [Succeeded, Failed, Running],
        "g2 is not essential"
    );
    let n = next(&plan, &n.run, &observe(3, &[(2, done())]));
    assert_eq!(n.run.phase, RunPhase::PartiallySucceeded);
    // An essential failure stops it.
    let n = next(&plan, &run, &observe(2, &[(1, done())]));
    let n = next(&plan, &n.run, &observe(3, &[(2, failed(false))]));
    assert_eq!(n.run.phase, RunPhase::Failed);
}

#[test]
fn full_error_runs_everything_and_fails_only_if_every_essential_step_failed() {
    let plan = plan(&["group: g0", "group: g2", "group: g3"], "full-error");
    let run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    let run = next(&plan, &run, &observe(1, &[(0, failed(false))])).run;
    assert_eq!(phases(&run), [Failed, Running, Pending]);
    let run = next(&plan, &run, &observe(2, &[(1, done())])).run;
    let partly = next(&plan, &run, &observe(3, &[(2, done())]));
    assert_eq!(partly.run.phase, RunPhase::PartiallySucceeded);
    let all = next(&plan, &run, &observe(3, &[(2, failed(false))]));
    assert_eq!(
        all.run.phase,
        RunPhase::Failed,
        "g0 and g3, the essential steps, both failed"
    );
}

#[test]
fn on_error_continue_goes_on() {
    let plan = plan(&["hook: h/tolerant", "group: g0"], "any-error");
    let run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    let n = next(&plan, &run, &observe(1, &[(0, hook_finished(false))]));
    assert_eq!(phases(&n.run), [Failed, Running]);
    let n = next(&plan, &n.run, &observe(2, &[(1, done())]));
    assert_eq!(n.run.phase, RunPhase::PartiallySucceeded);
}

#[test]
fn an_interrupted_exec_runs_again_as_a_new_attempt() {
    let plan = plan(&["hook: h/ok", "group: g0"], "any-error");
    let run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    let run = next(
        &plan,
        &run,
        &observe(1, &[(0, Observation::Hook(HookObservation::Running))]),
    )
    .run;
    // The operator restarts: no task exists for attempt 1.
    let n = next(
        &plan,
        &run,
        &observe(2, &[(0, Observation::Hook(HookObservation::NotRunning))]),
    );
    assert_eq!(
        n.actions,
        [Action::Start {
            step: 0,
            attempt: 2
        }]
    );
    assert_eq!(n.run.steps[0].attempt, 2);
    assert_eq!(
        n.run.steps[0].message.as_deref(),
        Some("attempt 1 was interrupted (operator restart); running it again")
    );
}

#[test]
fn velero_restarts_are_retried_a_bounded_number_of_times() {
    let plan = plan(&["group: g0"], "any-error");
    let mut run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    for attempt in 2..=MAX_VELERO_ATTEMPTS {
        let n = next(
            &plan,
            &run,
            &observe(i64::from(attempt), &[(0, failed(true))]),
        );
        assert_eq!(n.actions, [Action::Start { step: 0, attempt }]);
        assert!(
            n.run.steps[0]
                .message
                .as_deref()
                .unwrap()
                .contains("retrying under new names")
        );
        run = n.run;
    }
    let n = next(&plan, &run, &observe(10, &[(0, failed(true))]));
    assert_eq!(n.run.phase, RunPhase::Failed, "attempts are bounded");
    assert_eq!(n.run.steps[0].attempt, MAX_VELERO_ATTEMPTS);
}

#[test]
fn a_group_timeout_fails_the_step() {
    let plan = plan(&["group: g1", "group: g0"], "any-error");
    let run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    let running = [(0, velero(&[ObjectProgress::Running]))];
    let n = next(&plan, &run, &observe(30, &running));
    assert_eq!(
        n.wake_after,
        Some(Duration::from_secs(30)),
        "woken at the deadline"
    );
    let n = next(&plan, &n.run, &observe(61, &running));
    assert_eq!(n.run.phase, RunPhase::Failed);
    assert_eq!(
        n.run.steps[0].message.as_deref(),
        Some("timed out after 1m")
    );
}

#[test]
fn a_timed_out_step_is_not_passed_while_its_object_still_runs() {
    let plan = plan(&["group: g1", "group: g0"], "full-error");
    let run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    let running = [(0, velero(&[ObjectProgress::Running]))];
    let n = next(&plan, &run, &observe(61, &running));
    assert_eq!(
        phases(&n.run),
        [Running, Pending],
        "failed but waiting for Velero"
    );
    assert!(n.run.steps[0].timed_out);
    let n = next(&plan, &n.run, &observe(500, &running));
    assert_eq!(phases(&n.run), [Running, Pending]);
    let n = next(&plan, &n.run, &observe(501, &[(0, done())]));
    assert_eq!(
        phases(&n.run),
        [Failed, Running],
        "a late completion is still a timeout"
    );
}

#[test]
fn a_failed_op_that_stops_the_run_runs_its_inverse_once() {
    let plan = plan(&["hook: h/quiesce", "group: g0"], "any-error");
    let run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    let n = next(&plan, &run, &observe(1, &[(0, hook_finished(false))]));
    assert_eq!(
        n.actions,
        [Action::StartInverse {
            step: 0,
            attempt: 1
        }]
    );
    assert_eq!(
        n.run.phase,
        RunPhase::Running,
        "the run ends once the inverse has run"
    );
    assert_eq!(phases(&n.run), [Failed, Skipped]);
    let mut inverses = BTreeMap::new();
    inverses.insert(0, HookObservation::Running);
    let still = next(
        &plan,
        &n.run,
        &Observed {
            now: at(2),
            steps: BTreeMap::new(),
            inverses: inverses.clone(),
        },
    );
    assert!(still.actions.is_empty());
    inverses.insert(
        0,
        HookObservation::Finished {
            ok: true,
            message: "exit 0".into(),
            results: vec![],
        },
    );
    let end = next(
        &plan,
        &still.run,
        &Observed {
            now: at(3),
            steps: BTreeMap::new(),
            inverses,
        },
    );
    assert_eq!(end.run.phase, RunPhase::Failed);
    assert_eq!(end.run.steps[0].inverse.as_ref().unwrap().phase, Succeeded);
    assert!(
        end.run
            .message
            .as_deref()
            .unwrap()
            .ends_with("inverse op undo succeeded"),
        "{:?}",
        end.run.message
    );
    assert!(
        next(&plan, &end.run, &observe(4, &[])).actions.is_empty(),
        "nothing runs after the end"
    );
}

#[test]
fn a_tolerated_failure_runs_no_inverse() {
    let plan = plan(&["hook: h/quiesce", "group: g0"], "full-error");
    let run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    let n = next(&plan, &run, &observe(1, &[(0, hook_finished(false))]));
    assert_eq!(
        n.actions,
        [Action::Start {
            step: 1,
            attempt: 1
        }]
    );
    assert!(n.run.steps[0].inverse.is_none());
}

#[test]
fn a_recipe_change_under_a_running_run_ends_it() {
    let plan2 = plan(&["group: g0", "group: g3"], "any-error");
    let plan1 = plan(&["group: g0"], "any-error");
    let run = next(
        &plan1,
        &start(&plan1, "r".into(), 1, at(0)),
        &observe(0, &[]),
    )
    .run;
    let n = next(&plan2, &run, &observe(1, &[]));
    assert_eq!(n.run.phase, RunPhase::Failed);
    assert!(n.actions.is_empty());
}

#[test]
fn watched_names_running_steps_and_inverses() {
    let plan = plan(&["group: g0", "group: g3"], "any-error");
    let run = next(&plan, &start(&plan, "r".into(), 1, at(0)), &observe(0, &[])).run;
    assert_eq!(watched(&run), (vec![0], vec![]));
}

#[test]
fn a_run_whose_plan_changed_waits_for_its_step_then_ends_and_the_next_starts_at_once() {
    let old = plan(&["group: g0", "hook: h/ok", "group: g3"], "any-error");
    let run = start(&old, "backup-1".into(), 1, at(0));
    let run = next(&old, &run, &observe(0, &[])).run;
    assert_eq!(phases(&run), [Running, Pending, Pending]);
    // Replaced in place: same length, other steps.
    let new = plan(&["group: g1", "hook: h/ok", "group: g3"], "any-error");
    assert!(!same_plan(&new, &run));
    let still = next(
        &new,
        &run,
        &observe(1, &[(0, velero(&[ObjectProgress::Running]))]),
    );
    assert!(still.actions.is_empty(), "nothing of either plan starts");
    assert_eq!(still.run.phase, RunPhase::Running, "waits for g0's Backup");
    assert_eq!(phases(&still.run), [Running, Skipped, Skipped]);
    let ended = next(&new, &still.run, &observe(2, &[(0, done())]));
    assert!(ended.actions.is_empty());
    assert_eq!(ended.run.phase, RunPhase::Failed);
    assert!(ended.run.plan_changed);
    assert!(
        ended
            .run
            .message
            .as_deref()
            .unwrap()
            .contains("the recipe changed while the run was in progress"),
        "{:?}",
        ended.run.message
    );
    assert_eq!(
        schedule::capture(Some(&ended.run), Duration::from_secs(3600), false, at(3)),
        schedule::Schedule::Start { number: 2 }
    );
    // Shortened: no index past the new plan's end.
    let short = plan(&["group: g0"], "any-error");
    let n = next(&short, &run, &observe(1, &[(0, done())]));
    assert_eq!(n.run.phase, RunPhase::Failed);
    assert!(n.actions.is_empty());
}

#[test]
fn a_parameter_or_profile_change_is_a_plan_change() {
    let a = plan(&["group: g0"], "any-error");
    let run = start(&a, "backup-1".into(), 1, at(0));
    let mut b = a.clone();
    b.steps[0].timeout = Duration::from_secs(7);
    let b = b.sealed(&["default".into()]);
    assert!(same_plan(&a, &run));
    assert!(!same_plan(&b, &run));
    assert_ne!(
        a.clone().sealed(&["east".into()]).fingerprint,
        a.clone().sealed(&["west".into()]).fingerprint
    );
}
