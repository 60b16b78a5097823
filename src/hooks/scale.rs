//! Scale hooks, the decisions without the cluster: what a `down` step remembers, what an `up`
//! step restores, and when a `sync` step is done.
//!
//! A workload's replicas are remembered twice. In status, in the down step's result for it, so
//! an `up` after an operator restart still knows the count. And on the workload itself, in Ramen's
//! annotation, written in the same update that scales it to zero: a crash between that update and
//! the status write, or a capture of the scaled-down workload restored on another cluster, still
//! knows the count (a second `down` of a workload at zero keeps the annotation's count, never 0).

use std::collections::BTreeMap;

use crate::api::progress::{StepPhase, WorkflowRun};

/// Ramen's annotation for the replicas a scale-down found.
pub const ANNOTATION_REPLICAS: &str = "ramendr.io/scale-hook-replicas-count";

/// The replicas of each workload (`kind/name`) that the run's `down` steps of `hook` recorded,
/// the latest attempt last (a step rerun after a restart overwrites its own earlier results).
pub fn remembered(run: &WorkflowRun, hook: &str) -> BTreeMap<String, i32> {
    let down = format!("hook {hook}/down");
    run.steps
        .iter()
        .filter(|s| s.name == down && s.phase != StepPhase::Pending)
        .flat_map(|s| &s.results)
        .filter_map(|r| Some((r.target.clone(), r.replicas?)))
        .collect()
}

/// What a `down` does to a workload with `replicas` desired and the annotation `annotated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Down {
    /// Write the annotation and scale to zero; remember `replicas`.
    Scale { remember: i32 },
    /// Already at zero: nothing to write; remember what the annotation says (or zero).
    AlreadyDown { remember: i32 },
}

pub fn down(replicas: i32, annotated: Option<&str>) -> Result<Down, String> {
    if replicas > 0 {
        return Ok(Down::Scale { remember: replicas });
    }
    let remember = match annotated {
        Some(text) => parse(text)?,
        None => 0,
    };
    Ok(Down::AlreadyDown { remember })
}

/// The replicas an `up` sets: the count status remembers, else the workload's annotation.
pub fn up(target: &str, remembered: Option<i32>, annotated: Option<&str>) -> Result<i32, String> {
    if let Some(replicas) = remembered {
        return Ok(replicas);
    }
    match annotated {
        Some(text) => parse(text).map_err(|e| format!("{target}: {e}")),
        None => Err(format!(
            "{target}: no replica count to restore: no down step of this run scaled it, and it has no {ANNOTATION_REPLICAS} annotation"
        )),
    }
}

fn parse(text: &str) -> Result<i32, String> {
    match text.trim().parse::<i32>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(format!(
            "annotation {ANNOTATION_REPLICAS} is {text:?}, not a replica count"
        )),
    }
}

/// What a workload reports, for `sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rollout {
    pub desired: i32,
    pub ready: i32,
    pub generation: i64,
    pub observed_generation: i64,
}

impl Rollout {
    /// Its controller saw the latest spec, and as many replicas are ready as desired.
    pub fn synced(&self) -> bool {
        self.observed_generation >= self.generation && self.ready == self.desired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::progress::{HookResult, StepProgress};

    fn step(name: &str, phase: StepPhase, results: &[(&str, Option<i32>)]) -> StepProgress {
        serde_json::from_value(serde_json::json!({
            "name": name,
            "phase": phase,
            "results": results
                .iter()
                .map(|(t, r)| HookResult { target: (*t).into(), replicas: *r, ..Default::default() })
                .collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn up_restores_what_this_runs_down_recorded() {
        let run: WorkflowRun = serde_json::from_value(serde_json::json!({
            "id": "r", "workflow": "backup", "capture": 1, "phase": "Running",
            "startTime": "2026-01-01T00:00:00Z",
            "steps": [
                step("hook app/down", StepPhase::Succeeded, &[("deployment/web", Some(3)), ("statefulset/db", Some(1))]),
                step("hook other/down", StepPhase::Succeeded, &[("deployment/x", Some(9))]),
                step("hook app/up", StepPhase::Running, &[("deployment/web", Some(3))]),
            ],
        }))
        .unwrap();
        let remembered = remembered(&run, "app");
        assert_eq!(
            remembered,
            BTreeMap::from([("deployment/web".into(), 3), ("statefulset/db".into(), 1)])
        );
        assert_eq!(
            up(
                "deployment/web",
                remembered.get("deployment/web").copied(),
                Some("7")
            ),
            Ok(3)
        );
    }

    #[test]
    fn a_second_down_keeps_the_first_count() {
        assert_eq!(down(4, None), Ok(Down::Scale { remember: 4 }));
        // After a crash between the scale-down and the status write, the annotation knows.
        assert_eq!(down(0, Some("4")), Ok(Down::AlreadyDown { remember: 4 }));
        assert_eq!(down(0, None), Ok(Down::AlreadyDown { remember: 0 }));
        assert!(
            down(0, Some("many"))
                .unwrap_err()
                .contains("not a replica count")
        );
    }

    #[test]
    fn up_without_a_count_says_why() {
        assert_eq!(up("deployment/web", None, Some("2")), Ok(2));
        let e = up("deployment/web", None, None).unwrap_err();
        assert!(
            e.contains("deployment/web: no replica count to restore"),
            "{e}"
        );
        assert!(up("deployment/web", None, Some("-1")).is_err());
    }

    #[test]
    fn sync_waits_for_the_controller_and_the_ready_replicas() {
        let rollout = Rollout {
            desired: 3,
            ready: 3,
            generation: 2,
            observed_generation: 1,
        };
        assert!(!rollout.synced());
        assert!(
            Rollout {
                observed_generation: 2,
                ..rollout
            }
            .synced()
        );
        assert!(
            !Rollout {
                observed_generation: 2,
                ready: 2,
                ..rollout
            }
            .synced()
        );
        assert!(Rollout::default().synced());
    }
}
