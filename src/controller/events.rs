//! Events on the VRG: one per step transition and per workflow end, so `kubectl describe vrg`
//! tells the story of each run.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;
use kube::ResourceExt;
use kube::runtime::events::{Event as KubeEvent, EventType};

use super::Context;
use super::status;
use crate::api::progress::{RunPhase, StepPhase, WorkflowRun};
use crate::api::vrg::VolumeReplicationGroup;

/// An Event for every step that started, finished or failed between `before` and `after`.
pub(super) async fn events_for(
    ctx: &Context,
    vrg: &VolumeReplicationGroup,
    before: &WorkflowRun,
    after: &WorkflowRun,
) {
    for (i, (old, new)) in before.steps.iter().zip(&after.steps).enumerate() {
        if old.phase == new.phase && old.attempt == new.attempt {
            continue;
        }
        let (kind, reason) = match new.phase {
            StepPhase::Running => (EventType::Normal, "StepStarted"),
            StepPhase::Succeeded => (EventType::Normal, "StepSucceeded"),
            StepPhase::Failed => (EventType::Warning, "StepFailed"),
            StepPhase::Skipped | StepPhase::Pending => continue,
        };
        if new.phase.is_terminal() {
            let step_kind = if new.name.starts_with("hook ") {
                "hook"
            } else {
                "group"
            };
            let outcome = if new.phase == StepPhase::Succeeded {
                "succeeded"
            } else {
                "failed"
            };
            ctx.metrics.step_finished(
                &after.workflow,
                step_kind,
                outcome,
                elapsed(new.start_time.as_ref(), new.end_time.as_ref()),
            );
        }
        let mut detail = new
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        // Hook steps: where each command ran and how it ended.
        for r in &new.results {
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
        // One Event per step and attempt: the recorder folds Events with the same action and
        // reason into one series that keeps only the first note.
        let step = format!("{} step {} attempt {}", after.id, i + 1, new.attempt);
        publish(
            ctx,
            vrg,
            kind,
            reason,
            &step,
            &format!(
                "{} {} (attempt {}){detail}",
                after.id, new.name, new.attempt
            ),
        )
        .await;
    }
    if before.phase == RunPhase::Running && after.phase != RunPhase::Running {
        let outcome = format!("{:?}", after.phase).to_lowercase();
        ctx.metrics.run_finished(
            &after.workflow,
            &outcome,
            elapsed(Some(&after.start_time), after.end_time.as_ref()),
        );
        let kind = if after.phase == RunPhase::Failed {
            EventType::Warning
        } else {
            EventType::Normal
        };
        let message = format!(
            "{} {:?}{}",
            after.id,
            after.phase,
            after
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
        publish(ctx, vrg, kind, "WorkflowFinished", &after.id, &message).await;
    }
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
