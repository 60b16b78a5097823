//! A VRG being deleted: its run in progress stops and unwinds first (nothing is left quiesced),
//! then its captures are handled as the delete policy says, and what the operator held in memory
//! for it is dropped.

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams};

use super::drive::Owner;
use super::finalizer::Cleaned;
use super::{Context, Error, act, observe, recipes, status};
use crate::api::progress::RunPhase;
use crate::api::velero::{DeleteBackupRequest, Restore};
use crate::api::vrg::VolumeReplicationGroup;
use crate::engine::Halt;
use crate::lifecycle;
use crate::recipe::Loaded;
use crate::velero;

pub(super) async fn cleanup(
    cached: &VolumeReplicationGroup,
    ctx: &Context,
    api: &Api<VolumeReplicationGroup>,
) -> Result<Cleaned, Error> {
    // Decide from a quorum read: the cache may not show our last status write yet.
    let Some(vrg) = api.get_opt(&cached.name_any()).await? else {
        return Ok(Cleaned::Done);
    };
    if let Some(waiting) = stop_run(&vrg, ctx, api).await? {
        return Ok(waiting);
    }
    handle_captures(&vrg, ctx).await?;
    ctx.hooks
        .forget(&vrg.namespace().unwrap_or_default(), &vrg.name_any());
    Ok(Cleaned::Done)
}

/// Halts the VRG's run in progress (`Halt::Deleted`): `Some` while it still stops. A run whose
/// recipe cannot be read any more (deleted with its namespace) cannot be unwound: nothing to do.
async fn stop_run(
    vrg: &VolumeReplicationGroup,
    ctx: &Context,
    api: &Api<VolumeReplicationGroup>,
) -> Result<Option<Cleaned>, Error> {
    let running = |status: Option<&crate::api::vrg::VolumeReplicationGroupStatus>| {
        status
            .and_then(|s| s.kube_object_protection.as_ref())
            .and_then(|k| k.run.as_ref())
            .is_some_and(|r| r.phase == RunPhase::Running)
    };
    if !running(vrg.status.as_ref()) {
        return Ok(None);
    }
    let (namespace, name) = (vrg.namespace().unwrap_or_default(), vrg.name_any());
    let owner = Owner {
        namespace: &namespace,
        name: &name,
        cluster: &ctx.cluster,
    };
    let Ok(Loaded::Planned(plan)) = recipes::load(vrg, ctx, &owner).await?.1 else {
        tracing::warn!(vrg = %format!("{namespace}/{name}"),
            "VRG deleted mid-run without a valid recipe: its run cannot be unwound");
        return Ok(None);
    };
    let mut status = vrg.status.clone().unwrap_or_default();
    let Some(acted) = act::halt(
        vrg,
        ctx,
        &plan,
        &mut status,
        Timestamp::now(),
        Halt::Deleted,
    )
    .await?
    else {
        return Ok(None);
    };
    status::write(api, vrg, &status).await?;
    super::reconcile::start_hooks(ctx, acted.hook_starts);
    Ok(running(Some(&status)).then_some(Cleaned::Waiting(acted.requeue)))
}

/// Removes our Restores and do with this cluster's captures what the operator's
/// delete policy says: keep them (the default: deleting a VRG, or its namespace by accident,
/// loses nothing), or delete this cluster's own (a secondary only those a newer capture
/// supersedes). Another cluster's captures are never deleted.
async fn handle_captures(vrg: &VolumeReplicationGroup, ctx: &Context) -> Result<(), Error> {
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
    Ok(())
}
