//! Property tests: whatever the shell observes, in whatever order, the engine keeps its rules.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::tests::{at, plan};
use super::*;
use crate::api::progress::InverseProgress;
use crate::recipe::plan::Action as PlanAction;

const STEPS: [&str; 8] = [
    "group: g0",
    "group: g1",
    "group: g2",
    "group: g3",
    "hook: h/ok",
    "hook: h/tolerant",
    "hook: h/quiesce",
    "hook: h/undo",
];

fn object() -> impl Strategy<Value = Option<ObjectProgress>> {
    prop_oneof![
        Just(None),
        Just(Some(ObjectProgress::Running)),
        Just(Some(ObjectProgress::Completed)),
        any::<bool>().prop_map(|retryable| Some(ObjectProgress::Failed {
            reason: "r".into(),
            retryable
        })),
    ]
}

fn hook() -> impl Strategy<Value = HookObservation> {
    prop_oneof![
        Just(HookObservation::Running),
        Just(HookObservation::NotRunning),
        any::<bool>().prop_map(|ok| HookObservation::Finished {
            ok,
            message: "m".into(),
            results: vec![]
        }),
    ]
}

/// One round of news: for each step, what its objects or task look like, and how much time passed.
#[derive(Debug, Clone)]
struct Round {
    objects: Vec<Option<ObjectProgress>>,
    hook: HookObservation,
    inverse: HookObservation,
    seconds: i64,
}

fn round() -> impl Strategy<Value = Round> {
    (
        prop::collection::vec(object(), 1..3),
        hook(),
        hook(),
        0i64..90,
    )
        .prop_map(|(objects, hook, inverse, seconds)| Round {
            objects,
            hook,
            inverse,
            seconds,
        })
}

fn observe(plan: &WorkflowPlan, run: &WorkflowRun, round: &Round, now: i64) -> Observed {
    let (steps, inverses) = watched(run);
    let steps = steps
        .into_iter()
        .map(|i| match plan.steps[i].action {
            PlanAction::Backup { .. } | PlanAction::Restore { .. } => {
                (i, Observation::Velero(round.objects.clone()))
            }
            _ => (i, Observation::Hook(round.hook.clone())),
        })
        .collect();
    let inverses = inverses
        .into_iter()
        .map(|i| (i, round.inverse.clone()))
        .collect::<BTreeMap<_, _>>();
    Observed {
        now: at(now),
        steps,
        inverses,
    }
}

fn check_invariants(
    plan: &WorkflowPlan,
    before: &WorkflowRun,
    observed: &Observed,
    after: &Next,
) -> Result<(), TestCaseError> {
    let run = &after.run;
    let running = run
        .steps
        .iter()
        .filter(|s| s.phase == StepPhase::Running)
        .count();
    prop_assert!(running <= 1, "several steps running: {:?}", run.steps);
    for i in 0..run.steps.len() {
        if !run.steps[i].phase.is_terminal() {
            prop_assert!(
                run.steps[i + 1..]
                    .iter()
                    .all(|s| s.phase == StepPhase::Pending),
                "a step after a running one started: {:?}",
                run.steps
            );
        }
        let (old, new) = (&before.steps[i], &run.steps[i]);
        if old.phase.is_terminal() {
            prop_assert_eq!(
                (old.phase, old.attempt),
                (new.phase, new.attempt),
                "a finished step changed"
            );
        }
        prop_assert!(new.attempt <= MAX_VELERO_ATTEMPTS || plan.steps[i].action.is_hook());
        // Never passed while its Velero objects still run.
        if let Some(Observation::Velero(objects)) = observed.steps.get(&i)
            && objects
                .iter()
                .any(|o| matches!(o, None | Some(ObjectProgress::Running)))
            && i + 1 < run.steps.len()
        {
            prop_assert!(
                matches!(
                    run.steps[i + 1].phase,
                    StepPhase::Pending | StepPhase::Skipped
                ),
                "step {} started while step {i} runs",
                i + 1
            );
        }
    }
    for action in &after.actions {
        match action {
            Action::Start { step, attempt } => {
                prop_assert_eq!(run.steps[*step].phase, StepPhase::Running);
                prop_assert_eq!(*attempt, run.steps[*step].attempt);
                prop_assert!(
                    !before.steps[*step].phase.is_terminal(),
                    "a finished step was started again"
                );
            }
            Action::StartInverse { step, .. } => prop_assert!(run.steps[*step].inverse.is_some()),
        }
    }
    if before.phase != RunPhase::Running {
        prop_assert!(after.actions.is_empty());
        prop_assert_eq!(&after.run, before);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn rules_hold_for_any_observations(
        steps in prop::collection::vec(prop::sample::select(STEPS.to_vec()), 1..6),
        fail_on in prop::sample::select(vec!["any-error", "essential-error", "full-error"]),
        rounds in prop::collection::vec(round(), 1..40),
    ) {
        // A group runs once per workflow (validation refuses a repeat); hooks may repeat.
        let mut groups = vec![];
        let steps: Vec<&str> = steps
            .into_iter()
            .filter(|s| !s.starts_with("group") || !groups.contains(s) && { groups.push(*s); true })
            .collect();
        let steps: Vec<&str> = if steps.iter().any(|s| s.starts_with("group")) { steps } else { [steps, vec!["group: g0"]].concat() };
        let plan = plan(&steps, fail_on);
        let mut run = start(&plan, "r".into(), 1, at(0));
        let mut now = 0;
        for round in &rounds {
            now += round.seconds;
            let observed = observe(&plan, &run, round, now);
            let n = next(&plan, &run, &observed);
            check_invariants(&plan, &run, &observed, &n)?;
            run = n.run;
        }
        // Once everything the shell reports has ended well, every run ends.
        let fine = Round { objects: vec![Some(ObjectProgress::Completed)], hook: HookObservation::Finished { ok: true, message: String::new(), results: vec![] }, inverse: HookObservation::Finished { ok: true, message: String::new(), results: vec![] }, seconds: 1 };
        for _ in 0..=2 * plan.steps.len() {
            now += 1;
            let observed = observe(&plan, &run, &fine, now);
            let n = next(&plan, &run, &observed);
            check_invariants(&plan, &run, &observed, &n)?;
            run = n.run;
        }
        prop_assert!(run.phase != RunPhase::Running, "the run never ended: {:?}", run);
    }
}

fn step_phase() -> impl Strategy<Value = StepPhase> {
    prop::sample::select(vec![
        StepPhase::Pending,
        StepPhase::Running,
        StepPhase::Succeeded,
        StepPhase::Failed,
        StepPhase::Skipped,
    ])
}

/// Any step a stored status could hold (hand-edited, or written by another version).
fn stored_step() -> impl Strategy<Value = StepProgress> {
    (
        prop::sample::select(STEPS.to_vec()),
        step_phase(),
        0u32..6,
        prop::option::of((step_phase(), 0u32..3)),
        prop::collection::vec("[a-z]{1,3}", 0..3),
    )
        .prop_map(|(name, phase, attempt, inverse, objects)| StepProgress {
            name: name.replace(": ", " "),
            phase,
            attempt,
            start_time: None,
            end_time: None,
            objects,
            message: None,
            results: vec![],
            inverse: inverse.map(|(phase, attempt)| InverseProgress {
                op: "undo".into(),
                phase,
                attempt,
                message: None,
                results: vec![],
            }),
            timed_out: false,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// No stored run panics the engine against any plan; a run whose plan is not the one it
    /// recorded starts nothing and, once nothing it started still runs, ends.
    #[test]
    fn any_stored_run_against_any_plan(
        plan_steps in prop::collection::vec(prop::sample::select(STEPS[4..].to_vec()), 0..5),
        groups in 0usize..4,
        stored in prop::collection::vec(stored_step(), 0..8),
        fingerprint in prop::option::of(prop::sample::select(vec!["", "other"])),
        round in round(),
    ) {
        let mut steps: Vec<String> = (0..groups.max(1)).map(|g| format!("group: g{g}")).collect();
        steps.extend(plan_steps.iter().map(|s| (*s).to_owned()));
        let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
        let plan = plan(&steps, "any-error");
        let mut run = start(&plan, "r".into(), 1, at(0));
        run.steps = stored;
        run.plan = fingerprint.map(|f| if f.is_empty() { plan.fingerprint.clone() } else { f.to_owned() });
        let (watched_steps, watched_inverses) = watched(&run);
        // What a shell can observe of a stored run, whatever the plan.
        let observed = Observed {
            now: at(10),
            steps: watched_steps.iter().map(|&i| (i, Observation::Velero(round.objects.clone()))).collect(),
            inverses: watched_inverses.iter().map(|&i| (i, round.inverse.clone())).collect(),
        };
        let n = next(&plan, &run, &observed);
        for action in &n.actions {
            match action {
                Action::Start { step, .. } => {
                    prop_assert!(*step < plan.steps.len() && *step < n.run.steps.len());
                    prop_assert!(same_plan(&plan, &run), "started a step of a plan the run does not execute");
                }
                // An inverse may run after a plan change: the op the shell runs is the plan's.
                Action::StartInverse { step, .. } => {
                    prop_assert!(*step < n.run.steps.len());
                    let planned = unwind::planned(&plan, &n.run, *step).map(|s| &s.action);
                    prop_assert!(matches!(planned, Some(PlanAction::Exec(e)) if e.inverse.is_some()));
                }
            }
        }
        if !same_plan(&plan, &run) && run.phase == RunPhase::Running {
            let only_inverses = n.actions.iter().all(|a| matches!(a, Action::StartInverse { .. }));
            prop_assert!(only_inverses);
            let still = n.run.steps.iter().any(|s| s.phase == StepPhase::Running);
            prop_assert_eq!(n.run.phase == RunPhase::Running, still || n.run.steps.iter().any(|s| s.inverse.as_ref().is_some_and(|i| !i.phase.is_terminal())));
            if n.run.phase != RunPhase::Running {
                prop_assert!(n.run.plan_changed);
            }
        }
    }
}
