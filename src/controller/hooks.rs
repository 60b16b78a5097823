//! The seam between the engine and hook execution: exec and check steps are started and observed
//! through [`HookRunner`]. Until pod exec and condition checks are implemented, every hook step
//! fails with a reason that says so: a hook is never reported as success without having run.

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
}

/// The runner of this version: hook steps fail, saying why.
pub struct NotImplemented;

/// What a hook step reports until hooks are implemented.
pub const NOT_IMPLEMENTED: &str = "exec and check hooks are not implemented in this version of vrg-operator; the step did not run";

impl HookRunner for NotImplemented {
    fn start(&self, _: HookKey, _: &Step) {}

    fn observe(&self, _: &HookKey) -> HookObservation {
        HookObservation::Finished {
            ok: false,
            message: NOT_IMPLEMENTED.to_owned(),
            results: vec![],
        }
    }
}
