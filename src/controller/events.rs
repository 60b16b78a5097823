//! Events on the VRG, so `kubectl describe vrg` tells the story of each run at a bounded cost in
//! API writes: one Event when a run starts (`CaptureStarted`, `RecoveryStarted`, published where
//! the run starts), one when it ends (`WorkflowFinished`, naming every step's outcome and time),
//! and in between only what a user must see as it happens — every failed step attempt
//! (`StepFailed`) and every hook step that ran (`StepSucceeded`: where its commands ran and how
//! they ended). A group step that succeeds is told in the run's end Event and in the status, not in
//! an Event of its own: with real Velero most steps are group steps, and an Event per step start
//! and end cost two API writes per step.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;
use kube::ResourceExt;
use kube::runtime::events::{Event as KubeEvent, EventType};

use super::Context;
use super::status;
use crate::api::progress::{RunPhase, StepPhase, StepProgress, WorkflowRun};
use crate::api::vrg::VolumeReplicationGroup;

/// An Event decided from a change of a run, before it is published.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Planned {
    pub type_: EventType,
    pub reason: &'static str,
    /// What the Event is about; Events with the same reason and action fold into one series.
    pub action: String,
    pub note: String,
}

/// Publishes the Events for what changed between `before` and `after`, and counts the steps and
/// the run that finished in the metrics.
pub(super) async fn events_for(
    ctx: &Context,
    vrg: &VolumeReplicationGroup,
    before: &WorkflowRun,
    after: &WorkflowRun,
) {
    for (old, new) in before.steps.iter().zip(&after.steps) {
        if finished_now(old, new) && new.phase != StepPhase::Skipped {
            let outcome = if new.phase == StepPhase::Succeeded {
                "succeeded"
            } else {
                "failed"
            };
            ctx.metrics.step_finished(
                &after.workflow,
                step_kind(new),
                outcome,
                elapsed(new.start_time.as_ref(), new.end_time.as_ref()),
            );
        }
    }
    if run_finished_now(before, after) {
        let outcome = format!("{:?}", after.phase).to_lowercase();
        ctx.metrics.run_finished(
            &after.workflow,
            &outcome,
            elapsed(Some(&after.start_time), after.end_time.as_ref()),
        );
    }
    for event in planned(before, after) {
        publish(
            ctx,
            vrg,
            event.type_,
            event.reason,
            &event.action,
            &event.note,
        )
        .await;
    }
}

/// The Events for the change from `before` to `after` of one run (pure: decided here, published
/// by [`events_for`]).
pub(super) fn planned(before: &WorkflowRun, after: &WorkflowRun) -> Vec<Planned> {
    let mut out = vec![];
    for (i, (old, new)) in before.steps.iter().zip(&after.steps).enumerate() {
        if !finished_now(old, new) {
            continue;
        }
        let (type_, reason) = match new.phase {
            StepPhase::Failed => (EventType::Warning, "StepFailed"),
            StepPhase::Succeeded if step_kind(new) == "hook" => {
                (EventType::Normal, "StepSucceeded")
            }
            _ => continue,
        };
        out.push(Planned {
            type_,
            reason,
            // One Event per step and attempt: a series keeps only its first note.
            action: format!("{} step {} attempt {}", after.id, i + 1, new.attempt),
            note: format!(
                "{} {} (attempt {}){}",
                after.id,
                new.name,
                new.attempt,
                step_detail(new)
            ),
        });
    }
    if run_finished_now(before, after) {
        let type_ = if after.phase == RunPhase::Failed {
            EventType::Warning
        } else {
            EventType::Normal
        };
        out.push(Planned {
            type_,
            reason: "WorkflowFinished",
            action: after.id.clone(),
            note: run_summary(after),
        });
    }
    out
}

/// `new` is a step attempt that ended since `old` (a new attempt that ended in the same pass
/// counts too).
fn finished_now(old: &StepProgress, new: &StepProgress) -> bool {
    new.phase.is_terminal() && (old.phase != new.phase || old.attempt != new.attempt)
}

fn run_finished_now(before: &WorkflowRun, after: &WorkflowRun) -> bool {
    before.phase == RunPhase::Running && after.phase != RunPhase::Running
}

fn step_kind(step: &StepProgress) -> &'static str {
    if step.name.starts_with("hook ") {
        "hook"
    } else {
        "group"
    }
}

/// `: message; pod/db-0 (mysql): exit 0` — the step's message and, for hook steps, where each
/// command ran and how it ended.
fn step_detail(step: &StepProgress) -> String {
    let mut detail = step
        .message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    for r in &step.results {
        let code = r
            .exit_code
            .map(|c| format!("exit {c}"))
            .unwrap_or_else(|| r.message.clone().unwrap_or_default());
        let container = r
            .container
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        detail.push_str(&format!("; {}{container}: {code}", r.target));
    }
    detail
}

/// `backup-3 Succeeded in 4.2s: group a Succeeded 1.1s; group b Succeeded 3.1s` — the run's
/// outcome first (what most readers need), then every step, so the one Event tells the run.
fn run_summary(run: &WorkflowRun) -> String {
    let took = elapsed(Some(&run.start_time), run.end_time.as_ref());
    let mut note = format!("{} {:?} in {}", run.id, run.phase, seconds(took));
    if let Some(message) = &run.message {
        note.push_str(&format!(": {message}"));
    }
    let steps: Vec<String> = run
        .steps
        .iter()
        .map(|s| {
            let mut line = format!("{} {:?}", s.name, s.phase);
            if s.start_time.is_some() && s.end_time.is_some() {
                let took = elapsed(s.start_time.as_ref(), s.end_time.as_ref());
                line.push_str(&format!(" {}", seconds(took)));
            }
            if s.attempt > 1 {
                line.push_str(&format!(" (attempt {})", s.attempt));
            }
            line
        })
        .collect();
    if !steps.is_empty() {
        note.push_str(&format!("; steps: {}", steps.join("; ")));
    }
    note
}

/// `4.2s`, `0.05s`, `12s`.
fn seconds(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 {
        return format!("{s:.0}s");
    }
    let text = format!("{s:.2}");
    format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
}

/// Publishes an Event on the VRG; a failure to publish is logged, never fatal. `action` names
/// what the Event is about (a run, a step attempt): Events with the same reason and action are one
/// series, which keeps its first note, so distinct happenings need distinct actions.
pub async fn publish(
    ctx: &Context,
    vrg: &VolumeReplicationGroup,
    type_: EventType,
    reason: &str,
    action: &str,
    note: &str,
) {
    let event = KubeEvent {
        type_,
        reason: reason.to_owned(),
        note: Some(status::truncate(note, 1000)),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &vrg.object_ref(&())).await {
        tracing::warn!(vrg = %vrg.name_any(), error = %e, "cannot publish event");
    }
}

/// `end - start`, zero when either is unknown.
fn elapsed(start: Option<&Time>, end: Option<&Time>) -> std::time::Duration {
    match (start, end) {
        (Some(s), Some(e)) => {
            std::time::Duration::try_from(e.0.duration_since(s.0)).unwrap_or_default()
        }
        _ => std::time::Duration::ZERO,
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
