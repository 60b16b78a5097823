//! What the lifecycle decides from, read from the Velero caches: the VRG's captures (its own and
//! the other cluster's, as Velero's backup sync shows them), its storage locations, and how a
//! finished restore run's Restores ended.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::Context;
use super::drive::Owner;
use crate::api::progress::{RunPhase, StepPhase, WorkflowRun};
use crate::api::velero::{Backup, BackupPhase, BackupStorageLocationPhase, RestorePhase};
use crate::lifecycle::{BackupState, Capture, CaptureKey, Location, Outcome, SeenBackup, World};
use crate::recipe::Plan;
use crate::velero::{self, Progress};

/// The world as the lifecycle sees it now.
pub fn world(
    ctx: &Context,
    owner: &Owner<'_>,
    plan: &Plan,
    groups: &[String],
    now: Timestamp,
) -> World {
    let backups = ctx.velero.backups_of(owner.namespace, owner.name);
    World {
        cluster: owner.cluster.to_owned(),
        captures: captures(
            backups.values().map(AsRef::as_ref),
            groups,
            &plan.s3_profiles,
        ),
        locations: plan
            .s3_profiles
            .iter()
            .map(|name| location(ctx, name))
            .collect(),
        now,
    }
}

/// Backups grouped into captures; group and profile labels are mapped back to the plan's names.
pub fn captures<'a>(
    backups: impl Iterator<Item = &'a Backup>,
    groups: &[String],
    profiles: &[String],
) -> Vec<Capture> {
    let mut by_key: BTreeMap<CaptureKey, Capture> = BTreeMap::new();
    for backup in backups {
        let Some(c) = velero::names::capture_of(backup.labels()) else {
            continue;
        };
        let key = CaptureKey {
            epoch: c.epoch,
            number: c.number,
            cluster: c.cluster.clone(),
        };
        let status = backup.status.as_ref();
        let start = status.and_then(|s| s.start_timestamp.as_ref()).map(|t| t.0);
        let end = status
            .and_then(|s| s.completion_timestamp.as_ref())
            .map(|t| t.0);
        let capture = by_key.entry(key.clone()).or_insert_with(|| Capture {
            key,
            final_capture: c.final_capture,
            backups: vec![],
            start_time: start,
            end_time: end,
        });
        capture.start_time = match (capture.start_time, start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        capture.end_time = capture.end_time.max(end);
        let state = if status.and_then(|s| s.phase.as_ref()) == Some(&BackupPhase::Deleting) {
            BackupState::Deleting
        } else {
            match velero::phase::backup_progress(backup) {
                Progress::Running => BackupState::Running,
                Progress::Completed => BackupState::Completed,
                Progress::Failed { .. } => BackupState::Failed,
            }
        };
        capture.backups.push(SeenBackup {
            name: backup.name_any(),
            group: groups
                .iter()
                .find(|g| c.is_group(g))
                .cloned()
                .unwrap_or(c.group.clone()),
            profile: profiles
                .iter()
                .find(|p| c.is_profile(p))
                .cloned()
                .unwrap_or(c.profile.clone()),
            state,
        });
    }
    by_key.into_values().collect()
}

fn location(ctx: &Context, name: &str) -> Location {
    match ctx.velero.location(name) {
        None => Location {
            name: name.to_owned(),
            exists: false,
            available: false,
            message: None,
            last_synced: None,
        },
        Some(bsl) => {
            let status = bsl.status.as_ref();
            Location {
                name: name.to_owned(),
                exists: true,
                available: status.and_then(|s| s.phase.as_ref())
                    == Some(&BackupStorageLocationPhase::Available),
                message: status.and_then(|s| s.message.clone()),
                last_synced: status
                    .and_then(|s| s.last_synced_time.as_ref())
                    .map(|t| t.0),
            }
        }
    }
}

/// How a finished run's Restores ended: whether one failed because Velero could not read its
/// Backup (so another capture may succeed), and the warnings Velero reported.
pub fn outcome(ctx: &Context, owner: &Owner<'_>, run: &WorkflowRun) -> Outcome {
    if run.workflow != "restore" || run.phase == RunPhase::Running {
        return Outcome::default();
    }
    let restores = ctx.velero.restores_of(owner.namespace, owner.name);
    let mut outcome = Outcome::default();
    for step in &run.steps {
        for restore in step.objects.iter().filter_map(|name| restores.get(name)) {
            let Some(status) = &restore.status else {
                continue;
            };
            outcome.warnings += status.warnings.unwrap_or(0);
            if step.phase != StepPhase::Failed || outcome.unreadable.is_some() {
                continue;
            }
            outcome.unreadable = unreadable(
                status.phase.as_ref(),
                status.failure_reason.as_deref(),
                &status.validation_errors,
            );
        }
    }
    outcome
}

/// Velero's reason when a Restore failed because its Backup could not be read: the Backup object
/// is gone (validation: "Error retrieving backup"), or its data is (execution: "error
/// downloading backup", e.g. S3 NoSuchKey after the capture was deleted from storage).
pub fn unreadable(
    phase: Option<&RestorePhase>,
    failure_reason: Option<&str>,
    validation_errors: &[String],
) -> Option<String> {
    match phase? {
        RestorePhase::FailedValidation => validation_errors
            .iter()
            .find(|e| e.contains("Error retrieving backup"))
            .cloned(),
        RestorePhase::Failed => failure_reason
            .filter(|r| {
                r.contains("error downloading backup")
                    || r.contains("error fetching volume snapshots metadata")
                    || r.contains("NoSuchKey")
            })
            .map(str::to_owned),
        _ => None,
    }
}

/// The Recipe a capture of this VRG carries (the newest capture that carries one), for a VRG
/// whose Recipe object does not exist on this cluster: `(document, capture)`.
pub fn carried_recipe(ctx: &Context, owner: &Owner<'_>) -> Option<(serde_json::Value, CaptureKey)> {
    let backups = ctx.velero.backups_of(owner.namespace, owner.name);
    backups
        .values()
        .filter_map(|b| {
            let c = velero::names::capture_of(b.labels())?;
            let text = b.annotations().get(velero::names::ANNOTATION_RECIPE)?;
            let doc: serde_json::Value = serde_json::from_str(text).ok()?;
            let key = CaptureKey {
                epoch: c.epoch,
                number: c.number,
                cluster: c.cluster,
            };
            Some((doc, key))
        })
        .max_by(|a, b| a.1.cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_to_read_the_backup_are_unreadable() {
        let failed = Some(&RestorePhase::Failed);
        assert!(
            unreadable(
                failed,
                Some("restore execution failed: error downloading backup: NoSuchKey"),
                &[]
            )
            .is_some()
        );
        assert!(unreadable(failed, Some("restore execution failed: timeout"), &[]).is_none());
        let validation = Some(&RestorePhase::FailedValidation);
        assert!(
            unreadable(
                validation,
                None,
                &["Error retrieving backup: backups.velero.io \"x\" not found".into()]
            )
            .is_some()
        );
        assert!(
            unreadable(
                validation,
                None,
                &["Invalid ExistingResourcePolicy: x".into()]
            )
            .is_none()
        );
        assert!(
            unreadable(
                Some(&RestorePhase::PartiallyFailed),
                Some("error downloading backup"),
                &[]
            )
            .is_none()
        );
    }
}
