//! Unwinding a run that stopped: the inverse op of every op that succeeded and declares one,
//! and of the op whose failure stopped the run, runs once, newest first, so that nothing is
//! left quiesced (SPEC 5). An op whose inverse already ran as a later step of the run is done.
//! The queue lives in the run itself (`StepProgress::inverse`, `Pending` until started), so it
//! survives restarts.

use super::{Action, HookObservation, Observed, same_plan};
use crate::api::progress::{InverseProgress, StepPhase, WorkflowRun};
use crate::recipe::plan::{Action as PlanAction, Step, WorkflowPlan};

/// The plan step that step `i` of `run` ran: by index in the run's own plan, by name when the
/// plan changed under the run (the hook may still be there, with its inverse).
pub fn planned<'a>(plan: &'a WorkflowPlan, run: &WorkflowRun, i: usize) -> Option<&'a Step> {
    if same_plan(plan, run) {
        return plan.steps.get(i);
    }
    let name = &run.steps.get(i)?.name;
    plan.steps.iter().find(|s| &s.name == name)
}

/// The inverse op (name) of step `i`, and the step name it has when run as a step of its own.
fn inverse_of(plan: &WorkflowPlan, run: &WorkflowRun, i: usize) -> Option<(String, String)> {
    match &planned(plan, run, i)?.action {
        PlanAction::Exec(exec) => exec
            .inverse
            .as_ref()
            .map(|inv| (inv.op.clone(), format!("hook {}/{}", exec.hook, inv.op))),
        PlanAction::Job(job) => job
            .inverse
            .as_ref()
            .map(|inv| (inv.name.clone(), format!("hook {}/{}", job.hook, inv.name))),
        _ => None,
    }
}

/// Queues the inverses due now that the run stopped; `stopper` is the step whose failure
/// stopped it, if one did. Idempotent: a step whose inverse is queued or done is left alone.
pub fn queue(plan: &WorkflowPlan, run: &mut WorkflowRun, stopper: Option<usize>) {
    for j in 0..run.steps.len() {
        let step = &run.steps[j];
        let ran = step.phase == StepPhase::Succeeded
            || (step.phase == StepPhase::Failed && stopper == Some(j));
        if !ran || step.inverse.is_some() {
            continue;
        }
        let Some((op, as_step)) = inverse_of(plan, run, j) else {
            continue;
        };
        let undone = run.steps[j + 1..]
            .iter()
            .any(|later| later.name == as_step && later.phase == StepPhase::Succeeded);
        if !undone {
            run.steps[j].inverse = Some(InverseProgress {
                op,
                phase: StepPhase::Pending,
                attempt: 0,
                message: None,
                results: vec![],
            });
        }
    }
}

/// Moves the unwinding on: the newest queued inverse starts, or is observed until it ends, then
/// the next. Returns whether an inverse is still to run or running.
pub fn advance(
    plan: &WorkflowPlan,
    run: &mut WorkflowRun,
    observed: &Observed,
    actions: &mut Vec<Action>,
) -> bool {
    loop {
        let Some(i) = (0..run.steps.len()).rev().find(|&i| {
            run.steps[i]
                .inverse
                .as_ref()
                .is_some_and(|inv| !inv.phase.is_terminal())
        }) else {
            return false;
        };
        let known = inverse_of(plan, run, i).is_some();
        let Some(inv) = run.steps[i].inverse.as_mut() else {
            return false;
        };
        if !known {
            inv.phase = StepPhase::Failed;
            inv.message = Some("not run: the hook or its inverse op left the recipe".into());
            continue;
        }
        let observation = match inv.phase {
            StepPhase::Pending => HookObservation::NotRunning,
            _ => observed
                .inverses
                .get(&i)
                .cloned()
                .unwrap_or(HookObservation::NotRunning),
        };
        match observation {
            HookObservation::Running => return true,
            HookObservation::NotRunning => {
                if inv.phase == StepPhase::Running {
                    inv.message = Some(format!(
                        "attempt {} was interrupted (operator restart); running it again",
                        inv.attempt
                    ));
                }
                inv.phase = StepPhase::Running;
                inv.attempt += 1;
                actions.push(Action::StartInverse {
                    step: i,
                    attempt: inv.attempt,
                });
                return true;
            }
            HookObservation::Finished {
                ok,
                message,
                results,
            } => {
                inv.phase = if ok {
                    StepPhase::Succeeded
                } else {
                    StepPhase::Failed
                };
                inv.message = Some(message);
                inv.results = results;
            }
        }
    }
}

/// `inverse op undo succeeded; inverse op thaw failed: ...`, newest first, for the run's
/// message; empty when no inverse ran.
pub fn summary(run: &WorkflowRun) -> String {
    run.steps
        .iter()
        .rev()
        .filter_map(|s| s.inverse.as_ref())
        .map(|inv| match inv.phase {
            StepPhase::Succeeded => format!("inverse op {} succeeded", inv.op),
            _ => format!(
                "inverse op {} failed: {}",
                inv.op,
                inv.message.as_deref().unwrap_or("no reason given")
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
