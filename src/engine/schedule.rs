//! When to start a capture (SPEC 7): every `captureInterval` measured from the last capture's
//! start, at once when asked with the capture-now annotation, never while a run is in progress.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::api::progress::{RunPhase, WorkflowRun};

/// What the capture schedule says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// A run is in progress: drive it.
    Continue,
    /// Start capture `number`.
    Start { number: i64 },
    /// Nothing to do until then.
    Wait(Duration),
}

/// Decides from the last run (capture or recovery), the interval and the capture-now request.
pub fn capture(
    last: Option<&WorkflowRun>,
    interval: Duration,
    capture_now: bool,
    now: Timestamp,
) -> Schedule {
    let Some(last) = last else {
        return Schedule::Start { number: 1 };
    };
    if last.phase == RunPhase::Running {
        return Schedule::Continue;
    }
    // Numbers continue after a recovered capture too: the other cluster's Backups, synced here
    // by Velero, already use the numbers up to it.
    let number = last.capture.max(0) + 1;
    // A run ended by a changed plan is taken again with the new one at once.
    if capture_now || last.workflow != "backup" || last.plan_changed {
        return Schedule::Start { number };
    }
    let due = last.start_time.0.checked_add(interval).unwrap_or(now);
    match Duration::try_from(due.duration_since(now)) {
        Ok(wait) if !wait.is_zero() => Schedule::Wait(wait),
        _ => Schedule::Start { number },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tests::at;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn run(workflow: &str, capture: i64, phase: RunPhase, started: i64) -> WorkflowRun {
        WorkflowRun {
            id: format!("{workflow}-{capture}"),
            workflow: workflow.into(),
            capture,
            phase,
            start_time: Time(at(started)),
            end_time: None,
            steps: vec![],
            message: None,
            start_generation: None,
            epoch: None,
            final_capture: false,
            source: None,
            sources: Default::default(),
            plan: None,
            plan_changed: false,
        }
    }

    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    #[test]
    fn first_capture_starts_at_once() {
        assert_eq!(
            capture(None, FIVE_MINUTES, false, at(0)),
            Schedule::Start { number: 1 }
        );
    }

    #[test]
    fn interval_is_measured_from_the_last_start() {
        let last = run("backup", 4, RunPhase::Succeeded, 0);
        assert_eq!(
            capture(Some(&last), FIVE_MINUTES, false, at(120)),
            Schedule::Wait(Duration::from_secs(180))
        );
        assert_eq!(
            capture(Some(&last), FIVE_MINUTES, false, at(300)),
            Schedule::Start { number: 5 }
        );
        let failed = run("backup", 4, RunPhase::Failed, 0);
        assert_eq!(
            capture(Some(&failed), FIVE_MINUTES, false, at(301)),
            Schedule::Start { number: 5 },
            "a failed capture is retried at the next interval"
        );
    }

    #[test]
    fn capture_now_skips_the_wait_but_never_interrupts_a_run() {
        let last = run("backup", 4, RunPhase::Succeeded, 0);
        assert_eq!(
            capture(Some(&last), FIVE_MINUTES, true, at(1)),
            Schedule::Start { number: 5 }
        );
        let running = run("backup", 5, RunPhase::Running, 0);
        assert_eq!(
            capture(Some(&running), FIVE_MINUTES, true, at(1)),
            Schedule::Continue
        );
    }

    #[test]
    fn capturing_after_a_recovery_continues_its_numbers() {
        let recovered = run("restore", 41, RunPhase::Succeeded, 0);
        assert_eq!(
            capture(Some(&recovered), FIVE_MINUTES, false, at(1)),
            Schedule::Start { number: 42 }
        );
    }
}
