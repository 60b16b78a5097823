//! Per-VRG metrics, the ones alerts are written on: when the newest restorable capture ended (the
//! RPO is `time()` minus it), the capture interval it is held to, whether the VRG is protected
//! and its recipe ready, the phase of its current run, captures failed in a row, and since when a
//! recovery has been running. Set from the status each reconcile writes; removed with the VRG.
//!
//! Only the replica that acts exports them (a standby reconciles nothing). Captures failed in a
//! row are counted in memory: a new leader starts from zero and counts from the next capture.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::api::progress::RunPhase;
use crate::api::vrg::{RecoveryPhase, ReplicationState, VolumeReplicationGroupStatus};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VrgLabels {
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub namespace: String,
    pub name: String,
    pub workflow: String,
    pub phase: String,
}

type Seconds = Gauge<f64, AtomicU64>;

/// What one VRG's status says, as gauge values. Pure.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VrgGauges {
    /// Primary only: when its newest restorable capture ended (Unix seconds).
    pub last_capture: Option<f64>,
    pub capture_interval: Option<f64>,
    pub protected: bool,
    pub recipe_ready: bool,
    /// `(workflow, phase)` of the current (or last) run.
    pub run: Option<(String, String)>,
    /// `(run id, failed)` of the last finished backup run, for the failures-in-a-row count.
    pub finished_capture: Option<(String, bool)>,
    /// When the running recovery was asked for (Unix seconds).
    pub recovering_since: Option<f64>,
}

impl VrgGauges {
    pub fn of(
        role: ReplicationState,
        status: &VolumeReplicationGroupStatus,
        capture_interval: Option<Duration>,
    ) -> Self {
        let condition = |t: &str| {
            status
                .conditions
                .iter()
                .any(|c| c.type_ == t && c.status == "True")
        };
        let kop = status.kube_object_protection.as_ref();
        let seconds = |t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time| {
            t.0.as_millisecond() as f64 / 1000.0
        };
        let run = kop.and_then(|k| k.run.as_ref());
        Self {
            last_capture: kop
                .filter(|_| role == ReplicationState::Primary)
                .and_then(|k| k.capture_to_recover_from.as_ref())
                .and_then(|c| c.end_time.as_ref())
                .map(seconds),
            capture_interval: capture_interval.map(|d| d.as_secs_f64()),
            protected: condition("ClusterDataProtected"),
            recipe_ready: condition("RecipeReady"),
            run: run.map(|r| (r.workflow.clone(), format!("{:?}", r.phase))),
            finished_capture: run
                .filter(|r| r.workflow == "backup" && r.phase != RunPhase::Running)
                .map(|r| (r.id.clone(), r.phase == RunPhase::Failed)),
            recovering_since: kop
                .and_then(|k| k.recovery.as_ref())
                .filter(|r| matches!(r.phase, RecoveryPhase::Pending | RecoveryPhase::Restoring))
                .map(|r| seconds(&r.requested_at)),
        }
    }
}

/// The per-VRG families, registered under the operator's prefix.
#[derive(Default)]
pub struct VrgMetrics {
    last_capture: Family<VrgLabels, Seconds>,
    capture_interval: Family<VrgLabels, Seconds>,
    protected: Family<VrgLabels, Gauge>,
    recipe_ready: Family<VrgLabels, Gauge>,
    phase: Family<PhaseLabels, Gauge>,
    failed_captures: Family<VrgLabels, Gauge>,
    recovering_since: Family<VrgLabels, Seconds>,
    /// Per VRG: the last finished capture counted, the phase series set, failures in a row.
    seen: Mutex<HashMap<VrgLabels, Seen>>,
}

#[derive(Default)]
struct Seen {
    counted_run: Option<String>,
    phase: Option<PhaseLabels>,
    failed_in_a_row: i64,
}

impl VrgMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "vrg_last_restorable_capture_timestamp_seconds",
            "Primary VRGs: when the newest restorable capture ended; the RPO is time() minus this",
            self.last_capture.clone(),
        );
        registry.register(
            "vrg_capture_interval_seconds",
            "The capture interval the VRG is held to",
            self.capture_interval.clone(),
        );
        registry.register(
            "vrg_protected",
            "1 while ClusterDataProtected is True",
            self.protected.clone(),
        );
        registry.register(
            "vrg_recipe_ready",
            "1 while RecipeReady is True (0: the recipe is invalid)",
            self.recipe_ready.clone(),
        );
        registry.register(
            "vrg_workflow_phase",
            "1 for the workflow and phase of the VRG's current (or last) run",
            self.phase.clone(),
        );
        registry.register(
            "vrg_consecutive_failed_captures",
            "Captures failed in a row, since this replica began acting",
            self.failed_captures.clone(),
        );
        registry.register(
            "vrg_recovery_started_timestamp_seconds",
            "While a recovery runs: when it was asked for",
            self.recovering_since.clone(),
        );
    }

    /// Sets VRG `namespace/name`'s series from `gauges`.
    pub fn observe(&self, namespace: &str, name: &str, gauges: &VrgGauges) {
        let key = VrgLabels {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let seen = seen.entry(key.clone()).or_default();
        set_or_remove(&self.last_capture, &key, gauges.last_capture);
        set_or_remove(&self.capture_interval, &key, gauges.capture_interval);
        set_or_remove(&self.recovering_since, &key, gauges.recovering_since);
        self.protected
            .get_or_create(&key)
            .set(gauges.protected.into());
        self.recipe_ready
            .get_or_create(&key)
            .set(gauges.recipe_ready.into());
        let phase = gauges.run.as_ref().map(|(workflow, phase)| PhaseLabels {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            workflow: workflow.clone(),
            phase: phase.clone(),
        });
        if seen.phase != phase {
            if let Some(old) = seen.phase.take() {
                self.phase.remove(&old);
            }
            if let Some(new) = &phase {
                self.phase.get_or_create(new).set(1);
            }
            seen.phase = phase;
        }
        if let Some((run, failed)) = &gauges.finished_capture
            && seen.counted_run.as_ref() != Some(run)
        {
            seen.failed_in_a_row = if *failed { seen.failed_in_a_row + 1 } else { 0 };
            seen.counted_run = Some(run.clone());
        }
        self.failed_captures
            .get_or_create(&key)
            .set(seen.failed_in_a_row);
    }

    /// Removes every series of VRG `namespace/name` (it is gone).
    pub fn forget(&self, namespace: &str, name: &str) {
        let key = VrgLabels {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Seen {
            phase: Some(phase), ..
        }) = seen.remove(&key)
        {
            self.phase.remove(&phase);
        }
        for family in [
            &self.last_capture,
            &self.capture_interval,
            &self.recovering_since,
        ] {
            family.remove(&key);
        }
        for family in [&self.protected, &self.recipe_ready, &self.failed_captures] {
            family.remove(&key);
        }
    }
}

fn set_or_remove(family: &Family<VrgLabels, Seconds>, key: &VrgLabels, value: Option<f64>) {
    match value {
        Some(v) => {
            family.get_or_create(key).set(v);
        }
        None => {
            family.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(yaml: &str) -> VolumeReplicationGroupStatus {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn failed_run(id: &str, phase: &str) -> VolumeReplicationGroupStatus {
        status(&format!(
            "kubeObjectProtection: {{run: {{id: {id}, workflow: backup, capture: 1, phase: {phase}, startTime: '2026-12-04T10:00:00Z', steps: []}}}}"
        ))
    }

    #[test]
    fn a_primarys_status_becomes_its_gauges() {
        let s = status(
            "conditions:
- {type: ClusterDataProtected, status: 'True', reason: Uploaded, message: m, lastTransitionTime: '2026-12-04T10:00:00Z'}
- {type: RecipeReady, status: 'False', reason: RecipeInvalid, message: m, lastTransitionTime: '2026-12-04T10:00:00Z'}
kubeObjectProtection:
  captureToRecoverFrom: {number: 3, endTime: '1970-01-01T00:01:40Z'}
  recovery: {action: Failover, requestedAt: '1970-01-01T00:00:10Z', requestedGeneration: 1, phase: Restoring}
",
        );
        let g = VrgGauges::of(
            ReplicationState::Primary,
            &s,
            Some(Duration::from_secs(300)),
        );
        assert_eq!(g.last_capture, Some(100.0));
        assert_eq!(g.capture_interval, Some(300.0));
        assert!(g.protected && !g.recipe_ready);
        assert_eq!(g.recovering_since, Some(10.0));
        let standby = VrgGauges::of(ReplicationState::Secondary, &s, None);
        assert_eq!(
            standby.last_capture, None,
            "a secondary has no RPO of its own"
        );
    }

    #[test]
    fn failed_captures_are_counted_once_each_and_reset_by_a_success() {
        let m = VrgMetrics::default();
        let count = |m: &VrgMetrics| {
            m.failed_captures
                .get_or_create(&VrgLabels {
                    namespace: "a".into(),
                    name: "b".into(),
                })
                .get()
        };
        for (id, phase, want) in [
            ("backup-1", "Failed", 1),
            ("backup-1", "Failed", 1),
            ("backup-2", "Running", 1),
            ("backup-2", "Failed", 2),
            ("backup-3", "PartiallySucceeded", 0),
            ("backup-4", "Failed", 1),
        ] {
            let g = VrgGauges::of(ReplicationState::Primary, &failed_run(id, phase), None);
            m.observe("a", "b", &g);
            assert_eq!(count(&m), want, "after {id} {phase}");
        }
        let mut registry = Registry::with_prefix("vrg_operator");
        m.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("vrg_operator_vrg_workflow_phase{namespace=\"a\",name=\"b\",workflow=\"backup\",phase=\"Failed\"} 1"), "{text}");
        assert!(
            !text.contains("phase=\"PartiallySucceeded\""),
            "only the current phase: {text}"
        );
        m.forget("a", "b");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(!text.contains("name=\"b\""), "{text}");
    }
}
