//! Reconciling one VRG: finalizer first; then read the recipe, validate it into a plan, and run
//! one pass of the DR lifecycle (`act`). Reconcile never waits for Velero or a hook: it starts
//! work, records it in status, and is woken by watches or by the requeue it returns.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event, finalizer};
use serde_json::Value;

use super::drive::Owner;
use super::events::publish;
use super::status::{self, RECIPE_READY};
use super::{Context, Error, act, observe};
use crate::api::Recipe;
use crate::api::velero::{DeleteBackupRequest, Restore};
use crate::api::vrg::{ReplicationState, VolumeReplicationGroup};
use crate::engine::Halt;
use crate::lifecycle;
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

/// The Recipe a VRG references, as a document for the recipe loader; when no Recipe object of
/// that name exists on this cluster, the copy the VRG's newest capture carries (so a failover
/// works on a cluster where the Recipe was never applied).
struct Recipes {
    found: BTreeMap<(String, String), Value>,
    /// The document each new capture carries.
    carried: Option<String>,
    /// Where it came from, in words.
    origin: Option<String>,
}

async fn recipes(
    vrg: &VolumeReplicationGroup,
    ctx: &Context,
    owner: &Owner<'_>,
) -> Result<Recipes, Error> {
    let mut out = Recipes {
        found: BTreeMap::new(),
        carried: None,
        origin: None,
    };
    let reference = vrg
        .spec
        .kube_object_protection
        .as_ref()
        .and_then(|k| k.recipe_ref.as_ref());
    let Some(r) = reference else {
        return Ok(out);
    };
    let ns = r
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| owner.namespace.to_owned());
    let key = (ns.clone(), r.name.clone());
    if let Some(recipe) = Api::<Recipe>::namespaced(ctx.client.clone(), &ns)
        .get_opt(&r.name)
        .await?
    {
        let doc = serde_json::to_value(recipe)?;
        out.carried = Some(carried_form(&doc).to_string());
        out.origin = Some(format!("Recipe {ns}/{} on this cluster", r.name));
        out.found.insert(key, doc);
    } else if let Some((doc, capture)) = observe::carried_recipe(ctx, owner)
        && doc["metadata"]["name"] == r.name.as_str()
        && doc["metadata"]["namespace"] == ns.as_str()
    {
        out.carried = Some(doc.to_string());
        out.origin = Some(format!(
            "Recipe {ns}/{} as carried by {} (no Recipe object of that name on this cluster)",
            r.name,
            capture.describe()
        ));
        out.found.insert(key, doc);
    }
    Ok(out)
}

/// What a capture carries of a Recipe: what defines it, nothing the server added.
fn carried_form(doc: &Value) -> Value {
    serde_json::json!({
        "apiVersion": doc["apiVersion"],
        "kind": doc["kind"],
        "metadata": {"name": doc["metadata"]["name"], "namespace": doc["metadata"]["namespace"]},
        "spec": doc["spec"],
    })
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
    let doc = serde_json::to_value(vrg)?;
    let recipes = recipes(vrg, ctx, &owner).await?;
    let settings = ctx.settings().await;
    let plan = match recipe::load_vrg(&doc, &namespace, &recipes.found, &settings) {
        Ok(Loaded::Planned(plan)) => plan,
        Ok(Loaded::Unprotected) => {
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
    if plan.paused {
        // A run in progress stops and unwinds: nothing is left quiesced while paused.
        let acted = act::halt(vrg, ctx, &plan, &mut status, now, Halt::Paused).await?;
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
        for start in acted.hook_starts {
            ctx.hooks.start(start.key, &start.step);
        }
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
        &format!("{source} is valid"),
        generation,
        now,
    );
    let inputs = act::Inputs {
        plan: &plan,
        recipe: recipes.carried.as_deref(),
        recipe_origin: Some(source),
    };
    let acted = act::act(vrg, ctx, api, &inputs, &mut status, now).await?;
    status::write(api, vrg, &status).await?;
    // Only now that status shows each hook's attempt as Running may its task start.
    for start in acted.hook_starts {
        ctx.hooks.start(start.key, &start.step);
    }
    Ok(acted.requeue)
}

fn state(vrg: &VolumeReplicationGroup) -> String {
    match vrg.spec.replication_state {
        ReplicationState::Primary => "Primary".into(),
        ReplicationState::Secondary => "Secondary".into(),
    }
}

/// VRG deleted: remove our Restores and do with this cluster's captures what the operator's
/// delete policy says: keep them (the default: deleting a VRG, or its namespace by accident,
/// loses nothing), or delete this cluster's own (a secondary only those a newer capture
/// supersedes). Another cluster's captures are never deleted.
async fn cleanup(vrg: &VolumeReplicationGroup, ctx: &Context) -> Result<Requeue, Error> {
    let (namespace, name) = (vrg.namespace().unwrap_or_default(), vrg.name_any());
    let owner = Owner {
        namespace: &namespace,
        name: &name,
        cluster: &ctx.cluster,
    };
    let backups = ctx.velero.backups_of(&namespace, &name);
    // Without a plan to name the groups a capture needs, every group a capture holds counts.
    let mut groups: Vec<String> = backups
        .values()
        .filter_map(|b| velero::names::capture_of(b.labels()).map(|c| c.group))
        .collect();
    groups.sort();
    groups.dedup();
    let world = lifecycle::World {
        cluster: ctx.cluster.clone(),
        captures: observe::captures(backups.values().map(AsRef::as_ref), &[], &[]),
        locations: vec![],
        now: Timestamp::now(),
    };
    let doomed = lifecycle::on_delete(ctx.on_delete, vrg.spec.replication_state, &world, &groups);
    let requests =
        Api::<DeleteBackupRequest>::namespaced(ctx.client.clone(), &ctx.velero_namespace);
    for backup in &doomed {
        let Some(b) = backups.get(backup) else {
            continue;
        };
        let request = velero::spec::delete_request(backup, b.labels(), &ctx.velero_namespace);
        match requests.create(&PostParams::default(), &request).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    tracing::info!(vrg = %format!("{}/{}", owner.namespace, owner.name), deleted = doomed.len(),
        kept = backups.len() - doomed.len(), "VRG deleted: captures handled by the delete policy");
    let selector =
        ListParams::default().labels(&velero::names::vrg_selector(owner.namespace, owner.name));
    let restores = Api::<Restore>::namespaced(ctx.client.clone(), &ctx.velero_namespace);
    restores
        .delete_collection(&DeleteParams::default(), &selector)
        .await?;
    Ok(Requeue::await_change())
}
