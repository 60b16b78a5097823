use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::EventType;

use super::planned;
use crate::api::progress::{HookResult, RunPhase, StepPhase, StepProgress, WorkflowRun};

fn at(seconds: i64) -> Time {
    Time(Timestamp::from_second(1_800_000_000 + seconds).unwrap())
}

fn step(name: &str, phase: StepPhase) -> StepProgress {
    StepProgress {
        name: name.into(),
        phase,
        attempt: u32::from(!matches!(phase, StepPhase::Pending | StepPhase::Skipped)),
        start_time: None,
        end_time: None,
        objects: vec![],
        message: None,
        results: vec![],
        inverse: None,
        timed_out: false,
    }
}

fn run(phase: RunPhase, steps: Vec<StepProgress>) -> WorkflowRun {
    WorkflowRun {
        id: "backup-3".into(),
        workflow: "backup".into(),
        capture: 3,
        phase,
        start_time: at(0),
        end_time: (phase != RunPhase::Running).then(|| at(4)),
        steps,
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

fn reasons(events: &[super::Planned]) -> Vec<&str> {
    events.iter().map(|e| e.reason).collect()
}

#[test]
fn a_group_step_that_succeeds_mid_run_is_no_event() {
    let before = run(
        RunPhase::Running,
        vec![
            step("group a", StepPhase::Running),
            step("group b", StepPhase::Pending),
        ],
    );
    let after = run(
        RunPhase::Running,
        vec![
            step("group a", StepPhase::Succeeded),
            step("group b", StepPhase::Running),
        ],
    );
    assert!(planned(&before, &after).is_empty());
}

#[test]
fn a_hook_step_that_ran_says_where_and_how_it_ended() {
    let mut done = step("hook db/quiesce", StepPhase::Succeeded);
    done.results = vec![HookResult {
        target: "pod/db-0".into(),
        container: Some("mysql".into()),
        exit_code: Some(0),
        ..Default::default()
    }];
    let before = run(
        RunPhase::Running,
        vec![step("hook db/quiesce", StepPhase::Running)],
    );
    let after = run(RunPhase::Running, vec![done]);
    let events = planned(&before, &after);
    assert_eq!(reasons(&events), ["StepSucceeded"]);
    assert_eq!(
        events[0].note,
        "backup-3 hook db/quiesce (attempt 1); pod/db-0 (mysql): exit 0"
    );
    assert_eq!(events[0].action, "backup-3 step 1 attempt 1");
}

#[test]
fn every_failed_attempt_is_a_warning_of_its_own() {
    let mut failed = step("group a", StepPhase::Failed);
    failed.message = Some("Velero: PartiallyFailed".into());
    let before = run(RunPhase::Running, vec![step("group a", StepPhase::Running)]);
    let after = run(RunPhase::Running, vec![failed.clone()]);
    let first = planned(&before, &after);
    assert_eq!(reasons(&first), ["StepFailed"]);
    assert_eq!(first[0].type_, EventType::Warning);
    assert_eq!(
        first[0].note,
        "backup-3 group a (attempt 1): Velero: PartiallyFailed"
    );
    // A retry that fails again within one pass is a new attempt, so a new Event.
    let mut again = failed.clone();
    again.attempt = 2;
    let second = planned(&after, &run(RunPhase::Running, vec![again]));
    assert_eq!(second[0].action, "backup-3 step 1 attempt 2");
}

#[test]
fn the_end_of_a_run_names_every_step_with_its_outcome_and_time() {
    let mut a = step("group a", StepPhase::Succeeded);
    a.start_time = Some(at(0));
    a.end_time = Some(at(1));
    let mut b = step("group b", StepPhase::Succeeded);
    b.start_time = Some(at(1));
    b.end_time = Some(at(4));
    b.attempt = 2;
    let mut running_b = b.clone();
    running_b.phase = StepPhase::Running;
    running_b.end_time = None;
    let before = run(RunPhase::Running, vec![a.clone(), running_b]);
    let after = run(RunPhase::Succeeded, vec![a, b]);
    let events = planned(&before, &after);
    assert_eq!(reasons(&events), ["WorkflowFinished"]);
    assert_eq!(events[0].type_, EventType::Normal);
    assert_eq!(
        events[0].note,
        "backup-3 Succeeded in 4s; steps: group a Succeeded 1s; group b Succeeded 3s (attempt 2)"
    );
}

#[test]
fn a_failed_run_is_a_warning_with_its_reason_and_skipped_steps() {
    let mut a = step("group a", StepPhase::Failed);
    a.message = Some("timed out".into());
    let before = run(
        RunPhase::Running,
        vec![
            step("group a", StepPhase::Running),
            step("group b", StepPhase::Pending),
        ],
    );
    let mut after = run(
        RunPhase::Failed,
        vec![a, step("group b", StepPhase::Skipped)],
    );
    after.message = Some("group a failed".into());
    let events = planned(&before, &after);
    assert_eq!(reasons(&events), ["StepFailed", "WorkflowFinished"]);
    assert_eq!(events[1].type_, EventType::Warning);
    assert_eq!(
        events[1].note,
        "backup-3 Failed in 4s: group a failed; steps: group a Failed; group b Skipped"
    );
}

#[test]
fn a_four_group_capture_costs_one_event_at_its_end() {
    // Start to end in single transitions, as the operator drives it: the start Event is published
    // where the run starts, so a 4-group capture is 2 Events (0.5 per step).
    let names = ["group a", "group b", "group c", "group d"];
    let mut total = 0;
    for done in 0..names.len() {
        let phases = |finished: usize| {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let phase = match i.cmp(&finished) {
                        std::cmp::Ordering::Less => StepPhase::Succeeded,
                        std::cmp::Ordering::Equal => StepPhase::Running,
                        std::cmp::Ordering::Greater => StepPhase::Pending,
                    };
                    step(n, phase)
                })
                .collect::<Vec<_>>()
        };
        let before = run(RunPhase::Running, phases(done));
        let last = done + 1 == names.len();
        let after = run(
            if last {
                RunPhase::Succeeded
            } else {
                RunPhase::Running
            },
            phases(done + 1),
        );
        total += planned(&before, &after).len();
    }
    assert_eq!(total, 1);
}
