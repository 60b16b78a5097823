//! The workflow state machine: given a plan, the persisted progress of a run and what the shell
//! observed, decide the next actions and the new progress. No I/O, no clock: `now` is an input.
//!
//! Rules (SPEC 5): steps run strictly in order; a finished step never runs again within its run;
//! a step is never passed while its Velero objects are still running; a Velero object failed by a
//! Velero restart is retried under a new name a bounded number of times; a hook whose task was
//! lost (operator restart) runs again as a new attempt; `failOn` and `essential` decide whether a
//! failure stops the run; a run that stops unwinds: the inverse op of the op that stopped it and
//! of every earlier op that succeeded runs once, newest first (`unwind`).

mod decide;
#[cfg(test)]
mod proptests;
pub mod recovery;
pub mod schedule;
#[cfg(test)]
pub(crate) mod tests;
pub mod unwind;
#[cfg(test)]
mod unwind_tests;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::progress::{HookResult, RunPhase, StepPhase, StepProgress, WorkflowRun};
use crate::recipe::plan::WorkflowPlan;

/// Attempts a Velero object gets when the Velero server restarts under it.
pub const MAX_VELERO_ATTEMPTS: u32 = 3;
/// Extra time a hook step gets beyond its timeout before the engine gives up on its task (the
/// task enforces the timeout itself; this is the backstop).
pub const HOOK_GRACE: Duration = Duration::from_secs(30);

/// How one Velero object of a step's current attempt is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectProgress {
    Running,
    Completed,
    Failed { reason: String, retryable: bool },
}

/// How a hook task (an exec or a check) of the current attempt is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum HookObservation {
    Running,
    /// No task for this attempt exists: it was never started here, or the operator restarted.
    NotRunning,
    Finished {
        ok: bool,
        message: String,
        results: Vec<HookResult>,
    },
}

/// What the shell observed about one step's current attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// Group step: one entry per Velero object of the attempt; `None` = not found (yet).
    Velero(Vec<Option<ObjectProgress>>),
    Hook(HookObservation),
}

/// Everything the shell observed, for the steps [`watched`] names.
#[derive(Debug, Clone)]
pub struct Observed {
    pub now: Timestamp,
    pub steps: BTreeMap<usize, Observation>,
    pub inverses: BTreeMap<usize, HookObservation>,
}

/// Work for the shell. Starting is idempotent: the same step and attempt always map to the same
/// Velero object names, so repeating a start after a restart creates nothing twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create the step's Velero objects, or start its hook task, for `attempt`.
    Start { step: usize, attempt: u32 },
    /// Start the inverse op of step `step`'s op.
    StartInverse { step: usize, attempt: u32 },
}

/// The engine's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Next {
    pub run: WorkflowRun,
    pub actions: Vec<Action>,
    /// When to look again even if nothing changes (the nearest timeout).
    pub wake_after: Option<Duration>,
}

/// A new run of `plan`, all steps pending.
pub fn start(plan: &WorkflowPlan, id: String, capture: i64, now: Timestamp) -> WorkflowRun {
    WorkflowRun {
        id,
        workflow: plan.name.clone(),
        capture,
        phase: RunPhase::Running,
        start_time: Time(now),
        end_time: None,
        steps: plan.steps.iter().map(|s| pending(&s.name)).collect(),
        message: None,
        start_generation: None,
        epoch: None,
        final_capture: false,
        source: None,
        sources: Default::default(),
        plan: Some(plan.fingerprint.clone()),
        plan_changed: false,
    }
}

fn pending(name: &str) -> StepProgress {
    StepProgress {
        name: name.to_owned(),
        phase: StepPhase::Pending,
        attempt: 0,
        start_time: None,
        end_time: None,
        objects: vec![],
        message: None,
        results: vec![],
        inverse: None,
        timed_out: false,
    }
}

/// The steps whose observation [`next`] needs: running steps, and inverses in flight.
pub fn watched(run: &WorkflowRun) -> (Vec<usize>, Vec<usize>) {
    let steps = run
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.phase == StepPhase::Running)
        .map(|(i, _)| i)
        .collect();
    let inverses = run
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.inverse
                .as_ref()
                .is_some_and(|inv| !inv.phase.is_terminal())
        })
        .map(|(i, _)| i)
        .collect();
    (steps, inverses)
}

/// Decides what happens next in `run`.
pub fn next(plan: &WorkflowPlan, run: &WorkflowRun, observed: &Observed) -> Next {
    let mut run = run.clone();
    let mut actions = vec![];
    if run.phase != RunPhase::Running {
        return Next {
            run,
            actions,
            wake_after: None,
        };
    }
    if !same_plan(plan, &run) {
        if drain(&mut run, observed, CHANGED) {
            return Next {
                run,
                actions,
                wake_after: Some(DRAIN_RECHECK),
            };
        }
        // The hooks the run quiesced may still be in the new recipe: their inverses run.
        unwind::queue(plan, &mut run, None);
        if unwind::advance(plan, &mut run, observed, &mut actions) {
            return Next {
                run,
                actions,
                wake_after: Some(DRAIN_RECHECK),
            };
        }
        end_changed(&mut run, observed.now);
        return Next {
            run,
            actions,
            wake_after: None,
        };
    }
    if run.steps.iter().any(|s| {
        s.inverse
            .as_ref()
            .is_some_and(|inv| !inv.phase.is_terminal())
    }) {
        if !unwind::advance(plan, &mut run, observed, &mut actions) {
            let message = stopped(plan, &run);
            finish(&mut run, observed.now, Some(RunPhase::Failed), &message);
        }
        return wrap(plan, run, actions, observed.now);
    }
    loop {
        let Some(i) = run.steps.iter().position(|s| !s.phase.is_terminal()) else {
            let failed: Vec<usize> = (0..run.steps.len())
                .filter(|&i| run.steps[i].phase == StepPhase::Failed)
                .collect();
            let phase = decide::final_phase(plan, &failed);
            let message = (!failed.is_empty()).then(|| failures(&run, &failed));
            finish(
                &mut run,
                observed.now,
                Some(phase),
                message.as_deref().unwrap_or(""),
            );
            break;
        };
        if run.steps[i].phase == StepPhase::Pending {
            begin(&mut run.steps[i], observed.now, None);
            actions.push(Action::Start {
                step: i,
                attempt: run.steps[i].attempt,
            });
            break;
        }
        if !decide::advance_running(plan, &mut run.steps[i], i, observed, &mut actions) {
            break;
        }
        // The step just ended. Does its failure stop the run?
        if run.steps[i].phase == StepPhase::Failed && decide::stops(plan, i) {
            for later in &mut run.steps[i + 1..] {
                later.phase = StepPhase::Skipped;
            }
            unwind::queue(plan, &mut run, Some(i));
            if unwind::advance(plan, &mut run, observed, &mut actions) {
                break;
            }
            let message = stopped(plan, &run);
            finish(&mut run, observed.now, Some(RunPhase::Failed), &message);
            break;
        }
    }
    wrap(plan, run, actions, observed.now)
}

/// Why a run is stopped before its end by something other than its own steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// `STOP_RECIPE_RECONCILE` was set while the run was in progress.
    Paused,
    /// The VRG was turned secondary while the run (not a relocation's final capture) was in
    /// progress.
    Demoted,
    /// The VRG was deleted while the run was in progress.
    Deleted,
}

impl Halt {
    fn why(self) -> &'static str {
        match self {
            Halt::Paused => {
                "the VRG was paused (STOP_RECIPE_RECONCILE) while the run was in progress"
            }
            Halt::Demoted => "the VRG was turned secondary while the run was in progress",
            Halt::Deleted => "the VRG was deleted while the run was in progress",
        }
    }
}

/// Stops `run` for `halt`: nothing new starts, what runs is waited for, then the run unwinds
/// (`unwind`) and ends `Failed`, saying why. A run whose last step was the one in flight has
/// nothing left to skip: it ends as its steps ended.
pub fn halt(plan: &WorkflowPlan, run: &WorkflowRun, observed: &Observed, halt: Halt) -> Next {
    let mut run = run.clone();
    let mut actions = vec![];
    let why = halt.why();
    if run.phase != RunPhase::Running {
        return Next {
            run,
            actions,
            wake_after: None,
        };
    }
    let unwinding = run.steps.iter().any(|s| s.inverse.is_some());
    let last_in_flight = !unwinding
        && same_plan(plan, &run)
        && run
            .steps
            .iter()
            .all(|s| matches!(s.phase, StepPhase::Succeeded | StepPhase::Running));
    if last_in_flight {
        let mut drained = run.clone();
        if !drain(&mut drained, observed, why)
            && drained
                .steps
                .iter()
                .all(|s| s.phase == StepPhase::Succeeded)
        {
            return next(plan, &run, observed);
        }
    }
    let busy = drain(&mut run, observed, why) || {
        unwind::queue(plan, &mut run, None);
        unwind::advance(plan, &mut run, observed, &mut actions)
    };
    if !busy {
        let undone = unwind::summary(&run);
        let undone = if undone.is_empty() {
            String::new()
        } else {
            format!("; {undone}")
        };
        finish(
            &mut run,
            observed.now,
            Some(RunPhase::Failed),
            &format!("{why}; steps not yet run were skipped{undone}"),
        );
    }
    Next {
        run,
        actions,
        wake_after: busy.then_some(DRAIN_RECHECK),
    }
}

/// How often a run whose plan changed looks again at what it still waits for.
const DRAIN_RECHECK: Duration = Duration::from_secs(5);

/// Whether `run` executes `plan`: the fingerprint it recorded (none on runs recorded before
/// runs had one), and the same steps by name, which also keeps every index in bounds whatever
/// the stored status says.
pub fn same_plan(plan: &WorkflowPlan, run: &WorkflowRun) -> bool {
    run.plan.as_ref().is_none_or(|f| *f == plan.fingerprint)
        && run.steps.len() == plan.steps.len()
        && run
            .steps
            .iter()
            .zip(&plan.steps)
            .all(|(r, p)| r.name == p.name)
}

/// Winds down a run that stops early (its plan changed, the VRG was paused), without starting
/// a step: steps not started
/// are skipped; a step whose Velero objects or hook task still run is waited for (never two
/// runs' objects at once), then ended as it ended, or stopped. Returns whether it still waits.
/// Needs no plan: what it observes was recorded in the run.
fn drain(run: &mut WorkflowRun, observed: &Observed, why: &str) -> bool {
    let now = observed.now;
    let mut waiting = false;
    for (i, step) in run.steps.iter_mut().enumerate() {
        match step.phase {
            StepPhase::Pending => {
                step.phase = StepPhase::Skipped;
                step.message = Some(format!("not run: {why}"));
            }
            StepPhase::Running => match observed.steps.get(&i) {
                Some(Observation::Velero(objects))
                    if objects
                        .iter()
                        .any(|o| matches!(o, Some(ObjectProgress::Running))) =>
                {
                    waiting = true
                }
                Some(Observation::Hook(HookObservation::Running)) => waiting = true,
                Some(Observation::Velero(objects))
                    if !objects.is_empty()
                        && objects
                            .iter()
                            .all(|o| matches!(o, Some(ObjectProgress::Completed))) =>
                {
                    step.phase = StepPhase::Succeeded;
                    step.end_time = Some(Time(now));
                }
                Some(Observation::Hook(HookObservation::Finished {
                    ok,
                    message,
                    results,
                })) => {
                    step.phase = if *ok {
                        StepPhase::Succeeded
                    } else {
                        StepPhase::Failed
                    };
                    step.end_time = Some(Time(now));
                    step.message = Some(message.clone());
                    step.results = results.clone();
                }
                _ => {
                    step.phase = StepPhase::Failed;
                    step.end_time = Some(Time(now));
                    step.message = Some(format!("stopped: {why}"));
                }
            },
            _ => {}
        }
    }
    waiting
}

const CHANGED: &str = "the recipe changed while the run was in progress";

/// Ends a drained run whose plan changed, saying what happens next.
fn end_changed(run: &mut WorkflowRun, now: Timestamp) {
    let next = if run.workflow == "restore" {
        "the recovery starts again"
    } else {
        "the next capture starts at once"
    };
    let undone = unwind::summary(run);
    let undone = if undone.is_empty() {
        String::new()
    } else {
        format!("; {undone}")
    };
    finish(
        run,
        now,
        Some(RunPhase::Failed),
        &format!(
            "{CHANGED}; steps not yet run were skipped, and {next} with the new recipe{undone}"
        ),
    );
    run.plan_changed = true;
}

/// `stopped: <the failures that stopped the run>[; <the inverses that ran>]`.
fn stopped(plan: &WorkflowPlan, run: &WorkflowRun) -> String {
    let stoppers: Vec<usize> = (0..run.steps.len().min(plan.steps.len()))
        .filter(|&i| run.steps[i].phase == StepPhase::Failed && decide::stops(plan, i))
        .collect();
    let undone = unwind::summary(run);
    if undone.is_empty() {
        format!("stopped: {}", failures(run, &stoppers))
    } else {
        format!("stopped: {}; {undone}", failures(run, &stoppers))
    }
}

/// Marks `step` running for a new attempt.
pub(crate) fn begin(step: &mut StepProgress, now: Timestamp, message: Option<String>) {
    step.phase = StepPhase::Running;
    step.attempt += 1;
    step.start_time = Some(Time(now));
    step.end_time = None;
    step.objects.clear();
    step.results.clear();
    step.timed_out = false;
    step.message = message;
}

fn finish(run: &mut WorkflowRun, now: Timestamp, phase: Option<RunPhase>, message: &str) {
    if let Some(phase) = phase {
        run.phase = phase;
    }
    run.end_time = Some(Time(now));
    run.message = (!message.is_empty()).then(|| message.to_owned());
}

fn failures(run: &WorkflowRun, failed: &[usize]) -> String {
    failed
        .iter()
        .map(|&i| {
            let step = &run.steps[i];
            format!(
                "{} failed: {}",
                step.name,
                step.message.as_deref().unwrap_or("no reason given")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn wrap(plan: &WorkflowPlan, run: WorkflowRun, actions: Vec<Action>, now: Timestamp) -> Next {
    let wake_after = run
        .steps
        .iter()
        .zip(&plan.steps)
        .filter(|(s, _)| s.phase == StepPhase::Running && !s.timed_out)
        .filter_map(|(s, p)| {
            let started = s.start_time.as_ref()?.0;
            let grace = if p.action.is_hook() {
                HOOK_GRACE
            } else {
                Duration::ZERO
            };
            let deadline = started.checked_add(p.timeout + grace).ok()?;
            Some(Duration::try_from(deadline.duration_since(now)).unwrap_or(Duration::ZERO))
        })
        .min();
    Next {
        run,
        actions,
        wake_after,
    }
}

impl From<crate::velero::Progress> for ObjectProgress {
    fn from(p: crate::velero::Progress) -> Self {
        match p {
            crate::velero::Progress::Running => Self::Running,
            crate::velero::Progress::Completed => Self::Completed,
            crate::velero::Progress::Failed { reason, retryable } => {
                Self::Failed { reason, retryable }
            }
        }
    }
}
