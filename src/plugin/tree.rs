//! `kubectl vrg get`: a VRG's state and conditions, then its current (or last) run as a tree of
//! steps, each with its Velero objects and per-pod hook results. Pure: the shell gathers the
//! objects and the time, this draws them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::jiff::Timestamp;

use super::format::{ago, duration, time};
use crate::api::VolumeReplicationGroup;
use crate::api::progress::{HookResult, RunPhase, StepPhase, StepProgress, WorkflowRun};

/// A Velero object of a step, as the tree shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VeleroObject {
    /// `Backup` or `Restore`.
    pub kind: String,
    /// Velero's phase; empty until Velero has seen it.
    pub phase: String,
    pub items_done: Option<i64>,
    pub items_total: Option<i64>,
    pub errors: Option<i64>,
    pub warnings: Option<i64>,
}

/// The VRG with its Velero objects by name, at `now`.
pub fn render(
    vrg: &VolumeReplicationGroup,
    objects: &BTreeMap<String, VeleroObject>,
    now: Timestamp,
) -> String {
    let mut out = String::new();
    let ns = vrg.metadata.namespace.as_deref().unwrap_or_default();
    let name = vrg.metadata.name.as_deref().unwrap_or_default();
    let status = vrg.status.as_ref();
    let kop = status.and_then(|s| s.kube_object_protection.as_ref());
    let role = match vrg.spec.replication_state {
        crate::api::vrg::ReplicationState::Primary => "primary",
        crate::api::vrg::ReplicationState::Secondary => "secondary",
    };
    let action = vrg
        .spec
        .action
        .map(|a| format!(", action {}", crate::lifecycle::action_name(a)))
        .unwrap_or_default();
    let _ = writeln!(out, "VolumeReplicationGroup {ns}/{name}: {role}{action}");
    let capture = match kop.and_then(|k| k.capture_to_recover_from.as_ref()) {
        Some(c) => {
            let cluster = c.cluster.as_deref().unwrap_or("an unrecorded cluster");
            let when = c
                .end_time
                .as_ref()
                .map(|t| format!(", ended {} ({} ago)", time(t.0), ago(t.0, now)))
                .unwrap_or_default();
            format!("capture {} by {cluster}{when}", c.number)
        }
        None => "none yet".to_owned(),
    };
    let _ = writeln!(out, "Restorable:  {capture}");
    if let Some(recovery) = kop.and_then(|k| k.recovery.as_ref()) {
        let message = recovery
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "Recovery:    {} {:?}{message}",
            recovery.action, recovery.phase
        );
    }
    let conditions = status.map(|s| s.conditions.as_slice()).unwrap_or_default();
    if conditions.is_empty() {
        let _ = writeln!(out, "Conditions:  none yet (is the operator running?)");
    } else {
        let _ = writeln!(out, "Conditions:");
        let width = conditions.iter().map(|c| c.type_.len()).max().unwrap_or(0);
        for c in conditions {
            let mark = match c.status.as_str() {
                "True" => "✓",
                "False" => "✗",
                _ => "?",
            };
            let _ = writeln!(
                out,
                "  {mark} {:width$}  {}: {}",
                c.type_, c.reason, c.message
            );
        }
    }
    match kop.and_then(|k| k.run.as_ref()) {
        Some(run) => render_run(&mut out, run, objects, now),
        None => {
            let _ = writeln!(out, "No run yet.");
        }
    }
    out
}

fn render_run(
    out: &mut String,
    run: &WorkflowRun,
    objects: &BTreeMap<String, VeleroObject>,
    now: Timestamp,
) {
    let took = duration(run.start_time.0, run.end_time.as_ref().map_or(now, |t| t.0));
    let what = match run.workflow.as_str() {
        "backup" => format!("capture {}", run.capture),
        _ => format!("restoring capture {}", run.capture),
    };
    let phase = match run.phase {
        RunPhase::Running => "Running",
        RunPhase::Succeeded => "Succeeded",
        RunPhase::PartiallySucceeded => "PartiallySucceeded",
        RunPhase::Failed => "Failed",
    };
    let _ = writeln!(
        out,
        "Run {} ({} workflow, {what}): {phase}, {took}, started {}",
        run.id,
        run.workflow,
        time(run.start_time.0)
    );
    if let Some(message) = &run.message {
        let _ = writeln!(out, "  {message}");
    }
    let width = run.steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for (i, step) in run.steps.iter().enumerate() {
        let last = i + 1 == run.steps.len();
        let (branch, stem) = if last {
            ("└─", "   ")
        } else {
            ("├─", "│  ")
        };
        let _ = writeln!(
            out,
            "{branch} {} {}",
            symbol(step.phase),
            step_line(step, width, now)
        );
        let mut children: Vec<String> = Vec::new();
        for name in &step.objects {
            children.push(object_line(name, objects.get(name)));
        }
        for result in &step.results {
            children.push(result_line(result));
        }
        if let Some(inverse) = &step.inverse {
            let message = inverse
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            children.push(format!(
                "{} inverse op {} attempt {}{message}",
                symbol(inverse.phase),
                inverse.op,
                inverse.attempt
            ));
        }
        for (j, child) in children.iter().enumerate() {
            let twig = if j + 1 == children.len() {
                "└─"
            } else {
                "├─"
            };
            let _ = writeln!(out, "{stem}{twig} {child}");
        }
    }
}

/// `✓ group data  attempt 1  2.1s  message`.
fn step_line(step: &StepProgress, width: usize, now: Timestamp) -> String {
    let mut line = format!("{:width$}", step.name);
    if step.attempt > 0 {
        let _ = write!(line, "  attempt {}", step.attempt);
    }
    if let Some(start) = &step.start_time {
        let end = step.end_time.as_ref().map_or(now, |t| t.0);
        let _ = write!(line, "  {}", duration(start.0, end));
    }
    if step.timed_out {
        line.push_str("  timed out");
    }
    if let Some(message) = &step.message {
        let _ = write!(line, "  {message}");
    }
    line.trim_end().to_owned()
}

/// `Backup NAME  Completed  12/12 items`.
fn object_line(name: &str, object: Option<&VeleroObject>) -> String {
    let Some(o) = object else {
        return format!("{name}  (not found)");
    };
    let phase = if o.phase.is_empty() { "New" } else { &o.phase };
    let mut line = format!("{} {name}  {phase}", o.kind);
    match (o.items_done, o.items_total) {
        (Some(done), Some(total)) => {
            let _ = write!(line, "  {done}/{total} items");
        }
        (Some(done), None) => {
            let _ = write!(line, "  {done} items");
        }
        _ => {}
    }
    for (count, what) in [(o.errors, "errors"), (o.warnings, "warnings")] {
        if let Some(n) = count.filter(|n| *n > 0) {
            let _ = write!(line, "  {n} {what}");
        }
    }
    line
}

/// `pod/db-0 [mysql]  exit 0  replicas 3  message`.
fn result_line(result: &HookResult) -> String {
    let mut line = result.target.clone();
    if let Some(container) = &result.container {
        let _ = write!(line, " [{container}]");
    }
    if let Some(code) = result.exit_code {
        let _ = write!(line, "  exit {code}");
    }
    if let Some(replicas) = result.replicas {
        let _ = write!(line, "  replicas {replicas}");
    }
    if let Some(message) = &result.message {
        let _ = write!(line, "  {message}");
    }
    line
}

/// The state symbol of a step.
pub fn symbol(phase: StepPhase) -> &'static str {
    match phase {
        StepPhase::Pending => "·",
        StepPhase::Running => "⟳",
        StepPhase::Succeeded => "✓",
        StepPhase::Failed => "✗",
        StepPhase::Skipped => "⊘",
    }
}

/// `kubectl vrg logs`: every hook result of the run's steps (or of step `only`, 1-based), with
/// the output the operator recorded (its first and last KiB).
pub fn logs(run: &WorkflowRun, only: Option<usize>) -> String {
    let mut out = String::new();
    for (i, step) in run.steps.iter().enumerate() {
        if only.is_some_and(|n| n != i + 1) {
            continue;
        }
        let _ = writeln!(
            out,
            "step {} {} ({:?}, attempt {})",
            i + 1,
            step.name,
            step.phase,
            step.attempt
        );
        let mut results: Vec<&HookResult> = step.results.iter().collect();
        if let Some(inverse) = &step.inverse {
            results.extend(&inverse.results);
        }
        if results.is_empty() {
            let _ = writeln!(out, "  (no hook output)");
        }
        for result in results {
            let _ = writeln!(out, "  {}", result_line(result));
            for (stream, text) in [("stdout", &result.stdout), ("stderr", &result.stderr)] {
                for line in text.lines() {
                    let _ = writeln!(out, "    {stream}| {line}");
                }
            }
        }
    }
    out
}
