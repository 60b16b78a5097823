//! The DR lifecycle (SPEC 7) as a pure state machine, like the workflow engine: from the VRG's
//! spec, its persisted status and what the shell observed (the captures visible here, with the
//! cluster that wrote each, and the storage locations with when Velero last synced them), it
//! decides whether to recover (from which capture), capture (under which number), rotate (which
//! Backups may go), fence (refuse to act, with the reason) or wait. No I/O and no clock: `now`
//! is an input. The shell observes, calls [`decide`], acts, and reports a finished run back
//! through [`conclude`].
//!
//! What it guarantees (checked by the model tests over two clusters and a shared bucket):
//! - the newest restorable capture is never deleted, and no cluster deletes another's captures;
//! - a failover restores the newest capture that had reached storage when it was asked for;
//!   a relocation waits for the final capture of the cluster the application leaves;
//! - no two clusters write the same Backup name (the writer is part of every name);
//! - a primary that sees a capture written elsewhere after its own (an old primary coming back,
//!   or a fresh VRG beside an existing one) fences itself: it neither captures nor deletes.

pub mod captures;
mod conclude;
pub mod conditions;
mod decide;
#[cfg(test)]
mod model;
mod rotate;
#[cfg(test)]
mod tests;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

pub use captures::{BackupState, Capture, CaptureKey, SeenBackup, Source};
pub use conclude::{Outcome, conclude};
pub use decide::{Decision, Step, Waiting, action_name, decide};
pub use rotate::{DeletePolicy, on_delete, rotation};

use crate::api::vrg::{ReplicationState, VrgAction};

/// The VRG as the lifecycle needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Vrg {
    pub role: ReplicationState,
    pub action: Option<VrgAction>,
    pub generation: i64,
    pub profiles: Vec<String>,
    /// The groups the backup workflow captures (empty without one).
    pub backup_groups: Vec<String>,
    /// The groups a capture must hold to be restorable: the backup groups the restore workflow
    /// restores from; without a restore workflow, the essential groups of the backup workflow
    /// (a capture whose essential groups completed is as good as it gets).
    pub needed: Vec<String>,
    pub has_backup: bool,
    pub has_restore: bool,
    pub capture_interval: Duration,
    /// The capture-now annotation is set.
    pub capture_now: bool,
}

impl Vrg {
    /// [`Vrg::needed`], or every captured group when it names none.
    pub fn needed_groups(&self) -> &[String] {
        if self.needed.is_empty() {
            &self.backup_groups
        } else {
            &self.needed
        }
    }
}

/// A BackupStorageLocation named by one of the VRG's s3 profiles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub name: String,
    /// The location object exists in the Velero namespace.
    pub exists: bool,
    /// Velero reports it `Available`.
    pub available: bool,
    /// Velero's message about it, if any.
    pub message: Option<String>,
    /// When Velero's backup sync last finished for it.
    pub last_synced: Option<Timestamp>,
}

/// What the shell observed.
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    /// This cluster's id, as a label value (as captures record their writer).
    pub cluster: String,
    pub captures: Vec<Capture>,
    /// One per s3 profile of the VRG.
    pub locations: Vec<Location>,
    pub now: Timestamp,
}

impl World {
    /// The captures this cluster wrote.
    pub fn own(&self) -> impl Iterator<Item = &Capture> {
        self.captures
            .iter()
            .filter(move |c| c.key.cluster == self.cluster)
    }

    /// The first location that cannot be used, with why.
    pub fn unusable_location(&self) -> Option<(&str, String)> {
        self.locations.iter().find_map(|l| {
            if !l.exists {
                Some((
                    l.name.as_str(),
                    "no BackupStorageLocation of that name exists in the Velero namespace"
                        .to_owned(),
                ))
            } else if !l.available {
                Some((
                    l.name.as_str(),
                    l.message
                        .clone()
                        .unwrap_or_else(|| "Velero reports it unavailable".to_owned()),
                ))
            } else {
                None
            }
        })
    }
}
