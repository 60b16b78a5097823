//! Reconciling one VRG: finalizer first; then read the recipe, validate it into a plan, and drive
//! the capture schedule. Reconcile never waits for Velero or a hook: it starts work, records it
//! in status, and is woken by watches or by the requeue it returns.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event, finalizer};
use serde_json::Value;

use super::capture::{capture, rotate};
use super::drive::Owner;
use super::events::publish;
use super::recover;
use super::status::{self, RECIPE_READY};
use super::{Context, Error};
use crate::api::Recipe;
use crate::api::velero::Restore;
use crate::api::vrg::{ReplicationState, VolumeReplicationGroup};
use crate::recipe::{self, Loaded};
use crate::velero;

/// Our finalizer: Velero objects live in another namespace, so owner references cannot clean them.
pub const FINALIZER: &str = "ramendr.openshift.io/vrg-operator";
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
    let result = finalizer(&api, FINALIZER, vrg, |event| async {
        match event {
            Event::Apply(vrg) => apply(&vrg, &ctx, &api).await,
            Event::Cleanup(vrg) => cleanup(&vrg, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    ctx.metrics.reconciles.inc();
    ctx.metrics
        .reconcile_duration
        .observe(started.elapsed().as_secs_f64());
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

/// VRG deleted: remove our Restores and, unless the operator keeps captures, ask Velero to delete
/// them (Backups are deleted through DeleteBackupRequests so their stored data goes too).
///
/// Only a primary's deletion removes captures. A secondary's Backups are the primary cluster's,
/// synced here from the shared storage: deleting them would delete the only copy of the captures
/// that protect the application now (a failed-over-from cluster is cleaned up exactly this way).
async fn cleanup(vrg: &VolumeReplicationGroup, ctx: &Context) -> Result<Requeue, Error> {
    let owner = Owner {
        namespace: &vrg.namespace().unwrap_or_default(),
        name: &vrg.name_any(),
    };
    let primary = vrg.spec.replication_state == ReplicationState::Primary;
    if ctx.on_delete == super::OnDelete::DeleteCaptures && primary {
        rotate(ctx, &owner, i64::MAX).await?;
    } else if !primary {
        tracing::info!(vrg = %format!("{}/{}", owner.namespace, owner.name),
            "secondary VRG deleted: its captures belong to the primary cluster and are kept");
    }
    let selector =
        ListParams::default().labels(&velero::names::vrg_selector(owner.namespace, owner.name));
    let restores = Api::<Restore>::namespaced(ctx.client.clone(), &ctx.velero_namespace);
    restores
        .delete_collection(&DeleteParams::default(), &selector)
        .await?;
    Ok(Requeue::await_change())
}
