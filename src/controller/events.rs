//! Events on the VRG: one per step transition and per workflow end, so `kubectl describe vrg`
//! tells the story of each run.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;
use kube::ResourceExt;
use kube::runtime::events::{Event as KubeEvent, EventType, Reporter};

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

/// How many recent Events [`Recorder`] remembers to fold repeats into a series.
const RECENT_EVENTS: usize = 4096;

/// Publishes Events as kube's `Recorder` does (same names, fields and series), but remembers only
/// the last [`RECENT_EVENTS`] series, by key. kube's `Recorder` keeps every Event it published in
/// the last 6 minutes and scans them all under one lock on every publish: at 1,000 VRGs that was
/// 10,000 Events, a third of the operator's peak heap and a quadratic cost (BENCHMARKS.md).
pub struct Recorder {
    client: kube::Client,
    reporter: Reporter,
    recent: std::sync::Mutex<Recent>,
}

/// (regarding uid, type, reason, action).
type SeriesKey = (String, String, String, String);

#[derive(Default)]
struct Recent {
    order: std::collections::VecDeque<SeriesKey>,
    /// Event name and count so far.
    series: std::collections::HashMap<SeriesKey, (String, i32)>,
}

impl Recorder {
    pub fn new(client: kube::Client, reporter: Reporter) -> Self {
        Self {
            client,
            reporter,
            recent: Default::default(),
        }
    }

    pub async fn publish(
        &self,
        ev: &KubeEvent,
        reference: &k8s_openapi::api::core::v1::ObjectReference,
    ) -> Result<(), kube::Error> {
        use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
        use kube::api::{Api, Patch, PatchParams, PostParams};

        let now = k8s_openapi::jiff::Timestamp::now();
        let type_ = match ev.type_ {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        };
        let key = (
            reference.uid.clone().unwrap_or_default(),
            type_.to_owned(),
            ev.reason.clone(),
            ev.action.clone(),
        );
        let namespace = reference.namespace.as_deref().unwrap_or("default");
        let events: Api<K8sEvent> = Api::namespaced(self.client.clone(), namespace);
        let repeat = {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            recent.series.get_mut(&key).map(|(name, count)| {
                *count += 1;
                (name.clone(), *count)
            })
        };
        if let Some((name, count)) = repeat {
            let series = EventSeries {
                count,
                last_observed_time: MicroTime(now),
            };
            let patch = serde_json::json!({ "series": series });
            events
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            return Ok(());
        }
        let name = format!(
            "{}.{:x}",
            reference
                .name
                .as_deref()
                .unwrap_or(&self.reporter.controller),
            now.as_nanosecond()
        );
        let event = K8sEvent {
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(reference.clone()),
            note: ev.note.clone(),
            metadata: kube::api::ObjectMeta {
                namespace: reference.namespace.clone(),
                name: Some(name.clone()),
                ..Default::default()
            },
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            type_: Some(type_.to_owned()),
            related: ev.secondary.clone(),
            ..Default::default()
        };
        events.create(&PostParams::default(), &event).await?;
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.series.insert(key.clone(), (name, 1)).is_none() {
            recent.order.push_back(key);
        }
        while recent.order.len() > RECENT_EVENTS {
            if let Some(old) = recent.order.pop_front() {
                recent.series.remove(&old);
            }
        }
        Ok(())
    }
}
