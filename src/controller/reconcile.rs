//! Reconciling one VRG: finalizer first (`finalizer`); then read the recipe, validate it into a
//! plan, and run one pass of the DR lifecycle (`act`); or, for a VRG being deleted, `cleanup`.
//! Reconcile never waits for Velero or a hook: it starts work, records it in status, and is woken
//! by watches or by the requeue it returns.

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::EventType;

use super::drive::Owner;
use super::events::publish;
use super::finalizer::{self, Cleaned, Stage};
use super::hooks::HookStart;
use super::status::{self, RECIPE_READY};
use super::{Context, Error, act, cleanup, recipes};
use crate::api::vrg::{ReplicationState, VolumeReplicationGroup};
use crate::engine::Halt;
use crate::recipe::Loaded;
use crate::telemetry::vrg_metrics::VrgGauges;

/// Annotation asking for an immediate capture (any value).
pub const CAPTURE_NOW: &str = "ramendr.openshift.io/capture-now";

pub async fn reconcile(
    vrg: Arc<VolumeReplicationGroup>,
    ctx: Arc<Context>,
) -> Result<Requeue, Error> {
    let namespace = vrg
        .namespace()
        .ok_or_else(|| Error::NoNamespace(vrg.name_any()))?;
    let api: Api<VolumeReplicationGroup> = Api::namespaced(ctx.client.clone(), &namespace);
    let key = format!("{namespace}/{}", vrg.name_any());
    let started = std::time::Instant::now();
    let result = match finalizer::stage(&vrg) {
        Stage::Adopt => finalizer::set(&api, &vrg, true)
            .await
            .map(|()| Requeue::await_change()),
        Stage::Apply => apply(&vrg, &ctx, &api).await,
        Stage::Cleanup => match cleanup::cleanup(&vrg, &ctx, &api).await {
            Ok(Cleaned::Done) => {
                ctx.metrics.vrgs.forget(&namespace, &vrg.name_any());
                ctx.forget(&key);
                finalizer::set(&api, &vrg, false)
                    .await
                    .map(|()| Requeue::await_change())
            }
            Ok(Cleaned::Waiting(requeue)) => Ok(requeue),
            Err(e) => Err(e),
        },
        Stage::Gone => {
            ctx.metrics.vrgs.forget(&namespace, &vrg.name_any());
            ctx.forget(&key);
            Ok(Requeue::await_change())
        }
    };
    ctx.metrics.reconciles.inc();
    ctx.metrics
        .reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    if result.is_ok() {
        ctx.succeeded(&key);
    }
    result
}

async fn apply(
    cached: &VolumeReplicationGroup,
    ctx: &Context,
    api: &Api<VolumeReplicationGroup>,
) -> Result<Requeue, Error> {
    // The watch cache can lag behind our own last status write; deciding from a stale status
    // could start a capture twice. So a reconcile reads the VRG from etcd (a quorum read), unless
    // the cached VRG is the very version our last status write produced: then nothing of ours
    // is missing from it. (Changes announced by the Velero caches wake a reconcile only after
    // those caches hold them, so the Backups it reads are as new as the wake.)
    let key = format!(
        "{}/{}",
        cached.namespace().unwrap_or_default(),
        cached.name_any()
    );
    let fresh = if ctx.is_own_last_write(&key, cached.metadata.resource_version.as_deref()) {
        cached.clone()
    } else {
        match api.get_opt(&cached.name_any()).await? {
            Some(fresh) => fresh,
            None => return Ok(Requeue::await_change()),
        }
    };
    let vrg = &fresh;
    let namespace = vrg.namespace().unwrap_or_default();
    let name = vrg.name_any();
    let owner = Owner {
        namespace: &namespace,
        name: &name,
        cluster: &ctx.cluster,
    };
    let generation = vrg.metadata.generation.unwrap_or_default();
    let now = Timestamp::now();
    let mut status = vrg.status.clone().unwrap_or_default();
    status.observed_generation = Some(generation);
    status.state = Some(state(vrg));
    let (recipes, loaded) = recipes::load(vrg, ctx, &owner).await?;
    let plan = match loaded {
        Ok(Loaded::Planned(plan)) => plan,
        Ok(Loaded::Unprotected) => {
            write(ctx, api, vrg, &status, None).await?;
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
            write(ctx, api, vrg, &status, None).await?;
            if changed {
                // Each distinct set of problems is its own Event, not a fold into the first one.
                let action = format!("validate {}", crate::velero::names::short_hash(&message));
                publish(
                    ctx,
                    vrg,
                    EventType::Warning,
                    "RecipeInvalid",
                    &action,
                    &message,
                )
                .await;
            }
            // A fix to the VRG or its Recipe is a change, and changes wake us.
            return Ok(Requeue::await_change());
        }
    };
    if plan.paused {
        // A run in progress stops and unwinds: nothing is left quiesced while paused.
        let acted = act::halt(vrg, ctx, &plan, &mut status, now, Halt::Paused).await?;
        let acted = acted.unwrap_or_else(act::Acted::idle);
        status::set(
            &mut status,
            RECIPE_READY,
            true,
            "Paused",
            "STOP_RECIPE_RECONCILE is set: no workflow starts until it is removed",
            generation,
            now,
        );
        write(ctx, api, vrg, &status, Some(plan.capture_interval)).await?;
        start_hooks(ctx, acted.hook_starts);
        return Ok(acted.requeue);
    }
    let source = recipes
        .origin
        .clone()
        .unwrap_or_else(|| plan.source.clone());
    status::set(
        &mut status,
        RECIPE_READY,
        true,
        "Valid",
        &valid_message(&source, &plan.notes),
        generation,
        now,
    );
    let inputs = act::Inputs {
        plan: &plan,
        recipe: recipes.carried.as_deref(),
        recipe_origin: Some(source),
    };
    let acted = act::act(vrg, ctx, api, &inputs, &mut status, now).await?;
    write(ctx, api, vrg, &status, Some(plan.capture_interval)).await?;
    start_hooks(ctx, acted.hook_starts);
    Ok(acted.requeue)
}

/// Writes the status, then sets the VRG's metrics from it (`interval`: the plan's, when valid).
async fn write(
    ctx: &Context,
    api: &Api<VolumeReplicationGroup>,
    vrg: &VolumeReplicationGroup,
    status: &crate::api::vrg::VolumeReplicationGroupStatus,
    interval: Option<std::time::Duration>,
) -> Result<(), Error> {
    let written = status::write(api, vrg, status).await?;
    ctx.wrote(
        &format!("{}/{}", vrg.namespace().unwrap_or_default(), vrg.name_any()),
        written,
    );
    let gauges = VrgGauges::of(vrg.spec.replication_state, status, interval);
    ctx.metrics.vrgs.observe(
        &vrg.namespace().unwrap_or_default(),
        &vrg.name_any(),
        &gauges,
    );
    Ok(())
}

/// `RecipeReady`'s message for a valid recipe, with how it was read where its author may not
/// expect it.
fn valid_message(source: &str, notes: &[crate::recipe::Problem]) -> String {
    if notes.is_empty() {
        return format!("{source} is valid");
    }
    let notes: Vec<String> = notes.iter().map(ToString::to_string).collect();
    format!("{source} is valid; note: {}", notes.join("; "))
}

fn state(vrg: &VolumeReplicationGroup) -> String {
    match vrg.spec.replication_state {
        ReplicationState::Primary => "Primary".into(),
        ReplicationState::Secondary => "Secondary".into(),
    }
}

/// Starts the hook tasks a pass held back. Call only once the status that shows each hook's
/// attempt as Running is written (SPEC 5, exactly once).
pub(super) fn start_hooks(ctx: &Context, starts: Vec<HookStart>) {
    for start in starts {
        ctx.hooks.start(start.key, &start.step);
    }
}
