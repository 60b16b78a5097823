//! Captures as the lifecycle sees them: every Backup of the VRG visible in this cluster (its own,
//! and the other cluster's made visible by Velero's backup sync), grouped into captures, each
//! identified by who wrote it, and ordered.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::vrg::CaptureIdentifier;

/// Identifies a capture across clusters. The derived order is the order of captures: lineage
/// first (a cluster that recovers writes in a higher lineage than everything it saw, so an old
/// primary's captures never outrank the new primary's, whatever their numbers), then number,
/// then the writer's id (two clusters in one lineage only after a split brain; any fixed order
/// will do, as long as both clusters agree on it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaptureKey {
    pub epoch: i64,
    pub number: i64,
    /// The writer's cluster id, as a label value; empty for captures that predate it.
    pub cluster: String,
}

impl CaptureKey {
    /// `capture 7 (cluster east, lineage 2)`.
    pub fn describe(&self) -> String {
        let cluster = if self.cluster.is_empty() {
            "an unrecorded cluster"
        } else {
            &self.cluster
        };
        format!(
            "capture {} (cluster {cluster}, lineage {})",
            self.number, self.epoch
        )
    }

    /// The status form of this key.
    pub fn identifier(&self) -> CaptureIdentifier {
        CaptureIdentifier {
            number: self.number,
            cluster: (!self.cluster.is_empty()).then(|| self.cluster.clone()),
            epoch: Some(self.epoch),
            ..Default::default()
        }
    }

    /// The key of a status identifier.
    pub fn of(id: &CaptureIdentifier) -> Self {
        Self {
            epoch: id.epoch.unwrap_or(0),
            number: id.number,
            cluster: id.cluster.clone().unwrap_or_default(),
        }
    }
}

/// How far one Backup of a capture has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupState {
    Running,
    Completed,
    Failed,
    /// Velero is deleting it.
    Deleting,
}

/// One Backup of a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenBackup {
    pub name: String,
    /// The recipe group (as the plan names it, where it is one of the plan's groups).
    pub group: String,
    /// The s3 profile (BackupStorageLocation) it was written to.
    pub profile: String,
    pub state: BackupState,
}

/// One capture: the Backups of one number written by one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    pub key: CaptureKey,
    /// Part of a relocation: the last capture of the cluster the application left.
    pub final_capture: bool,
    pub backups: Vec<SeenBackup>,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
}

impl Capture {
    fn completed(&self, group: &str, profile: Option<&str>) -> impl Iterator<Item = &SeenBackup> {
        self.backups.iter().filter(move |b| {
            b.state == BackupState::Completed
                && b.group == group
                && profile.is_none_or(|p| b.profile == p)
        })
    }

    /// For each of `groups`, the completed Backup to restore from (the first of `profiles` that
    /// has one), or `None` when a group has no completed Backup in any profile.
    pub fn restore_sources(
        &self,
        groups: &[String],
        profiles: &[String],
    ) -> Option<BTreeMap<String, String>> {
        if groups.is_empty() {
            return None;
        }
        groups
            .iter()
            .map(|group| {
                let best = self.completed(group, None).min_by_key(|b| {
                    profiles
                        .iter()
                        .position(|p| *p == b.profile)
                        .unwrap_or(usize::MAX)
                })?;
                Some((group.clone(), best.name.clone()))
            })
            .collect()
    }

    /// Whether profile `profile` alone holds a restorable copy of this capture.
    pub fn complete_in(&self, groups: &[String], profile: &str) -> bool {
        !groups.is_empty()
            && groups
                .iter()
                .all(|g| self.completed(g, Some(profile)).next().is_some())
    }

    /// The status identifier of this capture, with its times.
    pub fn identifier(&self) -> CaptureIdentifier {
        CaptureIdentifier {
            start_time: self.start_time.map(Time),
            end_time: self.end_time.map(Time),
            ..self.key.identifier()
        }
    }
}

/// A capture chosen for recovery, with the Backup of each group to restore from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub capture: Capture,
    pub backups: BTreeMap<String, String>,
}

/// Restorable captures, newest first, leaving out `excluded`.
pub fn restorable<'a>(
    captures: &'a [Capture],
    groups: &'a [String],
    profiles: &'a [String],
    excluded: &'a [CaptureKey],
) -> impl Iterator<Item = Source> + 'a {
    let mut sorted: Vec<&Capture> = captures.iter().collect();
    sorted.sort_by(|a, b| b.key.cmp(&a.key));
    sorted.into_iter().filter_map(move |c| {
        if excluded.contains(&c.key) {
            return None;
        }
        let backups = c.restore_sources(groups, profiles)?;
        Some(Source {
            capture: c.clone(),
            backups,
        })
    })
}

/// The newest capture a recovery could restore.
pub fn newest_restorable(
    captures: &[Capture],
    groups: &[String],
    profiles: &[String],
) -> Option<Source> {
    restorable(captures, groups, profiles, &[]).next()
}

/// The highest capture number any cluster used.
pub fn highest_number(captures: &[Capture]) -> i64 {
    captures.iter().map(|c| c.key.number).max().unwrap_or(0)
}

/// The highest lineage any cluster wrote in.
pub fn highest_epoch(captures: &[Capture]) -> i64 {
    captures.iter().map(|c| c.key.epoch).max().unwrap_or(0)
}
