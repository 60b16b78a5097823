//! What a VRG does now: drive its run, recover, capture, wait, fence, or stand by as secondary.
//!
//! A run in progress is always driven to its end before anything else starts (its Velero objects
//! and hooks are never abandoned half way; a run stopped by a turn to secondary waits for what it
//! started and unwinds); everything below decides what starts next.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::captures::{self, CaptureKey, Source};
use super::rotate::rotation;
use super::{Vrg, World};
use crate::api::progress::RunPhase;
use crate::api::vrg::{
    KubeObjectProtectionStatus, RecoveryPhase, RecoveryStatus, ReplicationState, VrgAction,
};
use crate::engine::schedule::{self, Schedule};

/// How often to look again while waiting for Velero's backup sync after a failover request.
pub const SYNC_RECHECK: Duration = Duration::from_secs(5);
/// How often to look again for a capture to restore, or for a relocation's final capture.
pub const CAPTURE_RECHECK: Duration = Duration::from_secs(10);
/// How often to look again at an unusable storage location.
pub const STORAGE_RECHECK: Duration = Duration::from_secs(30);

/// The lifecycle's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub step: Step,
    /// Backups of this cluster's older captures that may be deleted now.
    pub rotate: Vec<String>,
    /// More may be deleted once Velero's next sync lists a newer capture: look again then.
    pub rotate_after_sync: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Drive the run in status; it is in progress.
    Drive,
    /// Stop the run in progress and unwind it: the VRG was turned secondary while it ran (a
    /// relocation's final capture is driven instead).
    Stop,
    /// Start restoring this capture.
    Recover(Source),
    /// Start capture `number` in lineage `epoch`.
    Capture {
        number: i64,
        epoch: i64,
        final_capture: bool,
    },
    Wait {
        why: Waiting,
        /// Look again after this long even without news (`None`: only on a change).
        recheck: Option<Duration>,
    },
    /// A capture written elsewhere is newer than anything this cluster wrote: act on nothing.
    Fenced { by: CaptureKey },
    /// Secondary: nothing to do here.
    Secondary,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Waiting {
    /// The next capture is due after the recheck.
    NextCapture,
    NoBackupWorkflow,
    StorageUnavailable {
        location: String,
        message: String,
    },
    /// A failover waits until Velero's backup sync ran after it was asked for.
    Sync {
        location: String,
    },
    /// Nothing restorable is visible: no capture holds every one of these groups.
    NoCapture {
        groups: Vec<String>,
    },
    /// A relocation waits for the final capture of the cluster the application leaves;
    /// `newest` is the newest restorable capture seen meanwhile.
    FinalCapture {
        newest: Option<CaptureKey>,
    },
    /// The recovery failed; a change of the VRG retries it.
    RecoveryFailed,
    /// The final capture for a relocation failed; it is retried at the capture interval.
    FinalCaptureFailed,
    /// Secondary with action Relocate, but this cluster never protected the application as
    /// primary: it has nothing to hand over.
    NeverProtected,
}

impl Step {
    fn wait(why: Waiting, recheck: Option<Duration>) -> Self {
        Self::Wait { why, recheck }
    }
}

fn only(step: Step) -> Decision {
    Decision {
        step,
        rotate: vec![],
        rotate_after_sync: false,
    }
}

/// Decides what the VRG does now, updating the lifecycle part of `kop` (its lineage, its
/// recovery record, the capture it is protected by).
pub fn decide(vrg: &Vrg, world: &World, kop: &mut KubeObjectProtectionStatus) -> Decision {
    let running = kop
        .run
        .as_ref()
        .is_some_and(|r| r.phase == RunPhase::Running);
    let decision = match vrg.role {
        ReplicationState::Secondary => secondary(vrg, world, kop, running),
        ReplicationState::Primary => {
            if vrg.action.is_none()
                && kop
                    .recovery
                    .as_ref()
                    .is_some_and(|r| r.phase != RecoveryPhase::Recovered)
            {
                // The request was withdrawn before it completed.
                kop.recovery = None;
            }
            if vrg.action.is_some() && !recovered(kop) {
                recovering(vrg, world, kop, running)
            } else {
                protecting(vrg, world, kop, running)
            }
        }
    };
    let unusable = unusable(kop);
    kop.capture_to_recover_from = captures::restorable(
        &world.captures,
        vrg.needed_groups(),
        &vrg.profiles,
        &unusable,
    )
    .next()
    .map(|s| s.capture.identifier());
    decision
}

/// Whether this cluster's recovery for the current request is done.
fn recovered(kop: &KubeObjectProtectionStatus) -> bool {
    match &kop.recovery {
        Some(r) => r.phase == RecoveryPhase::Recovered,
        // A status written before recoveries were recorded.
        None => kop.recovered_generation.is_some(),
    }
}

fn unusable(kop: &KubeObjectProtectionStatus) -> Vec<CaptureKey> {
    kop.recovery
        .iter()
        .flat_map(|r| &r.unusable)
        .map(|u| CaptureKey::of(&u.capture))
        .collect()
}

/// The newest capture of another cluster that is newer than this cluster's position: its
/// newest own capture in its lineage (a fresh lineage after a recovery outranks everything
/// seen before it). Without a lineage of its own, any other cluster's capture is newer.
pub(super) fn ahead(world: &World, kop: &KubeObjectProtectionStatus) -> Option<CaptureKey> {
    let newest_other = world
        .captures
        .iter()
        .filter(|c| c.key.cluster != world.cluster)
        .map(|c| &c.key)
        .max()?;
    let Some(epoch) = kop.epoch.or_else(|| own_epoch(world)) else {
        return Some(newest_other.clone());
    };
    // Compared as keys, exactly as captures are ordered everywhere else: of two clusters in one
    // lineage (a split brain), exactly one is ahead.
    let own_top = world
        .own()
        .filter(|c| c.key.epoch == epoch)
        .map(|c| &c.key)
        .max();
    let is_ahead = newest_other.epoch > epoch
        || (newest_other.epoch == epoch && own_top.is_none_or(|k| newest_other > k));
    is_ahead.then(|| newest_other.clone())
}

/// The highest lineage of this cluster's own captures.
fn own_epoch(world: &World) -> Option<i64> {
    world.own().map(|c| c.key.epoch).max()
}

/// The number a new capture gets: above every capture seen, here or synced from elsewhere.
fn next_number(world: &World, kop: &KubeObjectProtectionStatus) -> i64 {
    let last_run = kop
        .run
        .as_ref()
        .filter(|r| r.workflow == "backup")
        .map_or(0, |r| r.capture);
    captures::highest_number(&world.captures)
        .max(last_run)
        .max(0)
        + 1
}

fn secondary(
    vrg: &Vrg,
    world: &World,
    kop: &mut KubeObjectProtectionStatus,
    running: bool,
) -> Decision {
    // The next failover to this cluster recovers again.
    kop.recovery = None;
    kop.recovered_generation = None;
    if running {
        let final_capture = kop
            .run
            .as_ref()
            .is_some_and(|r| r.workflow == "backup" && r.final_capture);
        return only(if final_capture {
            Step::Drive
        } else {
            Step::Stop
        });
    }
    let relocating = vrg.action == Some(VrgAction::Relocate);
    if !relocating || !vrg.has_backup || kop.final_capture_generation == Some(vrg.generation) {
        return only(Step::Secondary);
    }
    // Only the cluster the application runs on hands it over: one that never protected it as
    // primary (it has no lineage: it never captured, or its recovery did not complete) would
    // hand over an empty namespace, and one that sees newer captures elsewhere is not the one
    // the application runs on.
    if kop.epoch.is_none() {
        return only(Step::wait(Waiting::NeverProtected, None));
    }
    if let Some(by) = ahead(world, kop) {
        return only(Step::Fenced { by });
    }
    let failed_before = kop.run.as_ref().filter(|r| {
        r.workflow == "backup"
            && r.final_capture
            && r.phase == RunPhase::Failed
            && r.start_generation == Some(vrg.generation)
    });
    if let Some(last) = failed_before
        && let Schedule::Wait(wait) =
            schedule::capture(Some(last), vrg.capture_interval, vrg.capture_now, world.now)
    {
        return only(Step::wait(Waiting::FinalCaptureFailed, Some(wait)));
    }
    let epoch = kop.epoch.unwrap_or(1);
    only(Step::Capture {
        number: next_number(world, kop),
        epoch,
        final_capture: true,
    })
}

fn recovering(
    vrg: &Vrg,
    world: &World,
    kop: &mut KubeObjectProtectionStatus,
    running: bool,
) -> Decision {
    let action = vrg.action.unwrap_or(VrgAction::Failover);
    let rec = kop.recovery.get_or_insert_with(|| RecoveryStatus {
        action: action_name(action).to_owned(),
        requested_at: Time(world.now),
        requested_generation: vrg.generation,
        ..Default::default()
    });
    if rec.action != action_name(action) {
        // Failover after a Relocate (or back): the request starts now, and a failover restores
        // what had reached storage by then.
        *rec = RecoveryStatus {
            action: action_name(action).to_owned(),
            requested_at: Time(world.now),
            requested_generation: vrg.generation,
            unusable: std::mem::take(&mut rec.unusable),
            ..Default::default()
        };
    }
    if running {
        return only(Step::Drive);
    }
    if !vrg.has_restore {
        rec.phase = RecoveryPhase::Recovered;
        rec.source = None;
        rec.message = Some(
            "the recipe has no restore workflow: nothing was restored; capturing starts".into(),
        );
        kop.recovered_generation = Some(vrg.generation);
        kop.epoch = Some(captures::highest_epoch(&world.captures).max(kop.epoch.unwrap_or(0)) + 1);
        return protecting(vrg, world, kop, false);
    }
    if rec.phase == RecoveryPhase::Failed {
        if rec.failed_generation.is_some_and(|g| g >= vrg.generation) {
            return only(Step::wait(Waiting::RecoveryFailed, None));
        }
        // The VRG changed since: try again from the start.
        rec.phase = RecoveryPhase::Pending;
        rec.failed_generation = None;
        rec.unusable.clear();
        rec.message = None;
    }
    if rec.phase == RecoveryPhase::Pending && rec.requested_generation != vrg.generation {
        // Changed while waiting (perhaps made secondary and primary again unseen): asked anew.
        rec.requested_at = Time(world.now);
        rec.requested_generation = vrg.generation;
    }
    // A restore whose run is gone (it ended without being concluded) is chosen again.
    rec.phase = RecoveryPhase::Pending;
    rec.source = None;
    let excluded: Vec<CaptureKey> = rec
        .unusable
        .iter()
        .map(|u| CaptureKey::of(&u.capture))
        .collect();
    let newest = captures::restorable(
        &world.captures,
        vrg.needed_groups(),
        &vrg.profiles,
        &excluded,
    )
    .next();
    let requested_at = rec.requested_at.0;
    let chosen = match action {
        VrgAction::Failover => {
            let available: Vec<_> = world
                .locations
                .iter()
                .filter(|l| l.exists && l.available)
                .collect();
            if available.is_empty() {
                let (location, message) = world
                    .unusable_location()
                    .map(|(l, m)| (l.to_owned(), m))
                    .unwrap_or_else(|| ("(none)".into(), "the VRG names no s3Profiles".into()));
                return only(Step::wait(
                    Waiting::StorageUnavailable { location, message },
                    Some(STORAGE_RECHECK),
                ));
            }
            if let Some(stale) = available
                .iter()
                // Strictly after: times are kept to the second, and a sync that ended in the
                // second of the request may have listed the bucket before it.
                .find(|l| l.last_synced.is_none_or(|t| t <= requested_at))
            {
                return only(Step::wait(
                    Waiting::Sync {
                        location: stale.name.clone(),
                    },
                    Some(SYNC_RECHECK),
                ));
            }
            match newest {
                Some(source) => source,
                None => {
                    let groups = vrg.needed_groups().to_vec();
                    return only(Step::wait(
                        Waiting::NoCapture { groups },
                        Some(CAPTURE_RECHECK),
                    ));
                }
            }
        }
        VrgAction::Relocate => match newest {
            Some(source)
                if source.capture.final_capture && source.capture.key.cluster != world.cluster =>
            {
                source
            }
            other => {
                return only(Step::wait(
                    Waiting::FinalCapture {
                        newest: other.map(|s| s.capture.key),
                    },
                    Some(CAPTURE_RECHECK),
                ));
            }
        },
    };
    rec.phase = RecoveryPhase::Restoring;
    rec.source = Some(chosen.capture.identifier());
    rec.message = None;
    only(Step::Recover(chosen))
}

fn protecting(
    vrg: &Vrg,
    world: &World,
    kop: &mut KubeObjectProtectionStatus,
    running: bool,
) -> Decision {
    if kop.epoch.is_none() {
        // A primary from the start, or one whose status was lost: its own captures say which
        // lineage it writes in; with no captures anywhere, it starts the first one.
        kop.epoch = own_epoch(world).or_else(|| world.captures.is_empty().then_some(1));
    }
    if let Some(by) = ahead(world, kop) {
        return only(Step::Fenced { by });
    }
    let Some(epoch) = kop.epoch else {
        // Unreachable: without a lineage, any capture is ahead; with none, the lineage is 1.
        let groups = vrg.needed_groups().to_vec();
        return only(Step::wait(
            Waiting::NoCapture { groups },
            Some(CAPTURE_RECHECK),
        ));
    };
    let keep = kop
        .recovery
        .as_ref()
        .filter(|r| r.phase == RecoveryPhase::Recovered)
        .and_then(|r| r.source.as_ref())
        .map(CaptureKey::of);
    let rotate = rotation(world, vrg.needed_groups(), keep.as_ref());
    let rotate_after_sync = super::rotate::awaiting_sync(world, vrg.needed_groups(), keep.as_ref());
    let with = |step| Decision {
        step,
        rotate: rotate.clone(),
        rotate_after_sync,
    };
    if running {
        return with(Step::Drive);
    }
    if !vrg.has_backup {
        return with(Step::wait(Waiting::NoBackupWorkflow, None));
    }
    if let Some((location, message)) = world.unusable_location() {
        return only(Step::wait(
            Waiting::StorageUnavailable {
                location: location.to_owned(),
                message,
            },
            Some(STORAGE_RECHECK),
        ));
    }
    match schedule::capture(
        kop.run.as_ref(),
        vrg.capture_interval,
        vrg.capture_now,
        world.now,
    ) {
        Schedule::Wait(wait) => with(Step::wait(Waiting::NextCapture, Some(wait))),
        Schedule::Start { .. } | Schedule::Continue => with(Step::Capture {
            number: next_number(world, kop),
            epoch,
            final_capture: false,
        }),
    }
}

pub fn action_name(action: VrgAction) -> &'static str {
    match action {
        VrgAction::Failover => "Failover",
        VrgAction::Relocate => "Relocate",
    }
}
