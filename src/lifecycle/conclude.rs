//! What a finished run means for the lifecycle: a recovery that succeeded opens a new lineage; a
//! recovery whose capture Velero could not read moves on to the next newest capture; one that
//! failed otherwise waits for a change; a relocation's final capture is recorded.

use super::captures::{self, CaptureKey};
use super::{Vrg, World};
use crate::api::progress::RunPhase;
use crate::api::vrg::{KubeObjectProtectionStatus, RecoveryPhase, UnusableCapture};

/// What the shell saw of a finished run's Velero objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// A Restore failed as a whole because Velero could not read its Backup (its data is gone
    /// from storage, or the Backup object is): Velero's reason.
    pub unreadable: Option<String>,
    /// Warnings Velero reported over the run's Restores (for example objects that already
    /// existed and were left as they were).
    pub warnings: i64,
}

/// Records the end of the run in `kop.run` (a no-op while it runs, or when already recorded).
pub fn conclude(vrg: &Vrg, world: &World, kop: &mut KubeObjectProtectionStatus, outcome: &Outcome) {
    let Some(run) = kop.run.clone() else {
        return;
    };
    if run.phase == RunPhase::Running {
        return;
    }
    match run.workflow.as_str() {
        "restore" => {
            let Some(rec) = kop.recovery.as_mut() else {
                return; // The VRG turned secondary while the restore ran.
            };
            if rec.phase != RecoveryPhase::Restoring {
                return;
            }
            let source = run.source.clone().unwrap_or_default();
            let what = CaptureKey::of(&source).describe();
            match (run.phase, &outcome.unreadable) {
                (RunPhase::Failed, _) if run.plan_changed => {
                    // Not the capture's fault: recover again, with the new recipe.
                    rec.message = Some(format!(
                        "the recipe changed while recovering from {what}; recovering again with \
                         the new recipe"
                    ));
                    rec.phase = RecoveryPhase::Pending;
                    rec.source = None;
                }
                (RunPhase::Succeeded | RunPhase::PartiallySucceeded, _) => {
                    rec.phase = RecoveryPhase::Recovered;
                    let mut message = format!("recovered from {what}");
                    if let Some(m) = &run.message {
                        message.push_str(&format!(" with tolerated failures: {m}"));
                    }
                    if outcome.warnings > 0 {
                        message.push_str(&format!(
                            "; Velero reported {} warning(s): objects that already existed were \
                             left as they were (set restoreOverwriteResources on the group, or \
                             remove them before recovering, to restore the captured state)",
                            outcome.warnings
                        ));
                    }
                    rec.message = Some(message);
                    kop.recovered_generation = Some(vrg.generation);
                    let seen = captures::highest_epoch(&world.captures)
                        .max(source.epoch.unwrap_or(0))
                        .max(kop.epoch.unwrap_or(0));
                    kop.epoch = Some(seen + 1);
                }
                (_, Some(reason)) => {
                    rec.message = Some(format!(
                        "Velero could not read {what} ({reason}); trying the next newest capture"
                    ));
                    rec.unusable.push(UnusableCapture {
                        capture: source,
                        reason: reason.clone(),
                    });
                    rec.phase = RecoveryPhase::Pending;
                    rec.source = None;
                }
                (_, None) => {
                    rec.phase = RecoveryPhase::Failed;
                    rec.failed_generation = Some(vrg.generation);
                    rec.message = Some(format!(
                        "recovery from {what} failed: {}; change the VRG to try again",
                        run.message.as_deref().unwrap_or("no reason given")
                    ));
                }
            }
        }
        "backup" if run.final_capture && run.phase != RunPhase::Failed => {
            kop.final_capture_generation = run.start_generation;
        }
        _ => {}
    }
}
