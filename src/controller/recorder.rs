//! The Event recorder: publishes Events the way kube's `Recorder` does (same names, fields and
//! series) with a bounded memory of recent series.

use kube::runtime::events::{Event as KubeEvent, EventType, Reporter};

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
