//! Unwinding: what runs when a run stops, in which order, once.

use std::collections::BTreeMap;

use super::tests::{at, done, failed, hook_finished, observe, phases, plan};
use super::*;
use crate::api::progress::StepPhase::*;

fn inverses(now: i64, done: &[(usize, bool)]) -> Observed {
    Observed {
        now: at(now),
        steps: BTreeMap::new(),
        inverses: done
            .iter()
            .map(|&(i, ok)| {
                (
                    i,
                    HookObservation::Finished {
                        ok,
                        message: if ok { "exit 0".into() } else { "exit 1".into() },
                        results: vec![],
                    },
                )
            })
            .collect(),
    }
}

/// Runs `plan` with each step ending as `ends` says, up to the first unwinding action.
fn until_stopped(plan: &WorkflowPlan, ends: &[Observation]) -> Next {
    let mut n = next(plan, &start(plan, "r".into(), 1, at(0)), &observe(0, &[]));
    for (i, end) in ends.iter().enumerate() {
        n = next(plan, &n.run, &observe(1 + i as i64, &[(i, end.clone())]));
    }
    n
}

fn start_inverse(step: usize, attempt: u32) -> Vec<Action> {
    vec![Action::StartInverse { step, attempt }]
}

#[test]
fn a_later_failure_undoes_every_earlier_op_newest_first_then_ends() {
    let plan = plan(
        &["hook: h/freeze", "hook: h/lock", "group: g0"],
        "any-error",
    );
    let ok = hook_finished(true);
    let n = until_stopped(&plan, &[ok.clone(), ok, failed(false)]);
    assert_eq!(phases(&n.run), [Succeeded, Succeeded, Failed]);
    assert_eq!(n.actions, start_inverse(1, 1), "lock's inverse first");
    assert_eq!(n.run.steps[0].inverse.as_ref().unwrap().phase, Pending);
    assert_eq!(n.run.phase, RunPhase::Running);
    let n = next(&plan, &n.run, &inverses(10, &[(1, true)]));
    assert_eq!(n.actions, start_inverse(0, 1), "then freeze's");
    let n = next(&plan, &n.run, &inverses(11, &[(0, false)]));
    assert!(n.actions.is_empty());
    assert_eq!(n.run.phase, RunPhase::Failed);
    let message = n.run.message.as_deref().unwrap();
    assert!(message.starts_with("stopped: group g0 failed"), "{message}");
    assert!(
        message.ends_with("inverse op unlock succeeded; inverse op undo failed: exit 1"),
        "{message}"
    );
    let after = next(&plan, &n.run, &inverses(12, &[]));
    assert!(after.actions.is_empty(), "each inverse ran once");
}

#[test]
fn the_failing_op_is_undone_first_then_the_earlier_ones() {
    let plan = plan(
        &["hook: h/lock", "hook: h/quiesce", "group: g0"],
        "any-error",
    );
    let n = until_stopped(&plan, &[hook_finished(true), hook_finished(false)]);
    assert_eq!(phases(&n.run), [Succeeded, Failed, Skipped]);
    assert_eq!(n.actions, start_inverse(1, 1));
    let n = next(&plan, &n.run, &inverses(10, &[(1, true)]));
    assert_eq!(n.actions, start_inverse(0, 1));
}

#[test]
fn an_op_whose_inverse_already_ran_as_a_step_is_not_undone_again() {
    let plan = plan(
        &["hook: h/freeze", "hook: h/undo", "group: g0"],
        "any-error",
    );
    let ok = hook_finished(true);
    let n = until_stopped(&plan, &[ok.clone(), ok, failed(false)]);
    assert!(n.actions.is_empty());
    assert_eq!(n.run.phase, RunPhase::Failed);
    assert!(n.run.steps.iter().all(|s| s.inverse.is_none()));
}

#[test]
fn a_succeeded_run_undoes_nothing() {
    let plan = plan(&["hook: h/freeze", "group: g0"], "any-error");
    let n = until_stopped(&plan, &[hook_finished(true), done()]);
    assert_eq!(n.run.phase, RunPhase::Succeeded);
    assert!(n.actions.is_empty());
}

#[test]
fn an_inverse_interrupted_by_a_restart_runs_again_as_a_new_attempt() {
    let plan = plan(&["hook: h/freeze", "group: g0"], "any-error");
    let n = until_stopped(&plan, &[hook_finished(true), failed(false)]);
    assert_eq!(n.actions, start_inverse(0, 1));
    let mut lost = inverses(10, &[]);
    lost.inverses.insert(0, HookObservation::NotRunning);
    let n = next(&plan, &n.run, &lost);
    assert_eq!(n.actions, start_inverse(0, 2));
    let inv = n.run.steps[0].inverse.as_ref().unwrap();
    assert!(inv.message.as_deref().unwrap().contains("interrupted"));
}

#[test]
fn a_plan_changed_mid_run_undoes_the_ops_of_hooks_still_in_the_recipe() {
    let old = plan(&["hook: h/freeze", "group: g0", "group: g1"], "any-error");
    let new = plan(&["hook: h/freeze", "group: g3"], "any-error");
    let n = until_stopped(&old, &[hook_finished(true)]);
    assert_eq!(phases(&n.run), [Succeeded, Running, Pending]);
    // g0's Backup still runs: waited for, nothing started.
    let running = Observation::Velero(vec![Some(ObjectProgress::Running)]);
    let n = next(&new, &n.run, &observe(5, &[(1, running)]));
    assert!(n.actions.is_empty());
    assert_eq!(n.run.phase, RunPhase::Running);
    let n = next(&new, &n.run, &observe(6, &[(1, done())]));
    assert_eq!(phases(&n.run), [Succeeded, Succeeded, Skipped]);
    assert_eq!(n.actions, start_inverse(0, 1), "freeze is undone");
    let n = next(&new, &n.run, &inverses(7, &[(0, true)]));
    assert_eq!(n.run.phase, RunPhase::Failed);
    assert!(n.run.plan_changed);
    let message = n.run.message.as_deref().unwrap();
    assert!(message.ends_with("inverse op undo succeeded"), "{message}");
}

#[test]
fn an_op_of_a_hook_that_left_the_recipe_cannot_be_undone_and_the_run_ends() {
    let old = plan(&["hook: h/freeze", "group: g0"], "any-error");
    let new = plan(&["group: g3"], "any-error");
    let n = until_stopped(&old, &[hook_finished(true)]);
    let n = next(&new, &n.run, &observe(6, &[(1, done())]));
    assert!(n.actions.is_empty());
    assert_eq!(n.run.phase, RunPhase::Failed);
    assert!(n.run.steps[0].inverse.is_none());
}

#[test]
fn a_queued_inverse_whose_hook_then_left_the_recipe_is_reported_not_run() {
    let old = plan(
        &["hook: h/freeze", "hook: h/lock", "group: g0"],
        "any-error",
    );
    let new = plan(&["group: g3"], "any-error");
    let ok = hook_finished(true);
    let n = until_stopped(&old, &[ok.clone(), ok, failed(false)]);
    assert_eq!(n.actions, start_inverse(1, 1));
    let n = next(&new, &n.run, &inverses(10, &[(1, true)]));
    assert!(n.actions.is_empty());
    assert_eq!(n.run.phase, RunPhase::Failed);
    let inv = n.run.steps[0].inverse.as_ref().unwrap();
    assert_eq!(inv.phase, Failed);
    assert!(inv.message.as_deref().unwrap().contains("left the recipe"));
}

#[test]
fn a_halted_run_waits_for_its_running_step_starts_nothing_and_unwinds() {
    let plan = plan(&["hook: h/freeze", "group: g0", "group: g1"], "any-error");
    let n = until_stopped(&plan, &[hook_finished(true)]);
    let running = Observation::Velero(vec![Some(ObjectProgress::Running)]);
    let n = halt(&plan, &n.run, &observe(5, &[(1, running)]), Halt::Paused);
    assert!(n.actions.is_empty(), "g1 never starts");
    assert_eq!(n.run.phase, RunPhase::Running, "g0's Backup is waited for");
    let n = halt(&plan, &n.run, &observe(6, &[(1, done())]), Halt::Paused);
    assert_eq!(phases(&n.run), [Succeeded, Succeeded, Skipped]);
    assert_eq!(n.actions, start_inverse(0, 1));
    let n = halt(&plan, &n.run, &inverses(7, &[(0, true)]), Halt::Paused);
    assert_eq!(n.run.phase, RunPhase::Failed);
    let message = n.run.message.as_deref().unwrap();
    assert!(message.starts_with("the VRG was paused"), "{message}");
    assert!(message.ends_with("inverse op undo succeeded"), "{message}");
    let again = halt(&plan, &n.run, &inverses(8, &[]), Halt::Paused);
    assert!(again.actions.is_empty(), "an ended run stays ended");
}

#[test]
fn a_halted_run_whose_last_step_was_in_flight_ends_as_its_steps_ended() {
    let plan = plan(&["hook: h/freeze", "group: g0"], "any-error");
    let n = until_stopped(&plan, &[hook_finished(true)]);
    let running = Observation::Velero(vec![Some(ObjectProgress::Running)]);
    let n = halt(&plan, &n.run, &observe(5, &[(1, running)]), Halt::Demoted);
    assert_eq!(n.run.phase, RunPhase::Running, "g0's Backup is waited for");
    let n = halt(&plan, &n.run, &observe(6, &[(1, done())]), Halt::Demoted);
    assert_eq!(n.run.phase, RunPhase::Succeeded, "nothing was skipped");
    assert!(n.actions.is_empty(), "nothing to undo in a complete run");
}

#[test]
fn every_halt_says_why_the_run_stopped() {
    let plan = plan(&["hook: h/freeze", "group: g0", "group: g1"], "any-error");
    for (halt_for, why) in [
        (Halt::Paused, "the VRG was paused"),
        (Halt::Demoted, "the VRG was turned secondary"),
        (Halt::Deleted, "the VRG was deleted"),
    ] {
        let n = until_stopped(&plan, &[hook_finished(true)]);
        let n = halt(&plan, &n.run, &observe(6, &[(1, done())]), halt_for);
        let n = halt(&plan, &n.run, &inverses(7, &[(0, true)]), halt_for);
        assert_eq!(n.run.phase, RunPhase::Failed);
        let message = n.run.message.as_deref().unwrap();
        assert!(message.starts_with(why), "{message}");
    }
}
