//! Which Backups may go: a cluster only ever deletes its own captures, and one of its Backups only
//! once a newer capture is restorable from that same storage location, so each location keeps
//! its newest complete copy; the capture a recovery restored from stays as that recovery's
//! record (Velero deletes every Restore of a Backup it deletes).
//!
//! "Restorable from that location" is taken from Velero only after its backup sync has listed the
//! location since the newer capture completed: the sync removes Backup objects whose data is not
//! in storage, so a newer capture that still stands after it is really there.

use super::World;
use super::captures::CaptureKey;
use crate::api::vrg::ReplicationState;

/// What deleting a VRG does to the captures of this cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletePolicy {
    /// Keep every capture: deleting a VRG (or its namespace, by accident) loses nothing.
    #[default]
    KeepCaptures,
    /// Delete this cluster's own captures; another cluster's are never deleted.
    DeleteOwnCaptures,
}

/// The Backups of this cluster's captures that newer captures supersede, leaving `keep` alone.
/// `groups` are the groups a capture needs to be restorable.
pub fn rotation(world: &World, groups: &[String], keep: Option<&CaptureKey>) -> Vec<String> {
    superseded(world, groups, keep, true)
}

/// Whether some Backup will be superseded once Velero's next sync confirms a newer capture (so
/// the VRG should look again after that sync, though nothing else would wake it).
pub fn awaiting_sync(world: &World, groups: &[String], keep: Option<&CaptureKey>) -> bool {
    superseded(world, groups, keep, false).len() > rotation(world, groups, keep).len()
}

fn superseded(
    world: &World,
    groups: &[String],
    keep: Option<&CaptureKey>,
    confirmed_only: bool,
) -> Vec<String> {
    let confirmed = |newer: &super::Capture, profile: &str| {
        let synced = world
            .locations
            .iter()
            .find(|l| l.name == profile)
            .and_then(|l| l.last_synced);
        !confirmed_only || matches!((synced, newer.end_time), (Some(s), Some(e)) if s > e)
    };
    let mut names: Vec<String> = world
        .own()
        .filter(|c| Some(&c.key) != keep)
        .flat_map(|c| {
            c.backups.iter().filter(move |b| {
                world.captures.iter().any(|newer| {
                    newer.key > c.key
                        && newer.complete_in(groups, &b.profile)
                        && confirmed(newer, &b.profile)
                })
            })
        })
        .map(|b| b.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The Backups to delete when the VRG is deleted. A secondary's newest restorable capture may be
/// the one a new primary still depends on, so a secondary deletes only what is superseded.
pub fn on_delete(
    policy: DeletePolicy,
    role: ReplicationState,
    world: &World,
    groups: &[String],
) -> Vec<String> {
    match (policy, role) {
        (DeletePolicy::KeepCaptures, _) => vec![],
        (DeletePolicy::DeleteOwnCaptures, ReplicationState::Primary) => {
            let mut names: Vec<String> = world
                .own()
                .flat_map(|c| c.backups.iter().map(|b| b.name.clone()))
                .collect();
            names.sort();
            names
        }
        (DeletePolicy::DeleteOwnCaptures, ReplicationState::Secondary) => {
            rotation(world, groups, None)
        }
    }
}
