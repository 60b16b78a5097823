//! How much of a hook's per-target results status keeps. A hook over hundreds of pods must still
//! write a VRG status well under etcd's object limit (1.5 MiB by default): each step keeps a
//! few results, failures first, and says what it left out; and a run whose results still outgrow
//! the budget sheds output, successes' first.

use crate::api::progress::{HookResult, WorkflowRun};

/// Per-target results one hook step (or inverse op) keeps in status.
pub const KEPT_RESULTS: usize = 10;
/// What a run's serialised progress may take in status.
pub const RUN_BUDGET: usize = 256 * 1024;

/// Keeps at most [`KEPT_RESULTS`] of `results`, those `failed` says failed first, each group in
/// its order; and, when some were left out, says how many there were of each.
pub fn keep(
    results: Vec<HookResult>,
    failed: impl Fn(&HookResult) -> bool,
) -> (Vec<HookResult>, Option<String>) {
    let total = results.len();
    if total <= KEPT_RESULTS {
        return (results, None);
    }
    let (mut kept, succeeded): (Vec<HookResult>, Vec<HookResult>) =
        results.into_iter().partition(|r| failed(r));
    let failures = kept.len();
    kept.extend(succeeded);
    kept.truncate(KEPT_RESULTS);
    let note = format!(
        "results of {KEPT_RESULTS} of {total} targets kept (failures first): {failures} failed, {} \
         succeeded",
        total - failures
    );
    (kept, Some(note))
}

/// Sheds per-target output from `run` until its JSON fits `budget` bytes: first the output of
/// results that succeeded, then every result's output; results themselves (targets, exit codes,
/// messages) stay.
pub fn fit(run: &mut WorkflowRun, budget: usize) {
    let size = |run: &WorkflowRun| serde_json::to_vec(run).map_or(0, |v| v.len());
    for shed_failures_too in [false, true] {
        if size(run) <= budget {
            return;
        }
        for step in &mut run.steps {
            let inverse = step
                .inverse
                .iter_mut()
                .flat_map(|inv| inv.results.iter_mut());
            for result in step.results.iter_mut().chain(inverse) {
                if shed_failures_too || result.exit_code == Some(0) {
                    shed(result);
                }
            }
        }
    }
}

fn shed(result: &mut HookResult) {
    if result.stdout.is_empty() && result.stderr.is_empty() {
        return;
    }
    result.stdout.clear();
    result.stderr.clear();
    let note = "output not kept: the run's results outgrew the status budget";
    result.message = Some(match result.message.take() {
        Some(m) => format!("{m}; {note}"),
        None => note.to_owned(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::progress::{StepPhase, StepProgress};

    fn result(i: usize, exit: i32, output: usize) -> HookResult {
        HookResult {
            target: format!("pod/p{i}"),
            container: Some("main".into()),
            exit_code: Some(exit),
            stdout: "o".repeat(output),
            stderr: "e".repeat(output),
            message: None,
            replicas: None,
        }
    }

    #[test]
    fn a_few_results_are_kept_whole() {
        let results: Vec<_> = (0..KEPT_RESULTS).map(|i| result(i, 0, 1)).collect();
        assert_eq!(
            keep(results.clone(), |r| r.exit_code != Some(0)),
            (results, None)
        );
    }

    #[test]
    fn many_results_keep_failures_first_and_count_the_rest() {
        let results: Vec<_> = (0..500)
            .map(|i| result(i, i32::from(i == 499), 1))
            .collect();
        let (kept, note) = keep(results, |r| r.exit_code != Some(0));
        assert_eq!(kept.len(), KEPT_RESULTS);
        assert_eq!(kept[0].target, "pod/p499", "the failure leads");
        assert_eq!(kept[1].target, "pod/p0", "then successes in order");
        assert_eq!(
            note.unwrap(),
            "results of 10 of 500 targets kept (failures first): 1 failed, 499 succeeded"
        );
    }

    fn run(steps: usize, results: Vec<HookResult>) -> WorkflowRun {
        use crate::engine::tests::{at, plan};
        let mut run = crate::engine::start(
            &plan(&["hook: h/ok", "group: g0"], "any-error"),
            "r".into(),
            1,
            at(0),
        );
        let step = StepProgress {
            phase: StepPhase::Succeeded,
            results,
            ..run.steps[0].clone()
        };
        run.steps = vec![step; steps];
        run
    }

    #[test]
    fn an_outgrown_run_sheds_successes_output_first_then_all() {
        let results = vec![result(0, 0, 4096), result(1, 1, 4096)];
        let mut small = run(2, results.clone());
        let before = small.clone();
        fit(&mut small, RUN_BUDGET);
        assert_eq!(small, before, "a run within budget is untouched");

        let mut big = run(20, results.clone());
        fit(&mut big, RUN_BUDGET);
        assert!(serde_json::to_vec(&big).unwrap().len() <= RUN_BUDGET);
        let step = &big.steps[0];
        assert!(step.results[0].stdout.is_empty(), "a success's output goes");
        assert_eq!(step.results[1].stdout.len(), 4096, "the failure's stays");

        let mut huge = run(100, results);
        fit(&mut huge, RUN_BUDGET);
        assert!(serde_json::to_vec(&huge).unwrap().len() <= RUN_BUDGET);
        assert!(huge.steps[0].results[1].stdout.is_empty());
        assert_eq!(huge.steps[0].results[1].exit_code, Some(1), "results stay");
        assert!(
            huge.steps[0].results[1]
                .message
                .as_deref()
                .unwrap()
                .contains("budget")
        );
    }
}
