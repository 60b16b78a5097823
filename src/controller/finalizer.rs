//! Our finalizer on VRGs. Velero objects live in another namespace, so owner references cannot
//! clean them; and a VRG deleted mid-run must first stop its run and undo what it quiesced, which
//! can take several reconciles. So cleanup may answer "not yet", and the finalizer stays until it
//! answers "done" (a helper that removes the finalizer after one successful cleanup cannot wait).

use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use serde_json::json;

use super::Error;
use crate::api::VolumeReplicationGroup;

/// Our finalizer's name.
pub const FINALIZER: &str = "ramendr.openshift.io/vrg-operator";

/// What a reconcile does with a VRG, by its deletion state and our finalizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Not being deleted and not yet ours: add the finalizer first (the patch wakes us again).
    Adopt,
    /// Not being deleted: the DR lifecycle.
    Apply,
    /// Being deleted while our finalizer holds it: clean up, then release it.
    Cleanup,
    /// Being deleted, and our finalizer is gone: nothing left to do.
    Gone,
}

pub fn stage(vrg: &VolumeReplicationGroup) -> Stage {
    let ours = vrg.finalizers().iter().any(|f| f == FINALIZER);
    match (vrg.metadata.deletion_timestamp.is_some(), ours) {
        (false, false) => Stage::Adopt,
        (false, true) => Stage::Apply,
        (true, true) => Stage::Cleanup,
        (true, false) => Stage::Gone,
    }
}

/// How a cleanup pass ended.
pub enum Cleaned {
    /// Everything is done: the finalizer may go.
    Done,
    /// A run is still stopping: look again (the finalizer stays).
    Waiting(Requeue),
}

/// Adds our finalizer, or (`add` false) removes it. The patch carries the resourceVersion the
/// list was read at, so a concurrent edit of the finalizers fails (409) instead of being lost;
/// the retry reads the new list.
pub async fn set(
    api: &Api<VolumeReplicationGroup>,
    vrg: &VolumeReplicationGroup,
    add: bool,
) -> Result<(), Error> {
    let mut finalizers: Vec<String> = vrg
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    if add {
        finalizers.push(FINALIZER.to_owned());
    }
    let patch = json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": vrg.resource_version(),
        }
    });
    match api
        .patch(
            &vrg.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Already gone: the last finalizer was ours, and the object with it.
        Err(kube::Error::Api(e)) if e.code == 404 && !add => Ok(()),
        Err(e) => Err(e.into()),
    }
}
