//! The engine's decisions about one step: has it ended, how, and does its failure stop the run.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::{
    Action, HOOK_GRACE, HookObservation, MAX_VELERO_ATTEMPTS, ObjectProgress, Observation,
    Observed, begin,
};
use crate::api::progress::{RunPhase, StepPhase, StepProgress};
use crate::recipe::model::{FailOn, OnError};
use crate::recipe::plan::{Action as PlanAction, WorkflowPlan};

/// Whether a failure of step `i` stops the run (SPEC 5).
pub fn stops(plan: &WorkflowPlan, i: usize) -> bool {
    let step = &plan.steps[i];
    if step.on_error == OnError::Continue {
        return false;
    }
    match plan.fail_on {
        FailOn::AnyError => true,
        FailOn::EssentialError => step.essential,
        FailOn::FullError => false,
    }
}

/// The phase of a run whose steps all ended, `failed` being the failed ones (none stopped it).
pub fn final_phase(plan: &WorkflowPlan, failed: &[usize]) -> RunPhase {
    if failed.is_empty() {
        return RunPhase::Succeeded;
    }
    if plan.fail_on == FailOn::FullError {
        let essential: Vec<usize> = (0..plan.steps.len())
            .filter(|&i| plan.steps[i].essential)
            .collect();
        if !essential.is_empty() && essential.iter().all(|i| failed.contains(i)) {
            return RunPhase::Failed;
        }
    }
    RunPhase::PartiallySucceeded
}

fn end(step: &mut StepProgress, phase: StepPhase, now: Timestamp, message: Option<String>) {
    step.phase = phase;
    step.end_time = Some(Time(now));
    if message.is_some() {
        step.message = message;
    }
}

fn elapsed(step: &StepProgress, now: Timestamp) -> Duration {
    step.start_time
        .as_ref()
        .and_then(|t| Duration::try_from(now.duration_since(t.0)).ok())
        .unwrap_or(Duration::ZERO)
}

/// Moves running step `i` on from what was observed. Returns true when the step ended.
pub fn advance_running(
    plan: &WorkflowPlan,
    step: &mut StepProgress,
    i: usize,
    observed: &Observed,
    actions: &mut Vec<Action>,
) -> bool {
    let planned = &plan.steps[i];
    let now = observed.now;
    let timeout = planned.timeout;
    match (&planned.action, observed.steps.get(&i)) {
        (PlanAction::Backup { .. } | PlanAction::Restore { .. }, observation) => {
            let objects = match observation {
                Some(Observation::Velero(objects)) => objects.as_slice(),
                _ => &[],
            };
            let running = objects.is_empty()
                || objects
                    .iter()
                    .any(|o| matches!(o, None | Some(ObjectProgress::Running)));
            if running {
                if !step.timed_out && elapsed(step, now) > timeout {
                    let message =
                        format!("timed out after {}", humantime::format_duration(timeout));
                    if stops(plan, i) {
                        end(step, StepPhase::Failed, now, Some(message));
                        return true;
                    }
                    step.timed_out = true;
                    step.message = Some(format!(
                        "{message}; the step has failed and waits for Velero to finish before the next step starts"
                    ));
                }
                if objects.is_empty() || objects.iter().any(Option::is_none) {
                    // Not created yet, or not yet seen: creating again is a no-op if it exists.
                    actions.push(Action::Start {
                        step: i,
                        attempt: step.attempt,
                    });
                }
                return false;
            }
            if step.timed_out {
                let message = step.message.clone();
                end(step, StepPhase::Failed, now, message);
                return true;
            }
            let failures: Vec<(&String, bool)> = objects
                .iter()
                .flatten()
                .filter_map(|o| match o {
                    ObjectProgress::Failed { reason, retryable } => Some((reason, *retryable)),
                    _ => None,
                })
                .collect();
            if failures.is_empty() {
                end(step, StepPhase::Succeeded, now, None);
                return true;
            }
            let reasons: Vec<&str> = failures.iter().map(|(r, _)| r.as_str()).collect();
            if failures.iter().all(|(_, retryable)| *retryable)
                && step.attempt < MAX_VELERO_ATTEMPTS
            {
                let message = format!(
                    "attempt {} failed ({}); retrying under new names",
                    step.attempt,
                    reasons.join("; ")
                );
                begin(step, now, Some(message));
                actions.push(Action::Start {
                    step: i,
                    attempt: step.attempt,
                });
                return false;
            }
            end(step, StepPhase::Failed, now, Some(reasons.join("; ")));
            true
        }
        (
            PlanAction::Exec(_) | PlanAction::Check(_) | PlanAction::Scale(_) | PlanAction::Job(_),
            observation,
        ) => {
            let hook = match observation {
                Some(Observation::Hook(h)) => h,
                _ => &HookObservation::NotRunning,
            };
            match hook {
                HookObservation::Running => {
                    if elapsed(step, now) > timeout + HOOK_GRACE {
                        let message = format!(
                            "timed out after {} (its task did not end)",
                            humantime::format_duration(timeout)
                        );
                        end(step, StepPhase::Failed, now, Some(message));
                        return true;
                    }
                    false
                }
                HookObservation::NotRunning => {
                    let message = format!(
                        "attempt {} was interrupted (operator restart); running it again",
                        step.attempt
                    );
                    begin(step, now, Some(message));
                    actions.push(Action::Start {
                        step: i,
                        attempt: step.attempt,
                    });
                    false
                }
                HookObservation::Finished {
                    ok,
                    message,
                    results,
                } => {
                    step.results = results.clone();
                    let phase = if *ok {
                        StepPhase::Succeeded
                    } else {
                        StepPhase::Failed
                    };
                    end(step, phase, now, Some(message.clone()));
                    true
                }
            }
        }
    }
}
