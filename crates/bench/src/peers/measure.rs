//! What one capture or recovery of a peer cost, measured the same way for each: wall time, the
//! API requests of each client from the audit log, the hooks that ran (from the pod's trace), and
//! CPU of the processes involved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::app::trace_lines;
use super::audit::{self, Mark};
use crate::process::cpu_seconds;

/// After a capture is recorded, requests that belong to it still follow (the deletion of the
/// previous capture's objects, an Event): they are counted for this long.
pub const SETTLE: Duration = Duration::from_secs(2);

/// One capture (or recovery) of one system.
#[derive(Debug, Default, Clone)]
pub struct Sample {
    /// From the trigger (capture-now, a Backup's POST, a failover's VRG) to completion seen by a
    /// watch; `None` where the system has no trigger (Ramen captures on its own schedule).
    pub triggered_ms: Option<f64>,
    /// From the quiesce hook's execution (the pod's trace) to completion.
    pub from_quiesce_ms: Option<f64>,
    /// Requests by client (`vrg-operator`, `ramen`, `velero`, `bench`) and verb.
    pub requests: BTreeMap<String, BTreeMap<String, usize>>,
    /// Hook executions (trace lines) during the sample.
    pub hooks: usize,
    /// CPU seconds by process name.
    pub cpu: BTreeMap<String, f64>,
}

/// The state of the world when a sample starts.
pub struct Start {
    mark: Mark,
    trace_len: usize,
    cpu: Vec<(String, u32, f64)>,
    pub at: Instant,
    log: PathBuf,
    trace: PathBuf,
}

/// Starts a sample: `processes` are the (name, pid) whose CPU it counts.
pub fn start(audit_log: &Path, trace: &Path, processes: &[(&str, u32)]) -> Start {
    start_after(audit_log, trace, processes, trace_lines(trace).len())
}

/// [`start`], with the hook executions counted from trace line `trace_len` on (for a sample that
/// starts once the system's first hook ran).
pub fn start_after(
    audit_log: &Path,
    trace: &Path,
    processes: &[(&str, u32)],
    trace_len: usize,
) -> Start {
    Start {
        mark: audit::mark(audit_log),
        trace_len,
        cpu: processes
            .iter()
            .map(|(n, pid)| ((*n).to_owned(), *pid, cpu_seconds(*pid)))
            .collect(),
        at: Instant::now(),
        log: audit_log.to_owned(),
        trace: trace.to_owned(),
    }
}

/// Ends a sample whose completion was seen at `done` (after [`SETTLE`]); `triggered`: whether
/// [`Start::at`] was the system's trigger.
pub async fn finish(start: Start, done: Instant, triggered: bool) -> Sample {
    let done_wall = SystemTime::now() - done.elapsed();
    tokio::time::sleep(SETTLE.saturating_sub(done.elapsed())).await;
    let lines = trace_lines(&start.trace);
    let new = &lines[start.trace_len.min(lines.len())..];
    let quiesce = new
        .iter()
        .find(|(_, op)| op == "quiesce")
        .map(|(at, _)| *at);
    let done_secs = done_wall
        .duration_since(UNIX_EPOCH)
        .map_or(f64::NAN, |d| d.as_secs_f64());
    Sample {
        triggered_ms: triggered.then(|| (done - start.at).as_secs_f64() * 1000.0),
        from_quiesce_ms: quiesce.map(|q| (done_secs - q) * 1000.0),
        requests: audit::since(&start.log, start.mark),
        hooks: new.len(),
        cpu: start
            .cpu
            .iter()
            .map(|(n, pid, before)| (n.clone(), cpu_seconds(*pid) - before))
            .collect(),
    }
}

/// The median request count per verb of `client` over `samples`.
pub fn requests_of(samples: &[Sample], client: &str) -> BTreeMap<String, f64> {
    let mut verbs: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for s in samples {
        for verb in s.requests.get(client).into_iter().flat_map(|v| v.keys()) {
            verbs.entry(verb.clone()).or_default();
        }
    }
    for (verb, values) in &mut verbs {
        for s in samples {
            let n = s
                .requests
                .get(client)
                .and_then(|v| v.get(verb))
                .copied()
                .unwrap_or(0);
            values.push(n as f64);
        }
    }
    verbs
        .into_iter()
        .map(|(verb, values)| (verb, median(&values)))
        .collect()
}

pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}

/// `get 3, list 0, create 5` (medians per capture).
pub fn describe(verbs: &BTreeMap<String, f64>) -> String {
    if verbs.is_empty() {
        return "none".into();
    }
    let text: Vec<String> = verbs
        .iter()
        .filter(|(_, n)| **n > 0.0)
        .map(|(v, n)| format!("{v} {n}"))
        .collect();
    if text.is_empty() {
        "none".into()
    } else {
        text.join(", ")
    }
}

/// Writes among `verbs` (create, patch, update, delete).
pub fn writes(verbs: &BTreeMap<String, f64>) -> f64 {
    verbs
        .iter()
        .filter(|(v, _)| {
            matches!(
                v.split(' ').next().unwrap_or_default(),
                "create" | "patch" | "update" | "delete" | "deletecollection"
            ) && !v.contains('/')
        })
        .map(|(_, n)| n)
        .sum()
}

pub fn total(verbs: &BTreeMap<String, f64>) -> f64 {
    verbs.values().sum::<f64>() + 0.0
}
