//! Driving one workflow run: observe what its running steps are doing, ask the engine, and carry
//! out its actions (create Velero objects, start hook tasks). Creating is idempotent: names are
//! deterministic and an existing object is taken as created.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

use super::hooks::{HookKey, HookStart};
use super::in_flight::InFlight;
use super::{Context, Error};
use crate::api::progress::WorkflowRun;
use crate::api::velero::{Backup, Restore};
use crate::engine::{self, Action, Next, ObjectProgress, Observation, Observed};
use crate::recipe::Plan;
use crate::recipe::plan::{Action as PlanAction, WorkflowPlan};
use crate::velero::{self, ObjectIdentity};

/// Which VRG a run belongs to, on which cluster.
pub struct Owner<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// This cluster's id, as a label value.
    pub cluster: &'a str,
}

/// The Velero objects (name -> identity) step `i` of `run` creates for its current attempt.
pub fn step_objects(
    owner: &Owner,
    plan: &Plan,
    workflow: &WorkflowPlan,
    run: &WorkflowRun,
    i: usize,
) -> Vec<ObjectIdentity> {
    let attempt = run.steps.get(i).map_or(0, |s| s.attempt.saturating_sub(1));
    let Some(step) = workflow.steps.get(i) else {
        return vec![];
    };
    match &step.action {
        PlanAction::Backup { group, .. } => plan
            .s3_profiles
            .iter()
            .map(|profile| {
                ObjectIdentity::backup(owner.namespace, owner.name, run.capture, group, profile)
                    .written_by(owner.cluster, run.epoch.unwrap_or(0))
                    .final_capture(run.final_capture)
                    .with_attempt(attempt)
            })
            .collect(),
        PlanAction::Restore { group, .. } => {
            vec![
                ObjectIdentity::restore(owner.namespace, owner.name, &run.id, run.capture, group)
                    .with_attempt(attempt),
            ]
        }
        PlanAction::Exec(_) | PlanAction::Check(_) | PlanAction::Scale(_) | PlanAction::Job(_) => {
            vec![]
        }
    }
}

fn hook_key(owner: &Owner, run: &WorkflowRun, step: usize, attempt: u32, inverse: bool) -> HookKey {
    HookKey {
        vrg_namespace: owner.namespace.into(),
        vrg_name: owner.name.into(),
        run_id: run.id.clone(),
        step,
        attempt,
        inverse,
    }
}

/// Observes the steps the engine watches.
async fn observe(
    ctx: &Context,
    owner: &Owner<'_>,
    plan: &Plan,
    workflow: &WorkflowPlan,
    run: &WorkflowRun,
    now: Timestamp,
) -> Result<Observed, Error> {
    let (steps, inverses) = engine::watched(run);
    let mut observed = Observed {
        now,
        steps: BTreeMap::new(),
        inverses: BTreeMap::new(),
    };
    let backups = ctx.velero.backups_of(owner.namespace, owner.name);
    let restores = ctx.velero.restores_of(owner.namespace, owner.name);
    let same_plan = engine::same_plan(workflow, run);
    for i in steps {
        let Some(progress) = run.steps.get(i) else {
            continue;
        };
        if !same_plan {
            // The plan changed: what the step started is known from the run alone.
            observed
                .steps
                .insert(i, recorded(ctx, owner, run, i, &backups, &restores));
            continue;
        }
        let Some(step) = workflow.steps.get(i) else {
            continue;
        };
        let observation = match &step.action {
            PlanAction::Backup { .. } => {
                let ids = step_objects(owner, plan, workflow, run, i);
                objects(&backups, &ids, velero::phase::backup_progress)
            }
            PlanAction::Restore { .. } => {
                let ids = step_objects(owner, plan, workflow, run, i);
                objects(&restores, &ids, velero::phase::restore_progress)
            }
            PlanAction::Exec(_)
            | PlanAction::Check(_)
            | PlanAction::Scale(_)
            | PlanAction::Job(_) => Observation::Hook(ctx.hooks.observe(&hook_key(
                owner,
                run,
                i,
                progress.attempt,
                false,
            ))),
        };
        observed.steps.insert(i, observation);
    }
    for i in inverses {
        let attempt = run
            .steps
            .get(i)
            .and_then(|s| s.inverse.as_ref())
            .map_or(0, |inv| inv.attempt);
        let observation = ctx.hooks.observe(&hook_key(owner, run, i, attempt, true));
        observed.inverses.insert(i, observation);
    }
    Ok(observed)
}

/// What step `i` of `run` is doing, from what the run recorded of it (its Velero objects' names,
/// or its hook task), for a run whose plan is gone.
fn recorded(
    ctx: &Context,
    owner: &Owner,
    run: &WorkflowRun,
    i: usize,
    backups: &BTreeMap<String, Arc<Backup>>,
    restores: &BTreeMap<String, Arc<Restore>>,
) -> Observation {
    let Some(step) = run.steps.get(i) else {
        return Observation::Velero(vec![]);
    };
    if step.name.starts_with("hook ") {
        return Observation::Hook(
            ctx.hooks
                .observe(&hook_key(owner, run, i, step.attempt, false)),
        );
    }
    let progress = |name: &String| {
        if run.workflow == "restore" {
            restores
                .get(name)
                .map(|r| ObjectProgress::from(velero::phase::restore_progress(r)))
        } else {
            backups
                .get(name)
                .map(|b| ObjectProgress::from(velero::phase::backup_progress(b)))
        }
    };
    Observation::Velero(step.objects.iter().map(progress).collect())
}

/// The progress of each object of `ids` among `found` (the VRG's objects of one kind).
fn objects<K>(
    found: &BTreeMap<String, Arc<K>>,
    ids: &[ObjectIdentity],
    progress: fn(&K) -> velero::Progress,
) -> Observation {
    Observation::Velero(
        ids.iter()
            .map(|id| {
                found
                    .get(&id.name())
                    .map(|o| ObjectProgress::from(progress(o)))
            })
            .collect(),
    )
}

/// How one pass drives its run.
pub struct Pass<'a> {
    /// The Recipe document a capture's Backups carry, if any.
    pub recipe: Option<&'a str>,
    pub now: Timestamp,
    /// Stop the run instead of moving it on.
    pub halt: Option<engine::Halt>,
}

/// One pass: observe, decide, act. Returns the engine's answer with object names recorded, and
/// the hook tasks to start once that answer is in status (the caller starts them).
/// A restore run restores each backup group from the Backup its `sources` name; a capture's
/// Backups carry `recipe` (the Recipe object it was taken with), if any.
pub async fn step(
    ctx: &Context,
    owner: &Owner<'_>,
    plan: &Plan,
    workflow: &WorkflowPlan,
    run: &WorkflowRun,
    pass: Pass<'_>,
) -> Result<(Next, Vec<HookStart>), Error> {
    let Pass { recipe, now, halt } = pass;
    let sources = &run.sources;
    let mut hooks = vec![];
    let observed = observe(ctx, owner, plan, workflow, run, now).await?;
    let mut next = match halt {
        None => engine::next(workflow, run, &observed),
        Some(halt) => engine::halt(workflow, run, &observed, halt),
    };
    for action in next.actions.clone() {
        match action {
            Action::Start { step, .. } => {
                let (Some(planned), Some(_)) = (workflow.steps.get(step), next.run.steps.get(step))
                else {
                    continue; // The engine acts only on steps of its plan; nothing to do if not.
                };
                let ids = step_objects(owner, plan, workflow, &next.run, step);
                if let Some(progress) = next.run.steps.get_mut(step) {
                    progress.objects = ids.iter().map(ObjectIdentity::name).collect();
                }
                match &planned.action {
                    PlanAction::Backup { spec, .. } => {
                        let api =
                            Api::<Backup>::namespaced(ctx.client.clone(), &ctx.velero_namespace);
                        for id in &ids {
                            let profile = id.profile.clone().unwrap_or_default();
                            let mut backup =
                                velero::spec::backup(spec, id, &profile, &ctx.velero_namespace);
                            if let (Some(recipe), Some(annotations)) =
                                (recipe, backup.metadata.annotations.as_mut())
                            {
                                annotations.insert(
                                    velero::names::ANNOTATION_RECIPE.to_owned(),
                                    recipe.to_owned(),
                                );
                            }
                            create(&api, &backup, ctx.velero.backups_in_flight()).await?;
                        }
                    }
                    PlanAction::Restore {
                        backup_group, spec, ..
                    } => {
                        let api =
                            Api::<Restore>::namespaced(ctx.client.clone(), &ctx.velero_namespace);
                        let Some(backup) = sources.get(backup_group) else {
                            // The source was chosen for every group the workflow restores.
                            continue;
                        };
                        for id in &ids {
                            create(
                                &api,
                                &velero::spec::restore(spec, backup, id, &ctx.velero_namespace),
                                ctx.velero.restores_in_flight(),
                            )
                            .await?;
                        }
                    }
                    PlanAction::Exec(_)
                    | PlanAction::Check(_)
                    | PlanAction::Scale(_)
                    | PlanAction::Job(_) => {
                        let attempt = next.run.steps.get(step).map_or(0, |s| s.attempt);
                        let mut planned = planned.clone();
                        if let PlanAction::Scale(scale) = &mut planned.action {
                            // What this run's down step found, from status: it outlives us.
                            scale.remembered =
                                crate::hooks::scale::remembered(&next.run, &scale.hook);
                        }
                        hooks.push(HookStart {
                            key: hook_key(owner, &next.run, step, attempt, false),
                            step: planned,
                        });
                    }
                }
            }
            Action::StartInverse { step, attempt } => {
                // The inverse of a step of a changed plan is found by the step's name.
                if let Some(planned) = engine::unwind::planned(workflow, &next.run, step) {
                    hooks.push(HookStart {
                        key: hook_key(owner, &next.run, step, attempt, true),
                        step: planned.clone(),
                    });
                }
            }
        }
    }
    Ok((next, hooks))
}

/// Creates `object`; one that already exists (same deterministic name) counts as created, and
/// one we created that the cache has not shown yet is not sent again.
pub(super) async fn create<K>(api: &Api<K>, object: &K, in_flight: &InFlight) -> Result<(), Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    if in_flight.contains(&name) {
        return Ok(());
    }
    match api.create(&PostParams::default(), object).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    in_flight.created(&name);
    Ok(())
}

/// How long to wait before looking at a running run again without news: Velero objects wake the
/// VRG through watches and hook tasks when they finish; this is the safety net.
pub fn recheck(
    workflow: &WorkflowPlan,
    run: &WorkflowRun,
    wake_after: Option<Duration>,
) -> Duration {
    let hook_running = run.steps.iter().zip(&workflow.steps).any(|(s, p)| {
        (s.phase == crate::api::progress::StepPhase::Running
            && matches!(p.action, PlanAction::Exec(_) | PlanAction::Check(_)))
            || s.inverse
                .as_ref()
                .is_some_and(|i| i.phase == crate::api::progress::StepPhase::Running)
    });
    let ceiling = if hook_running {
        HOOK_POLL
    } else {
        RUNNING_RECHECK
    };
    wake_after.unwrap_or(ceiling).min(ceiling)
}

/// How often a running hook task is looked at without news (a finished task wakes its VRG).
const HOOK_POLL: Duration = Duration::from_secs(10);
/// How often a running workflow is looked at even without news (watches normally wake it sooner).
const RUNNING_RECHECK: Duration = Duration::from_secs(60);
