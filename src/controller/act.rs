//! One pass of the DR lifecycle for a valid, unpaused VRG: observe, let the core decide
//! (`lifecycle::decide`), carry the decision out (start or drive a run, ask for deletions),
//! report a finished run back (`lifecycle::conclude`), and set the conditions the core words.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::EventType;
use serde_json::json;

use super::drive::{self, Owner, Pass};
use super::events::{events_for, publish};
use super::hooks::HookStart;
use super::status::{self, CLUSTER_DATA_PROTECTED, KUBE_OBJECTS_READY};
use super::{CAPTURE_NOW, Context, Error, observe, rotation};
use crate::api::progress::{RunPhase, StepPhase, WorkflowRun};
use crate::api::vrg::{
    KubeObjectProtectionStatus, VolumeReplicationGroup, VolumeReplicationGroupStatus,
};
use crate::engine;
use crate::lifecycle::conditions::{self, Update};
use crate::lifecycle::{self, Step};
use crate::recipe::Plan;
use crate::recipe::plan::{Action as PlanAction, WorkflowPlan};

/// What the pass needs besides the VRG: its plan, and the Recipe document its captures carry.
pub struct Inputs<'a> {
    pub plan: &'a Plan,
    /// The Recipe object the plan came from (JSON), carried by each capture.
    pub recipe: Option<&'a str>,
    /// Where the restore workflow's recipe came from, for the recovery record.
    pub recipe_origin: Option<String>,
}

/// The lifecycle's view of the VRG.
fn steps(w: &Option<WorkflowPlan>) -> Vec<&crate::recipe::plan::Step> {
    w.iter().flat_map(|w| &w.steps).collect()
}

/// The lifecycle's view of a VRG and its plan (also `kubectl vrg`'s, to judge captures alike).
pub fn lifecycle_vrg(vrg: &VolumeReplicationGroup, plan: &Plan) -> lifecycle::Vrg {
    let backup_groups: Vec<String> = steps(&plan.backup)
        .iter()
        .filter_map(|s| match &s.action {
            PlanAction::Backup { group, .. } => Some(group.clone()),
            _ => None,
        })
        .collect();
    let needed = match &plan.restore {
        Some(_) => steps(&plan.restore)
            .iter()
            .filter_map(|s| match &s.action {
                PlanAction::Restore { backup_group, .. } => Some(backup_group.clone()),
                _ => None,
            })
            .collect(),
        None => steps(&plan.backup)
            .iter()
            .filter(|s| s.essential)
            .filter_map(|s| match &s.action {
                PlanAction::Backup { group, .. } => Some(group.clone()),
                _ => None,
            })
            .collect(),
    };
    lifecycle::Vrg {
        role: vrg.spec.replication_state,
        action: vrg.spec.action,
        generation: vrg.metadata.generation.unwrap_or_default(),
        profiles: plan.s3_profiles.clone(),
        backup_groups,
        needed,
        has_backup: plan.backup.is_some(),
        has_restore: plan.restore.is_some(),
        capture_interval: plan.capture_interval,
        capture_now: vrg.annotations().contains_key(CAPTURE_NOW),
    }
}

/// What a pass leaves to do after its status is written.
pub struct Acted {
    pub requeue: Requeue,
    /// Hook tasks to start once the status that records their attempt is written.
    pub hook_starts: Vec<HookStart>,
}

impl Acted {
    /// Nothing started; woken only by a change.
    pub fn idle() -> Self {
        Self {
            requeue: Requeue::await_change(),
            hook_starts: vec![],
        }
    }
}

pub async fn act(
    vrg: &VolumeReplicationGroup,
    ctx: &Context,
    api: &Api<VolumeReplicationGroup>,
    inputs: &Inputs<'_>,
    status: &mut VolumeReplicationGroupStatus,
    now: Timestamp,
) -> Result<Acted, Error> {
    let plan = inputs.plan;
    let mut hook_starts = vec![];
    let (namespace, name) = (vrg.namespace().unwrap_or_default(), vrg.name_any());
    let owner = Owner {
        namespace: &namespace,
        name: &name,
        cluster: &ctx.cluster,
    };
    let view = lifecycle_vrg(vrg, plan);
    let groups: Vec<String> = view
        .backup_groups
        .iter()
        .chain(&view.needed)
        .cloned()
        .collect();
    let world = observe::world(ctx, &owner, plan, &groups, now);
    let kop = status
        .kube_object_protection
        .get_or_insert_with(KubeObjectProtectionStatus::default);
    let decision = lifecycle::decide(&view, &world, kop);
    // When to look again without news (`None`: only on a change).
    let mut wait: Option<Duration> = match &decision.step {
        Step::Wait { recheck, .. } => *recheck,
        _ => None,
    };
    let generation = view.generation;
    let started = match &decision.step {
        Step::Drive | Step::Stop => kop.run.clone(),
        Step::Recover(source) => {
            let id = format!(
                "restore-{}-g{generation}-{}",
                source.capture.key.number,
                kop.recovery.as_ref().map_or(0, |r| r.unusable.len())
            );
            let workflow = plan.restore.as_ref();
            let run = workflow.map(|w| {
                let mut run = engine::start(w, id.clone(), source.capture.key.number, now);
                run.start_generation = Some(generation);
                run.source = Some(source.capture.identifier());
                run.sources = source.backups.clone();
                run
            });
            if let Some(rec) = kop.recovery.as_mut() {
                rec.recipe = inputs.recipe_origin.clone();
            }
            publish(
                ctx,
                vrg,
                EventType::Normal,
                "RecoveryStarted",
                &id,
                &format!("restoring {}", source.capture.key.describe()),
            )
            .await;
            run
        }
        Step::Capture {
            number,
            epoch,
            final_capture,
        } => {
            if view.capture_now {
                // Consumed: the annotation asks for one capture, not one per reconcile.
                let patch = json!({"metadata": {"annotations": {CAPTURE_NOW: null}}});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
            let id = format!("backup-{number}");
            let what = if *final_capture {
                "final capture for the relocation"
            } else {
                "capture"
            };
            publish(
                ctx,
                vrg,
                EventType::Normal,
                "CaptureStarted",
                &id,
                &format!("{what} {number} started"),
            )
            .await;
            plan.backup.as_ref().map(|w| {
                let mut run = engine::start(w, id, *number, now);
                run.start_generation = Some(generation);
                run.epoch = Some(*epoch);
                run.final_capture = *final_capture;
                run
            })
        }
        Step::Fenced { by } => {
            let was_fenced = status
                .conditions
                .iter()
                .any(|c| c.type_ == CLUSTER_DATA_PROTECTED && c.reason == "Fenced");
            if !was_fenced {
                publish(
                    ctx,
                    vrg,
                    EventType::Warning,
                    "Fenced",
                    &format!("fenced by {}", by.describe()),
                    &format!(
                        "{} was written by another cluster after this cluster's newest capture: \
                         nothing is captured or deleted here",
                        by.describe()
                    ),
                )
                .await;
            }
            None
        }
        Step::Wait { .. } | Step::Secondary => None,
    };
    let kop = status
        .kube_object_protection
        .get_or_insert_with(KubeObjectProtectionStatus::default);
    if let Some(run) = started.filter(|r| r.phase == RunPhase::Running) {
        match workflow_of(plan, &run) {
            Some(workflow) => {
                let pass = Pass {
                    recipe: inputs.recipe,
                    now,
                    halt: (decision.step == Step::Stop).then_some(engine::Halt::Demoted),
                };
                let (next, starts) = drive::step(ctx, &owner, plan, workflow, &run, pass).await?;
                hook_starts = starts;
                events_for(ctx, vrg, &run, &next.run).await;
                let finished = next.run.phase != RunPhase::Running;
                kop.run = Some(next.run.clone());
                if finished {
                    let outcome = observe::outcome(ctx, &owner, &next.run);
                    let before = kop.recovery.as_ref().map(|r| r.unusable.len());
                    lifecycle::conclude(&view, &world, kop, &outcome);
                    if kop.recovery.as_ref().map(|r| r.unusable.len()) > before {
                        publish(
                            ctx,
                            vrg,
                            EventType::Warning,
                            "CaptureUnreadable",
                            &next.run.id,
                            kop.recovery
                                .as_ref()
                                .and_then(|r| r.message.as_deref())
                                .unwrap_or_default(),
                        )
                        .await;
                    }
                    // Decide what comes next on fresh observations, at once.
                    wait = Some(Duration::ZERO);
                } else {
                    wait = Some(drive::recheck(workflow, &next.run, next.wake_after));
                }
                status::hooks(status, &next.run, generation, now);
            }
            None => {
                // The run's workflow left the recipe: the run cannot go on.
                let mut ended = run.clone();
                ended.phase = RunPhase::Failed;
                ended.end_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
                ended.message = Some(format!(
                    "the recipe no longer has a {} workflow; the run stopped",
                    run.workflow
                ));
                kop.run = Some(ended);
                wait = Some(Duration::ZERO);
            }
        }
    }
    let kop = status
        .kube_object_protection
        .get_or_insert_with(KubeObjectProtectionStatus::default);
    kop.current_step = kop.run.as_ref().and_then(current_step);
    rotation::rotate(ctx, &owner, kop, &decision.rotate, now).await?;
    let kop = status.kube_object_protection.clone().unwrap_or_default();
    let cdp = conditions::cluster_data_protected(&view, &world, &kop, &decision.step);
    status::set(
        status,
        CLUSTER_DATA_PROTECTED,
        cdp.ok,
        cdp.reason,
        &cdp.message,
        generation,
        now,
    );
    match conditions::kube_objects_ready(&view, &kop, &decision.step) {
        Update::Set(v) => status::set(
            status,
            KUBE_OBJECTS_READY,
            v.ok,
            v.reason,
            &v.message,
            generation,
            now,
        ),
        Update::Remove => status::remove(status, KUBE_OBJECTS_READY),
        Update::Keep => {}
    }
    if !kop.deletions.is_empty() || decision.rotate_after_sync {
        // Follow the requests, or Velero's next sync, even when nothing else would wake this VRG.
        wait = Some(wait.map_or(ROTATION_RECHECK, |w| w.min(ROTATION_RECHECK)));
    }
    let requeue = match wait {
        Some(w) => Requeue::requeue(w.max(Duration::from_millis(1))),
        None => Requeue::await_change(),
    };
    Ok(Acted {
        requeue,
        hook_starts,
    })
}

/// The workflow of `plan` that `run` executes, if the plan still has it.
fn workflow_of<'p>(plan: &'p Plan, run: &WorkflowRun) -> Option<&'p WorkflowPlan> {
    match run.workflow.as_str() {
        "restore" => plan.restore.as_ref(),
        _ => plan.backup.as_ref(),
    }
}

/// Stops a run in progress for `halt` (the VRG was paused or deleted): nothing new starts, and
/// the run unwinds and ends (`engine::halt`). `None`: no run to halt (none is running, or its
/// workflow left the recipe).
pub async fn halt(
    vrg: &VolumeReplicationGroup,
    ctx: &Context,
    plan: &Plan,
    status: &mut VolumeReplicationGroupStatus,
    now: Timestamp,
    halt: engine::Halt,
) -> Result<Option<Acted>, Error> {
    let kop = status
        .kube_object_protection
        .get_or_insert_with(KubeObjectProtectionStatus::default);
    let Some(run) = kop.run.clone().filter(|r| r.phase == RunPhase::Running) else {
        return Ok(None);
    };
    let Some(workflow) = workflow_of(plan, &run) else {
        return Ok(None); // The workflow left the recipe: the next unpaused pass ends the run.
    };
    let (namespace, name) = (vrg.namespace().unwrap_or_default(), vrg.name_any());
    let owner = Owner {
        namespace: &namespace,
        name: &name,
        cluster: &ctx.cluster,
    };
    let pass = Pass {
        recipe: None,
        now,
        halt: Some(halt),
    };
    let (next, hook_starts) = drive::step(ctx, &owner, plan, workflow, &run, pass).await?;
    events_for(ctx, vrg, &run, &next.run).await;
    let requeue = if next.run.phase == RunPhase::Running {
        Requeue::requeue(drive::recheck(workflow, &next.run, next.wake_after))
    } else {
        Requeue::await_change()
    };
    status::hooks(
        status,
        &next.run,
        vrg.metadata.generation.unwrap_or_default(),
        now,
    );
    let kop = status
        .kube_object_protection
        .get_or_insert_with(KubeObjectProtectionStatus::default);
    kop.current_step = current_step(&next.run);
    kop.run = Some(next.run);
    Ok(Some(Acted {
        requeue,
        hook_starts,
    }))
}

/// How often rotation looks again at DeleteBackupRequests in flight, or for the sync that
/// confirms a newer capture.
const ROTATION_RECHECK: Duration = Duration::from_secs(15);

/// `backup-3 step 2/5: hook db/quiesce` while a run is in progress.
pub fn current_step(run: &WorkflowRun) -> Option<String> {
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
