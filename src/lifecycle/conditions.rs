//! `ClusterDataProtected` and `KubeObjectsReady` from the lifecycle's decision and the run: what
//! a user reads in `kubectl get vrg` and `kubectl describe`, in words they can act on.

use super::captures::CaptureKey;
use super::decide::{Step, Waiting};
use super::{Vrg, World};
use crate::api::progress::{RunPhase, WorkflowRun};
use crate::api::vrg::{KubeObjectProtectionStatus, RecoveryPhase, ReplicationState, VrgAction};

/// One condition's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub ok: bool,
    pub reason: &'static str,
    pub message: String,
}

fn verdict(ok: bool, reason: &'static str, message: impl Into<String>) -> Verdict {
    Verdict {
        ok,
        reason,
        message: message.into(),
    }
}

/// What to do with a condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Update {
    Set(Verdict),
    Remove,
    Keep,
}

/// `ClusterDataProtected`: is there a capture a failover could restore, written by this cluster's
/// lineage, and is this cluster keeping it current?
pub fn cluster_data_protected(
    vrg: &Vrg,
    world: &World,
    kop: &KubeObjectProtectionStatus,
    step: &Step,
) -> Verdict {
    let run = kop.run.as_ref();
    if let Step::Fenced { by } = step {
        return verdict(false, "Fenced", fenced_message(vrg, by));
    }
    if vrg.role == ReplicationState::Secondary {
        if let Step::Wait {
            why: Waiting::NeverProtected,
            ..
        } = step
        {
            return verdict(
                false,
                "NoFinalCapture",
                "no final capture is taken for the relocation: this cluster never protected the \
                 application as primary, so it has nothing to hand over",
            );
        }
        return secondary(vrg, run);
    }
    if let Step::Wait {
        why: Waiting::StorageUnavailable { location, message },
        ..
    } = step
    {
        return verdict(
            false,
            "StorageUnavailable",
            format!(
                "BackupStorageLocation {location} cannot be used: {message}; nothing is captured \
                 until it is Available"
            ),
        );
    }
    if vrg.action.is_some()
        && kop
            .recovery
            .as_ref()
            .is_some_and(|r| r.phase != RecoveryPhase::Recovered)
    {
        return verdict(
            false,
            "Recovering",
            "the application is being recovered on this cluster; capturing starts once it is",
        );
    }
    if let Step::Wait {
        why: Waiting::NoBackupWorkflow,
        ..
    } = step
    {
        return verdict(
            false,
            "NoBackupWorkflow",
            "the recipe has no backup workflow: nothing is captured",
        );
    }
    protecting(world, kop, run)
}

fn fenced_message(vrg: &Vrg, by: &CaptureKey) -> String {
    let what = if vrg.role == ReplicationState::Secondary {
        "no final capture is taken here: this cluster is not the one the application runs on"
    } else {
        "this cluster neither captures nor deletes captures. If the application now runs \
         elsewhere, make this VRG secondary; to bring it back here, set action Failover or \
         Relocate, which recovers from that capture"
    };
    format!(
        "{} was written by another cluster after this cluster's newest capture: {what}",
        by.describe()
    )
}

fn secondary(vrg: &Vrg, run: Option<&WorkflowRun>) -> Verdict {
    let relocating = vrg.action == Some(VrgAction::Relocate);
    let final_run = run.filter(|r| {
        relocating
            && r.workflow == "backup"
            && r.final_capture
            && r.start_generation == Some(vrg.generation)
    });
    match final_run {
        Some(r) if r.phase == RunPhase::Running => verdict(
            false,
            "Uploading",
            format!("final capture {} for the relocation in progress", r.capture),
        ),
        Some(r) if r.phase == RunPhase::Failed => verdict(
            false,
            "KubeObjectsCaptureError",
            format!(
                "final capture {} for the relocation failed: {}; it is retried at the capture \
                 interval, and the cluster relocated to waits for it",
                r.capture,
                r.message.as_deref().unwrap_or("no reason given")
            ),
        ),
        Some(r) => verdict(
            true,
            "Uploaded",
            format!(
                "final capture {} for the relocation completed: the cluster the application \
                 moves to restores it",
                r.capture
            ),
        ),
        None if relocating && !vrg.has_backup => verdict(
            false,
            "NoBackupWorkflow",
            "the recipe has no backup workflow: no final capture is taken for the relocation",
        ),
        None => verdict(
            false,
            "Secondary",
            "this cluster is secondary: the cluster where the VRG is primary captures the \
             application",
        ),
    }
}

fn protecting(
    world: &World,
    kop: &KubeObjectProtectionStatus,
    run: Option<&WorkflowRun>,
) -> Verdict {
    let protected = kop.capture_to_recover_from.as_ref().map(CaptureKey::of);
    let newest = protected
        .as_ref()
        .map(|k| format!("capture {} is the newest that can be restored", k.number));
    let Some(run) = run else {
        return match newest {
            Some(n) => verdict(true, "Uploaded", n),
            None => verdict(false, "Uploading", "no capture yet"),
        };
    };
    if run.workflow == "restore" {
        return match &protected {
            Some(k) => verdict(
                true,
                "Uploaded",
                format!("recovered from {}; capturing starts here", k.describe()),
            ),
            None => verdict(false, "Uploading", "no capture yet"),
        };
    }
    let this_run_restorable = protected
        .as_ref()
        .is_some_and(|k| k.number == run.capture && k.cluster == world.cluster);
    match run.phase {
        RunPhase::Running => match newest {
            Some(n) => verdict(
                true,
                "Uploaded",
                format!("{n}; capture {} in progress", run.capture),
            ),
            None => verdict(
                false,
                "Uploading",
                format!("capture {} in progress", run.capture),
            ),
        },
        RunPhase::Failed => verdict(
            false,
            "KubeObjectsCaptureError",
            format!(
                "capture {} failed: {}{}",
                run.capture,
                run.message.as_deref().unwrap_or("no reason given"),
                newest.map(|n| format!("; {n}")).unwrap_or_default()
            ),
        ),
        RunPhase::Succeeded | RunPhase::PartiallySucceeded if this_run_restorable => {
            let message = match &run.message {
                Some(m) => format!(
                    "capture {} completed with tolerated failures: {m}",
                    run.capture
                ),
                None => format!("capture {} completed", run.capture),
            };
            verdict(true, "Uploaded", message)
        }
        RunPhase::Succeeded | RunPhase::PartiallySucceeded => {
            let fallback = newest.unwrap_or_else(|| "no capture can be restored yet".to_owned());
            verdict(
                protected.is_some(),
                if protected.is_some() {
                    "Uploaded"
                } else {
                    "KubeObjectsCaptureError"
                },
                format!(
                    "capture {} finished ({}) but cannot be restored: a group the restore \
                     workflow needs has no completed Backup; {fallback}",
                    run.capture,
                    run.message.as_deref().unwrap_or("no failures reported")
                ),
            )
        }
    }
}

/// `KubeObjectsReady`: how the recovery on this cluster is doing. A secondary has none.
pub fn kube_objects_ready(vrg: &Vrg, kop: &KubeObjectProtectionStatus, step: &Step) -> Update {
    if vrg.role == ReplicationState::Secondary {
        return Update::Remove;
    }
    let Some(rec) = &kop.recovery else {
        return Update::Keep;
    };
    let source = rec.source.as_ref().map(|s| CaptureKey::of(s).describe());
    Update::Set(match rec.phase {
        RecoveryPhase::Recovered => verdict(
            true,
            "Recovered",
            rec.message.clone().unwrap_or_else(|| "recovered".into()),
        ),
        RecoveryPhase::Failed => verdict(
            false,
            "KubeObjectsRecoveryError",
            rec.message
                .clone()
                .unwrap_or_else(|| "recovery failed".into()),
        ),
        RecoveryPhase::Restoring => verdict(
            false,
            "Restoring",
            format!("restoring {}", source.unwrap_or_else(|| "a capture".into())),
        ),
        RecoveryPhase::Pending => pending(rec.message.as_deref(), step),
    })
}

fn pending(earlier: Option<&str>, step: &Step) -> Verdict {
    let before = earlier.map(|m| format!("{m}; ")).unwrap_or_default();
    let Step::Wait { why, .. } = step else {
        return verdict(
            false,
            "Pending",
            format!("{before}the run in progress finishes first"),
        );
    };
    match why {
        Waiting::Sync { location } => verdict(
            false,
            "AwaitingSync",
            format!(
                "{before}waiting for Velero's backup sync of BackupStorageLocation {location} to \
                 run after the failover was asked for, so the newest capture in storage is restored"
            ),
        ),
        Waiting::NoCapture { groups } => verdict(
            false,
            "NoCapture",
            format!(
                "{before}no capture of this VRG with a completed Backup of every group it needs \
                 ({}) is visible in the Velero namespace yet (Velero's backup sync brings the \
                 other cluster's captures)",
                groups.join(", ")
            ),
        ),
        Waiting::FinalCapture { newest } => verdict(
            false,
            "AwaitingFinalCapture",
            format!(
                "{before}a relocation restores the final capture of the cluster the application \
                 leaves: set that cluster's VRG to replicationState secondary with action \
                 Relocate, and this one restores its final capture once Velero's backup sync \
                 brings it (newest restorable capture seen: {}). To restore the newest capture \
                 without waiting, use action Failover",
                newest
                    .as_ref()
                    .map(CaptureKey::describe)
                    .unwrap_or_else(|| "none".into())
            ),
        ),
        Waiting::StorageUnavailable { location, message } => verdict(
            false,
            "StorageUnavailable",
            format!("{before}BackupStorageLocation {location} cannot be used: {message}"),
        ),
        Waiting::RecoveryFailed
        | Waiting::NextCapture
        | Waiting::NoBackupWorkflow
        | Waiting::FinalCaptureFailed
        | Waiting::NeverProtected => verdict(false, "Pending", format!("{before}waiting")),
    }
}
