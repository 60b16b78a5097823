//! The Kubernetes shell around the pure core: watches VRGs, the Recipes they reference, and our
//! Velero objects (mapped back to their VRG by labels, since they live in Velero's namespace),
//! and reconciles each VRG. See `reconcile` for what one reconcile does.

mod act;
mod cache;
mod check;
mod cleanup;
mod context;
mod discovery;
mod drive;
mod error;
mod events;
pub mod exec;
mod finalizer;
pub mod hooks;
mod in_flight;
mod job;
mod observe;
mod recipes;
mod reconcile;
mod recorder;
mod rotation;
mod scale;
mod signatures;
pub mod status;
pub mod storage;

use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::api::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};

pub use act::lifecycle_vrg;
pub use context::Context;
pub use error::Error;
pub use finalizer::FINALIZER;
pub use observe::captures;
pub use recipes::recipe_documents;
pub use reconcile::CAPTURE_NOW;

use crate::api::{Recipe, VolumeReplicationGroup};
pub use crate::lifecycle::DeletePolicy as OnDelete;
use crate::recipe::Settings;

/// The VRG a Velero object of ours belongs to, from its labels and annotations.
fn owner<K: Resource>(object: &K) -> Option<ObjectRef<VolumeReplicationGroup>> {
    let meta = object.meta();
    let empty = Default::default();
    let (ns, name) = crate::velero::names::owner_from(
        meta.labels.as_ref().unwrap_or(&empty),
        meta.annotations.as_ref().unwrap_or(&empty),
    )?;
    Some(ObjectRef::new(&name).within(&ns))
}

/// Reconciles running at once. The API server is the bottleneck long before this (BENCHMARKS.md):
/// more only queues requests there, and each request in flight holds an HTTP/TLS connection of
/// its own (about 100 KiB), so unbounded concurrency cost 160 MiB at 1,000 VRGs.
const CONCURRENCY: u16 = 16;

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub settings: Settings,
    /// Where Velero runs and our Velero objects live.
    pub velero_namespace: String,
    /// Reconcile only the VRGs of this namespace (default: every namespace).
    pub watch_namespace: Option<String>,
    pub on_delete: OnDelete,
    /// This cluster's identity, recorded on every capture it writes (`None`: the uid of the
    /// `kube-system` namespace, which is stable for the life of a cluster).
    pub cluster_id: Option<String>,
    /// Where reconciles, runs and steps are counted; also carries readiness.
    pub metrics: Arc<crate::telemetry::Metrics>,
}

/// The id of the cluster `client` talks to: the uid of its `kube-system` namespace.
pub async fn cluster_id(client: &kube::Client) -> Result<String, Error> {
    let ns = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .get("kube-system")
        .await
        .map_err(|e| Error::ClusterId(format!("reading namespace kube-system: {e}")))?;
    ns.metadata
        .uid
        .ok_or_else(|| Error::ClusterId("namespace kube-system has no uid".into()))
}

/// Runs the controller until SIGINT/SIGTERM.
pub async fn run(client: kube::Client, options: Options) -> Result<(), Error> {
    let Options {
        settings,
        velero_namespace,
        watch_namespace,
        on_delete,
        cluster_id,
        metrics,
    } = options;
    let cluster = match cluster_id {
        Some(id) => id,
        None => self::cluster_id(&client).await?,
    };
    tracing::info!(cluster = %cluster, "captures written here record this cluster id");
    // Wakes besides the VRG watch: a changed Backup or Restore (once the cache holds the change)
    // and a finished hook task.
    let (changes, velero_wakes) = tokio::sync::mpsc::unbounded_channel();
    let velero = cache::VeleroCache::start(&client, &velero_namespace, changes).await;
    let (runner, hook_wakes) = exec::ExecRunner::new(client.clone(), metrics.hook_tasks.clone());
    let wakes = futures::stream::select(receive(velero_wakes), receive(hook_wakes));
    let site = context::Site {
        velero_namespace: velero_namespace.clone(),
        velero,
        cluster: crate::velero::names::label_value(&cluster),
    };
    let ctx = Arc::new(Context::new(
        client.clone(),
        settings,
        site,
        Arc::new(exec::SharedExecRunner(runner)),
        on_delete,
        metrics.clone(),
    ));
    let vrg_api = match &watch_namespace {
        Some(ns) => Api::<VolumeReplicationGroup>::namespaced(client.clone(), ns),
        None => Api::<VolumeReplicationGroup>::all(client.clone()),
    };
    let (vrgs, writer) = reflector::store();
    let trigger = reflector::reflector(
        writer,
        watcher::watcher(vrg_api, watcher::Config::default()).modify(cache::forget_managed_fields),
    )
    .applied_objects();
    let controller = Controller::for_stream(trigger, vrgs.clone())
        .with_config(kube::runtime::controller::Config::default().concurrency(CONCURRENCY));
    metrics.set_ready();
    controller
        // A Recipe change re-queues every VRG that references it. Its metadata is all the
        // mapping needs, and a metadata watch never fails to decode a Recipe (one without a
        // spec, say): the Recipe itself is read as a document when a VRG is reconciled.
        .watches(
            Api::<PartialObjectMeta<Recipe>>::all(client),
            watcher::Config::default(),
            move |recipe| {
                let (ns, name) = (recipe.namespace().unwrap_or_default(), recipe.name_any());
                vrgs.state()
                    .iter()
                    .filter(|vrg| {
                        let reference = vrg
                            .spec
                            .kube_object_protection
                            .as_ref()
                            .and_then(|k| k.recipe_ref.as_ref());
                        reference.is_some_and(|r| {
                            r.name == name
                                && r.namespace
                                    .as_deref()
                                    .filter(|n| !n.is_empty())
                                    .unwrap_or(&vrg.namespace().unwrap_or_default())
                                    == ns
                        })
                    })
                    .map(|vrg| ObjectRef::from_obj(vrg.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .reconcile_on(wakes)
        .shutdown_on_signal()
        .run(reconcile::reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((vrg, _)) => tracing::debug!(vrg = %vrg, "reconciled"),
                Err(e) => tracing::warn!(error = %e, "reconcile failed"),
            }
        })
        .await;
    Ok(())
}

/// A channel's messages as a stream.
fn receive<T>(rx: tokio::sync::mpsc::UnboundedReceiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) })
}

/// Retries a failed VRG with exponential backoff of its own.
fn error_policy(vrg: Arc<VolumeReplicationGroup>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = format!("{}/{}", vrg.namespace().unwrap_or_default(), vrg.name_any());
    let delay = ctx.backoff(&key);
    ctx.metrics
        .reconcile_errors
        .get_or_create(&crate::telemetry::metrics_labels::error(error.kind()))
        .inc();
    tracing::warn!(vrg = %key, kind = error.kind(), error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}
