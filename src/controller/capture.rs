//! The capture schedule (SPEC 7): start a capture when due, drive the running one, and rotate
//! old captures once a newer one completed.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::EventType;
use serde_json::json;

use super::drive::{self, Owner};
use super::events::{events_for, publish};
use super::status::{self, CLUSTER_DATA_PROTECTED};
use super::{CAPTURE_NOW, Context, Error};
use crate::api::progress::{RunPhase, StepPhase, WorkflowRun};
use crate::api::velero::DeleteBackupRequest;
use crate::api::vrg::{
    CaptureIdentifier, KubeObjectProtectionStatus, VolumeReplicationGroup,
    VolumeReplicationGroupStatus,
};
use crate::engine::schedule::{self, Schedule};
use crate::engine::{self};
use crate::recipe::Plan;
use crate::velero;

/// The capture schedule: start a capture when due, drive the running one, rotate old captures.
pub(super) async fn capture(
    vrg: &VolumeReplicationGroup,
    ctx: &Context,
    api: &Api<VolumeReplicationGroup>,
    plan: &Plan,
    status: &mut VolumeReplicationGroupStatus,
    now: Timestamp,
) -> Result<Requeue, Error> {
    let generation = vrg.metadata.generation.unwrap_or_default();
    let Some(workflow) = &plan.backup else {
        status::set(
            status,
            CLUSTER_DATA_PROTECTED,
            false,
            "NoBackupWorkflow",
            &format!(
                "the {} has no backup workflow: nothing is captured",
                plan.source
            ),
            generation,
            now,
        );
        return Ok(Requeue::await_change());
    };
    let kop = status
        .kube_object_protection
        .get_or_insert_with(KubeObjectProtectionStatus::default);
    let capture_now = vrg.annotations().contains_key(CAPTURE_NOW);
    let run = match schedule::capture(kop.run.as_ref(), plan.capture_interval, capture_now, now) {
        Schedule::Wait(wait) => return Ok(Requeue::requeue(wait)),
        Schedule::Continue => kop.run.clone().expect("Continue means a run exists"),
        Schedule::Start { number } => {
            // Never reuse a number: after a failover the other cluster's captures, synced here by
            // Velero, carry the names this VRG's capture of that number would get.
            let number = number.max(newest_capture_seen(ctx, vrg).await? + 1);
            if capture_now {
                // Consumed: the annotation asks for one capture, not one per reconcile.
                let patch = json!({"metadata": {"annotations": {CAPTURE_NOW: null}}});
                api.patch(
                    &vrg.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await?;
            }
            publish(
                ctx,
                vrg,
                EventType::Normal,
                "CaptureStarted",
                &format!("backup-{number}"),
                &format!("capture {number} started"),
            )
            .await;
            engine::start(workflow, format!("backup-{number}"), number, now)
        }
    };
    let owner = Owner {
        namespace: &vrg.namespace().unwrap_or_default(),
        name: &vrg.name_any(),
    };
    let next = drive::step(ctx, &owner, plan, workflow, &run, &BTreeMap::new(), now).await?;
    events_for(ctx, vrg, &run, &next.run).await;
    let kop = status
        .kube_object_protection
        .get_or_insert_with(KubeObjectProtectionStatus::default);
    kop.current_step = current_step(&next.run);
    let finished = next.run.phase != RunPhase::Running;
    // A capture protects only if a failover could restore it: one that finished with a tolerated
    // failure of a group the restore workflow needs is not, and must not rotate older ones away.
    // (Without a restore workflow nothing is restored, so any finished capture counts.)
    let restorable = finished
        && next.run.phase != RunPhase::Failed
        && (plan.restore.is_none()
            || super::recover::newest_restorable(ctx, &owner, plan) == Some(next.run.capture));
    if restorable {
        kop.capture_to_recover_from = Some(CaptureIdentifier {
            number: next.run.capture,
            start_time: Some(next.run.start_time.clone()),
            end_time: next.run.end_time.clone(),
            start_generation: Some(generation),
        });
    }
    let protected = kop.capture_to_recover_from.clone();
    kop.run = Some(next.run.clone());
    status::hooks(status, &next.run, generation, now);
    match (next.run.phase, &protected) {
        (RunPhase::Running, None) => status::set(
            status,
            CLUSTER_DATA_PROTECTED,
            false,
            "Uploading",
            &format!("capture {} in progress", next.run.capture),
            generation,
            now,
        ),
        (RunPhase::Running, Some(_)) => {}
        (RunPhase::Succeeded | RunPhase::PartiallySucceeded, _) if !restorable => {
            let fallback = match &protected {
                Some(c) => format!("capture {} is the newest that can", c.number),
                None => "no capture can be restored yet".to_owned(),
            };
            // Still protected by the older capture, if there is one.
            let reason = if protected.is_some() {
                "Uploaded"
            } else {
                "KubeObjectsCaptureError"
            };
            status::set(
                status,
                CLUSTER_DATA_PROTECTED,
                protected.is_some(),
                reason,
                &format!(
                    "capture {} finished with tolerated failures ({}) but cannot be restored: a group the restore workflow needs has no completed Backup; {fallback}",
                    next.run.capture,
                    next.run.message.clone().unwrap_or_default()
                ),
                generation,
                now,
            );
        }
        (RunPhase::Succeeded | RunPhase::PartiallySucceeded, Some(c)) => {
            let message = match &next.run.message {
                Some(m) => format!(
                    "capture {} completed with tolerated failures: {m}",
                    c.number
                ),
                None => format!("capture {} completed", c.number),
            };
            status::set(
                status,
                CLUSTER_DATA_PROTECTED,
                true,
                "Uploaded",
                &message,
                generation,
                now,
            );
        }
        _ => {
            let message = format!(
                "capture {} failed: {}",
                next.run.capture,
                next.run.message.clone().unwrap_or_default()
            );
            status::set(
                status,
                CLUSTER_DATA_PROTECTED,
                false,
                "KubeObjectsCaptureError",
                &message,
                generation,
                now,
            );
        }
    }
    if finished {
        if let Some(c) = &protected {
            rotate(ctx, &owner, c.number).await?;
        }
        let wait = match schedule::capture(Some(&next.run), plan.capture_interval, false, now) {
            Schedule::Wait(wait) => wait,
            _ => Duration::ZERO,
        };
        return Ok(Requeue::requeue(wait.max(Duration::from_millis(1))));
    }
    Ok(Requeue::requeue(drive::recheck(
        workflow,
        &next.run,
        next.wake_after,
    )))
}

/// The highest capture number among this VRG's Backups in the cluster (0 if none).
async fn newest_capture_seen(ctx: &Context, vrg: &VolumeReplicationGroup) -> Result<i64, Error> {
    let backups = ctx
        .velero
        .backups_of(&vrg.namespace().unwrap_or_default(), &vrg.name_any());
    Ok(backups
        .values()
        .filter_map(|b| velero::names::capture_of(b.labels()))
        .map(|c| c.number)
        .max()
        .unwrap_or(0))
}

/// After capture `latest` completed, asks Velero to delete every older capture of the VRG.
pub(super) async fn rotate(ctx: &Context, owner: &Owner<'_>, latest: i64) -> Result<(), Error> {
    let requests =
        Api::<DeleteBackupRequest>::namespaced(ctx.client.clone(), &ctx.velero_namespace);
    for backup in ctx
        .velero
        .backups_of(owner.namespace, owner.name)
        .into_values()
    {
        let labels = backup.labels().clone();
        let Some(capture) = velero::names::capture_of(&labels) else {
            continue;
        };
        if capture.number >= latest {
            continue;
        }
        let name = backup.name_any();
        let request = velero::spec::delete_request(&name, &labels, &ctx.velero_namespace);
        match requests.create(&PostParams::default(), &request).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `backup-3 step 2/5: hook db/quiesce` while a run is in progress.
pub(super) fn current_step(run: &WorkflowRun) -> Option<String> {
    if run.phase != RunPhase::Running {
        return None;
    }
    let i = run
        .steps
        .iter()
        .position(|s| s.phase == StepPhase::Running)?;
    Some(format!(
        "{} step {}/{}: {}",
        run.id,
        i + 1,
        run.steps.len(),
        run.steps[i].name
    ))
}
