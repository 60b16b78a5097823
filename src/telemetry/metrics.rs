//! Prometheus metrics: reconciles, workflow runs and steps (hook steps are the hook exec
//! durations) by outcome. Recorded from the same transitions that produce Events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    pub workflow: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    pub workflow: String,
    /// `group` or `hook`.
    pub kind: String,
    pub outcome: String,
}

fn seconds_histogram() -> Histogram {
    // 10 ms .. ~6 h: reconciles are fast, Velero objects and hooks may take hours.
    Histogram::new(exponential_buckets(0.01, 3.0, 14))
}

/// Every metric the operator exports.
pub struct Metrics {
    pub registry: Registry,
    pub reconciles: Counter,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub reconcile_duration: Histogram,
    pub runs: Family<RunLabels, Counter>,
    pub run_duration: Family<RunLabels, Histogram, fn() -> Histogram>,
    pub steps: Family<StepLabels, Counter>,
    pub step_duration: Family<StepLabels, Histogram, fn() -> Histogram>,
    /// 1 while this process holds the leader lease (or runs without leader election), else 0.
    pub leader: Gauge,
    /// Hook tasks held in memory: running, or finished and not yet recorded in status.
    pub hook_tasks: Gauge,
    /// Requests to the API server, by method and status code (see `telemetry::client`).
    pub api_requests: Family<super::client::RequestLabels, Counter>,
    /// Per-VRG gauges (RPO, protection, phase, failures in a row, recovery).
    pub vrgs: super::vrg_metrics::VrgMetrics,
    /// Set once the caches are synced and the controller runs (`/readyz`).
    ready: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("vrg_operator");
        let m = Self {
            reconciles: Counter::default(),
            reconcile_errors: Family::default(),
            reconcile_duration: seconds_histogram(),
            runs: Family::default(),
            run_duration: Family::new_with_constructor(seconds_histogram),
            steps: Family::default(),
            step_duration: Family::new_with_constructor(seconds_histogram),
            leader: Gauge::default(),
            hook_tasks: Gauge::default(),
            api_requests: Family::default(),
            vrgs: Default::default(),
            ready: AtomicBool::new(false),
            registry: Registry::default(),
        };
        registry.register("reconciles", "VRG reconciles", m.reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Failed VRG reconciles, by error kind",
            m.reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile took",
            m.reconcile_duration.clone(),
        );
        registry.register(
            "workflow_runs",
            "Finished workflow runs, by workflow and outcome",
            m.runs.clone(),
        );
        registry.register(
            "workflow_run_duration_seconds",
            "Duration of finished workflow runs",
            m.run_duration.clone(),
        );
        registry.register(
            "workflow_steps",
            "Finished workflow steps, by workflow, kind and outcome",
            m.steps.clone(),
        );
        registry.register(
            "workflow_step_duration_seconds",
            "Duration of finished steps (hook steps: exec and check durations)",
            m.step_duration.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica acts (holds the leader lease), 0 on standby",
            m.leader.clone(),
        );
        registry.register(
            "hook_tasks",
            "Hook tasks held in memory (running, or finished and not yet recorded in status)",
            m.hook_tasks.clone(),
        );
        registry.register(
            "api_requests",
            "Requests to the API server, by HTTP method and status code",
            m.api_requests.clone(),
        );
        m.vrgs.register(&mut registry);
        Self { registry, ..m }
    }
}

impl Metrics {
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn step_finished(&self, workflow: &str, kind: &str, outcome: &str, took: Duration) {
        let labels = StepLabels {
            workflow: workflow.into(),
            kind: kind.into(),
            outcome: outcome.into(),
        };
        self.steps.get_or_create(&labels).inc();
        self.step_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    pub fn run_finished(&self, workflow: &str, outcome: &str, took: Duration) {
        let labels = RunLabels {
            workflow: workflow.into(),
            outcome: outcome.into(),
        };
        self.runs.get_or_create(&labels).inc();
        self.run_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}
