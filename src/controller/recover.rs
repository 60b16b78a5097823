//! Recovery (SPEC 7): on a primary VRG with `action` Failover or Relocate that has not been
//! recovered since it became primary, restore the newest complete capture with the restore
//! workflow, in order; then capturing starts on this cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::EventType;

use super::drive::{self, Owner};
use super::events::{events_for, publish};
use super::status::{self, KUBE_OBJECTS_READY};
use super::{Context, Error};
use crate::api::progress::RunPhase;
use crate::api::vrg::{
    KubeObjectProtectionStatus, VolumeReplicationGroup, VolumeReplicationGroupStatus,
};
use crate::engine::recovery::{self, SeenBackup, Source};
use crate::engine::{self};
use crate::recipe::Plan;
use crate::recipe::plan::Action as PlanAction;
use crate::velero::{self, Progress};

/// How often to look again for a capture to restore when none is complete yet (Velero's backup
/// sync brings the other cluster's captures).
const NO_CAPTURE_RECHECK: Duration = Duration::from_secs(30);

/// Whether this VRG must recover before it captures.
pub fn needed(vrg: &VolumeReplicationGroup, status: &VolumeReplicationGroupStatus) -> bool {
    vrg.spec.action.is_some()
        && status
            .kube_object_protection
            .as_ref()
            .and_then(|k| k.recovered_generation)
            .is_none()
}

/// Id of the restore run for `capture` at `generation`: deterministic, so a restarted operator
/// finds the Restores it created; a failed recovery is retried by changing the VRG.
fn run_id(capture: i64, generation: i64) -> String {
    format!("restore-{capture}-g{generation}")
}

/// The backup groups the restore workflow restores.
fn needed_groups(plan: &Plan) -> Vec<String> {
    plan.restore
        .iter()
        .flat_map(|w| &w.steps)
        .filter_map(|s| match &s.action {
            PlanAction::Restore { backup_group, .. } => Some(backup_group.clone()),
            _ => None,
        })
        .collect()
}

/// The newest capture of this VRG a recovery could restore now: the same choice a failover makes.
pub(super) fn newest_restorable(ctx: &Context, owner: &Owner<'_>, plan: &Plan) -> Option<i64> {
    let groups = needed_groups(plan);
    let seen = seen_backups(ctx, owner, &groups, &plan.s3_profiles);
    recovery::newest_complete(&seen, &groups, &plan.s3_profiles).map(|s| s.capture)
}

/// The Backups of this VRG visible in the cluster, reduced for [`recovery::newest_complete`].
fn seen_backups(
    ctx: &Context,
    owner: &Owner<'_>,
    groups: &[String],
    profiles: &[String],
) -> Vec<SeenBackup> {
    let mut seen = vec![];
    for backup in ctx
        .velero
        .backups_of(owner.namespace, owner.name)
        .into_values()
    {
        let Some(capture) = velero::names::capture_of(backup.labels()) else {
            continue;
        };
        let Some(group) = groups.iter().find(|g| capture.is_group(g)) else {
            continue;
        };
        let profile = profiles
            .iter()
            .find(|p| capture.is_profile(p))
            .cloned()
            .unwrap_or(capture.profile.clone());
        seen.push(SeenBackup {
            name: backup.name_any(),
            capture: capture.number,
            group: group.clone(),
            profile,
            completed: velero::phase::backup_progress(&backup) == Progress::Completed,
        });
    }
    seen
}

/// Drives recovery; returns the requeue, or `None` once recovered (capturing may start).
pub async fn recover(
    vrg: &VolumeReplicationGroup,
    ctx: &Context,
    plan: &Plan,
    status: &mut VolumeReplicationGroupStatus,
    now: Timestamp,
) -> Result<Option<Requeue>, Error> {
    let generation = vrg.metadata.generation.unwrap_or_default();
    let (namespace, name) = (vrg.namespace().unwrap_or_default(), vrg.name_any());
    let owner = Owner {
        namespace: &namespace,
        name: &name,
    };
    let Some(workflow) = &plan.restore else {
        status::set(
            status,
            KUBE_OBJECTS_READY,
            false,
            "NoRestoreWorkflow",
            &format!(
                "the {} has no restore workflow: nothing is recovered",
                plan.source
            ),
            generation,
            now,
        );
        return Ok(Some(Requeue::await_change()));
    };
    let groups = needed_groups(plan);
    let seen = seen_backups(ctx, &owner, &groups, &plan.s3_profiles);
    let kop = status
        .kube_object_protection
        .get_or_insert_with(KubeObjectProtectionStatus::default);
    let current = kop
        .run
        .clone()
        .filter(|r| r.workflow == "restore" && r.id.ends_with(&format!("-g{generation}")));
    let (run, source) = match current {
        Some(run) => {
            let source = source_of(&seen, &groups, &plan.s3_profiles, run.capture);
            (run, source)
        }
        None => match recovery::newest_complete(&seen, &groups, &plan.s3_profiles) {
            None => {
                let message = format!(
                    "no complete capture of this VRG found in Velero namespace {} yet (groups: {})",
                    ctx.velero_namespace,
                    groups.join(", ")
                );
                status::set(
                    status,
                    KUBE_OBJECTS_READY,
                    false,
                    "NoCapture",
                    &message,
                    generation,
                    now,
                );
                return Ok(Some(Requeue::requeue(NO_CAPTURE_RECHECK)));
            }
            Some(source) => {
                publish(
                    ctx,
                    vrg,
                    EventType::Normal,
                    "RecoveryStarted",
                    &run_id(source.capture, generation),
                    &format!("restoring capture {}", source.capture),
                )
                .await;
                (
                    engine::start(
                        workflow,
                        run_id(source.capture, generation),
                        source.capture,
                        now,
                    ),
                    source.backups,
                )
            }
        },
    };
    if run.phase != RunPhase::Running {
        // This generation's recovery already ended and failed: wait for a change to retry.
        return Ok(Some(Requeue::await_change()));
    }
    let next = drive::step(ctx, &owner, plan, workflow, &run, &source, now).await?;
    events_for(ctx, vrg, &run, &next.run).await;
    let kop = status
        .kube_object_protection
        .get_or_insert_with(KubeObjectProtectionStatus::default);
    kop.current_step = super::capture::current_step(&next.run);
    kop.run = Some(next.run.clone());
    status::hooks(status, &next.run, generation, now);
    match next.run.phase {
        RunPhase::Running => {
            status::set(
                status,
                KUBE_OBJECTS_READY,
                false,
                "Restoring",
                &format!("restoring capture {}", next.run.capture),
                generation,
                now,
            );
            Ok(Some(Requeue::requeue(drive::recheck(
                workflow,
                &next.run,
                next.wake_after,
            ))))
        }
        RunPhase::Succeeded | RunPhase::PartiallySucceeded => {
            let detail = next
                .run
                .message
                .as_deref()
                .map(|m| format!(" with tolerated failures: {m}"))
                .unwrap_or_default();
            status::set(
                status,
                KUBE_OBJECTS_READY,
                true,
                "Recovered",
                &format!("recovered from capture {}{detail}", next.run.capture),
                generation,
                now,
            );
            kop_mut(status).recovered_generation = Some(generation);
            Ok(None)
        }
        RunPhase::Failed => {
            let message = format!(
                "recovery from capture {} failed: {}; change the VRG to try again",
                next.run.capture,
                next.run.message.clone().unwrap_or_default()
            );
            status::set(
                status,
                KUBE_OBJECTS_READY,
                false,
                "KubeObjectsRecoveryError",
                &message,
                generation,
                now,
            );
            Ok(Some(Requeue::await_change()))
        }
    }
}

fn kop_mut(status: &mut VolumeReplicationGroupStatus) -> &mut KubeObjectProtectionStatus {
    status
        .kube_object_protection
        .get_or_insert_with(KubeObjectProtectionStatus::default)
}

/// The Backups of capture `number` for each group (for a run already in progress).
fn source_of(
    seen: &[SeenBackup],
    groups: &[String],
    profiles: &[String],
    number: i64,
) -> BTreeMap<String, String> {
    let of_capture: Vec<SeenBackup> = seen
        .iter()
        .filter(|b| b.capture == number)
        .cloned()
        .collect();
    recovery::newest_complete(&of_capture, groups, profiles)
        .map(|s: Source| s.backups)
        .unwrap_or_default()
}
