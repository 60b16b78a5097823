//! Reconciling one VRG: finalizer first; then read the recipe, validate it into a plan, and drive
//! the capture schedule. Reconcile never waits for Velero or a hook: it starts work, records it
//! in status, and is woken by watches or by the requeue it returns.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use super::drive::{self, Owner};
use super::recover;
use super::status::{self, CLUSTER_DATA_PROTECTED, RECIPE_READY};
use super::{Context, Error};
use crate::api::Recipe;
use crate::api::progress::{RunPhase, StepPhase, WorkflowRun};
use crate::api::velero::{Backup, DeleteBackupRequest, Restore};
use crate::api::vrg::{
    CaptureIdentifier, KubeObjectProtectionStatus, ReplicationState, VolumeReplicationGroup,
    VolumeReplicationGroupStatus,
};
use crate::engine::schedule::{self, Schedule};
use crate::engine::{self};
use crate::recipe::{self, Loaded, Plan};
use crate::velero;

/// Our finalizer: Velero objects live in another namespace, so owner references cannot clean them.
pub const FINALIZER: &str = "ramendr.openshift.io/vrg-operator";
/// Annotation asking for an immediate capture (any value).
pub const CAPTURE_NOW: &str = "ramendr.openshift.io/capture-now";
/// How often a running workflow is looked at even without news (watches normally wake it sooner).
const RUNNING_RECHECK: Duration = Duration::from_secs(60);

pub async fn reconcile(
    vrg: Arc<VolumeReplicationGroup>,
    ctx: Arc<Context>,
) -> Result<Requeue, Error> {
    let namespace = vrg
        .namespace()
        .ok_or_else(|| Error::NoNamespace(vrg.name_any()))?;
    let api: Api<VolumeReplicationGroup> = Api::namespaced(ctx.client.clone(), &namespace);
    let key = format!("{namespace}/{}", vrg.name_any());
    let result = finalizer(&api, FINALIZER, vrg, |event| async {
        match event {
            Event::Apply(vrg) => apply(&vrg, &ctx, &api).await,
            Event::Cleanup(vrg) => cleanup(&vrg, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    if result.is_ok() {
        ctx.succeeded(&key);
    }
    result
}

/// The recipe documents a VRG may reference (the one its `recipeRef` names, if it exists).
async fn recipes(
    vrg: &VolumeReplicationGroup,
    ctx: &Context,
    namespace: &str,
) -> Result<BTreeMap<(String, String), Value>, Error> {
    let mut found = BTreeMap::new();
    let reference = vrg
        .spec
        .kube_object_protection
        .as_ref()
        .and_then(|k| k.recipe_ref.as_ref());
    if let Some(r) = reference {
        let ns = r
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| namespace.to_owned());
        if let Some(recipe) = Api::<Recipe>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&r.name)
            .await?
        {
            found.insert((ns, r.name.clone()), serde_json::to_value(recipe)?);
        }
    }
    Ok(found)
}

async fn apply(
    cached: &VolumeReplicationGroup,
    ctx: &Context,
    api: &Api<VolumeReplicationGroup>,
) -> Result<Requeue, Error> {
    // The watch cache can lag behind our own last status write; deciding from a stale status
    // could start a capture twice. One quorum read per reconcile rules that out.
    let Some(fresh) = api.get_opt(&cached.name_any()).await? else {
        return Ok(Requeue::await_change());
    };
    let vrg = &fresh;
    let namespace = vrg.namespace().unwrap_or_default();
    let generation = vrg.metadata.generation.unwrap_or_default();
    let now = Timestamp::now();
    let mut status = vrg.status.clone().unwrap_or_default();
    status.observed_generation = Some(generation);
    let doc = serde_json::to_value(vrg)?;
    let plan = match recipe::load_vrg(
        &doc,
        &namespace,
        &recipes(vrg, ctx, &namespace).await?,
        &ctx.settings,
    ) {
        Ok(Loaded::Planned(plan)) => plan,
        Ok(Loaded::Unprotected) => {
            status.state = Some(state(vrg));
            status::write(api, vrg, &status).await?;
            return Ok(Requeue::await_change());
        }
        Err(problems) => {
            let message = problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            let changed = status
                .conditions
                .iter()
                .all(|c| c.type_ != RECIPE_READY || c.message != message);
            status::set(
                &mut status,
                RECIPE_READY,
                false,
                "RecipeInvalid",
                &message,
                generation,
                now,
            );
            status::write(api, vrg, &status).await?;
            if changed {
                publish(ctx, vrg, EventType::Warning, "RecipeInvalid", &message).await;
            }
            // A fix to the VRG or its Recipe is a change, and changes wake us.
            return Ok(Requeue::await_change());
        }
    };
    status.state = Some(state(vrg));
    if plan.paused {
        status::set(
            &mut status,
            RECIPE_READY,
            true,
            "Paused",
            "STOP_RECIPE_RECONCILE is set: no workflow starts until it is removed",
            generation,
            now,
        );
        status::write(api, vrg, &status).await?;
        return Ok(Requeue::await_change());
    }
    status::set(
        &mut status,
        RECIPE_READY,
        true,
        "Valid",
        &format!("{} is valid", plan.source),
        generation,
        now,
    );
    if vrg.spec.replication_state != ReplicationState::Primary {
        // The next failover to this cluster must recover again.
        if let Some(kop) = status.kube_object_protection.as_mut() {
            kop.recovered_generation = None;
        }
        status::write(api, vrg, &status).await?;
        return Ok(Requeue::await_change());
    }
    if recover::needed(vrg, &status)
        && let Some(requeue) = recover::recover(vrg, ctx, &plan, &mut status, now).await?
    {
        status::write(api, vrg, &status).await?;
        return Ok(requeue);
    }
    let requeue = capture(vrg, ctx, api, &plan, &mut status, now).await?;
    status::write(api, vrg, &status).await?;
    Ok(requeue)
}

fn state(vrg: &VolumeReplicationGroup) -> String {
    match vrg.spec.replication_state {
        ReplicationState::Primary => "Primary".into(),
        ReplicationState::Secondary => "Secondary".into(),
    }
}

/// The capture schedule: start a capture when due, drive the running one, rotate old captures.
async fn capture(
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
    if next.run.phase == RunPhase::Succeeded || next.run.phase == RunPhase::PartiallySucceeded {
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
    Ok(Requeue::requeue(
        next.wake_after
            .unwrap_or(RUNNING_RECHECK)
            .min(RUNNING_RECHECK),
    ))
}

/// The highest capture number among this VRG's Backups in the cluster (0 if none).
async fn newest_capture_seen(ctx: &Context, vrg: &VolumeReplicationGroup) -> Result<i64, Error> {
    let backups = Api::<Backup>::namespaced(ctx.client.clone(), &ctx.velero_namespace);
    let selector = ListParams::default().labels(&velero::names::vrg_selector(
        &vrg.namespace().unwrap_or_default(),
        &vrg.name_any(),
    ));
    let list = backups.list(&selector).await?;
    Ok(list
        .items
        .iter()
        .filter_map(|b| velero::names::capture_of(b.labels()))
        .map(|c| c.number)
        .max()
        .unwrap_or(0))
}

/// After capture `latest` completed, asks Velero to delete every older capture of the VRG.
async fn rotate(ctx: &Context, owner: &Owner<'_>, latest: i64) -> Result<(), Error> {
    let backups = Api::<Backup>::namespaced(ctx.client.clone(), &ctx.velero_namespace);
    let requests =
        Api::<DeleteBackupRequest>::namespaced(ctx.client.clone(), &ctx.velero_namespace);
    let selector =
        ListParams::default().labels(&velero::names::vrg_selector(owner.namespace, owner.name));
    for backup in backups.list(&selector).await?.items {
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

/// An Event for every step that started, finished or failed between `before` and `after`.
pub(super) async fn events_for(
    ctx: &Context,
    vrg: &VolumeReplicationGroup,
    before: &WorkflowRun,
    after: &WorkflowRun,
) {
    for (old, new) in before.steps.iter().zip(&after.steps) {
        if old.phase == new.phase && old.attempt == new.attempt {
            continue;
        }
        let (kind, reason) = match new.phase {
            StepPhase::Running => (EventType::Normal, "StepStarted"),
            StepPhase::Succeeded => (EventType::Normal, "StepSucceeded"),
            StepPhase::Failed => (EventType::Warning, "StepFailed"),
            StepPhase::Skipped | StepPhase::Pending => continue,
        };
        let detail = new
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        publish(
            ctx,
            vrg,
            kind,
            reason,
            &format!(
                "{} {} (attempt {}){detail}",
                after.id, new.name, new.attempt
            ),
        )
        .await;
    }
    if before.phase == RunPhase::Running && after.phase != RunPhase::Running {
        let kind = if after.phase == RunPhase::Failed {
            EventType::Warning
        } else {
            EventType::Normal
        };
        let message = format!(
            "{} {:?}{}",
            after.id,
            after.phase,
            after
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
        publish(ctx, vrg, kind, "WorkflowFinished", &message).await;
    }
}

/// Publishes an Event on the VRG; a failure to publish is logged, never fatal.
pub async fn publish(
    ctx: &Context,
    vrg: &VolumeReplicationGroup,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = KubeEvent {
        type_,
        reason: reason.to_owned(),
        note: Some(status::truncate(note, 1000)),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &vrg.object_ref(&())).await {
        tracing::warn!(vrg = %vrg.name_any(), error = %e, "cannot publish event");
    }
}

/// VRG deleted: remove our Restores and, unless the operator keeps captures, ask Velero to delete
/// them (Backups are deleted through DeleteBackupRequests so their stored data goes too).
async fn cleanup(vrg: &VolumeReplicationGroup, ctx: &Context) -> Result<Requeue, Error> {
    let owner = Owner {
        namespace: &vrg.namespace().unwrap_or_default(),
        name: &vrg.name_any(),
    };
    if ctx.on_delete == super::OnDelete::DeleteCaptures {
        rotate(ctx, &owner, i64::MAX).await?;
    }
    let selector =
        ListParams::default().labels(&velero::names::vrg_selector(owner.namespace, owner.name));
    let restores = Api::<Restore>::namespaced(ctx.client.clone(), &ctx.velero_namespace);
    restores
        .delete_collection(&DeleteParams::default(), &selector)
        .await?;
    Ok(Requeue::await_change())
}
