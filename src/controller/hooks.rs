//! The seam between the engine and hook execution: exec and check steps are started and observed
//! through [`HookRunner`], so the engine and its tests never depend on how hooks run.

use crate::engine::HookObservation;
use crate::recipe::plan::Step;

/// Identifies one attempt of one hook step (or its inverse op) of one run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HookKey {
    pub vrg_namespace: String,
    pub vrg_name: String,
    pub run_id: String,
    pub step: usize,
    pub attempt: u32,
    pub inverse: bool,
}

/// Runs hook steps in the background and reports how they are doing; never blocks a reconcile.
pub trait HookRunner: Send + Sync {
    /// Starts the step's task for `key` unless one exists.
    fn start(&self, key: HookKey, step: &Step);
    /// How the task for `key` is doing; `NotRunning` if there is none (e.g. after a restart).
    fn observe(&self, key: &HookKey) -> HookObservation;
    /// Drops everything held for the VRG `namespace/name` (it was deleted).
    fn forget(&self, namespace: &str, name: &str);
}

/// A hook task the engine decided to start, held back until the run's new status (the step
/// `Running` at this attempt) is written: a crash before the write never started it, and one
/// after shows the attempt in status (SPEC 5, exactly once).
#[derive(Debug, Clone)]
pub struct HookStart {
    pub key: HookKey,
    pub step: Step,
}
