//! Scale hooks against the cluster: `down` remembers each selected Deployment's or StatefulSet's
//! replicas and scales it to zero, `up` scales it back, `sync` waits for the rollout. The
//! decisions are in `hooks::scale`; this file reads and patches workloads.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::time::Instant;

use super::exec::{Outcome, POLL};
use crate::api::progress::HookResult;
use crate::hooks::scale::{self, ANNOTATION_REPLICAS, Down, Rollout};
use crate::hooks::select;
use crate::recipe::model::SelectResource;
use crate::recipe::plan::{ScaleOp, ScaleStep, Target};

/// What a scale hook needs of a Deployment or StatefulSet.
struct Workload {
    /// `deployment/NAME` or `statefulset/NAME`, as results and status name it.
    target: String,
    name: String,
    annotation: Option<String>,
    rollout: Rollout,
}

fn workload(kind: &str, meta: &kube::api::ObjectMeta, rollout: Rollout) -> Workload {
    let name = meta.name.clone().unwrap_or_default();
    Workload {
        target: format!("{kind}/{name}"),
        annotation: meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_REPLICAS).cloned()),
        rollout: Rollout {
            generation: meta.generation.unwrap_or(0),
            ..rollout
        },
        name,
    }
}

/// What a scale hook reads of a workload kind: its desired replicas, ready replicas and the
/// generation its controller has seen.
trait Scalable:
    kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
{
    const KIND: &'static str;
    fn rollout(&self) -> Rollout;
}

/// A rollout from a workload's fields; the API server defaults unset replicas to 1.
fn rollout(desired: Option<i32>, ready: Option<i32>, observed: Option<i64>) -> Rollout {
    Rollout {
        desired: desired.unwrap_or(1),
        ready: ready.unwrap_or(0),
        observed_generation: observed.unwrap_or(0),
        ..Rollout::default()
    }
}

impl Scalable for Deployment {
    const KIND: &'static str = "deployment";
    fn rollout(&self) -> Rollout {
        let status = self.status.as_ref();
        rollout(
            self.spec.as_ref().and_then(|s| s.replicas),
            status.and_then(|s| s.ready_replicas),
            status.and_then(|s| s.observed_generation),
        )
    }
}

impl Scalable for StatefulSet {
    const KIND: &'static str = "statefulset";
    fn rollout(&self) -> Rollout {
        let status = self.status.as_ref();
        rollout(
            self.spec.as_ref().and_then(|s| s.replicas),
            status.and_then(|s| s.ready_replicas),
            status.and_then(|s| s.observed_generation),
        )
    }
}

async fn list<K: Scalable>(
    client: &kube::Client,
    target: &Target,
) -> Result<Vec<Workload>, kube::Error> {
    let listed = Api::<K>::namespaced(client.clone(), &target.namespace)
        .list(&select::list_params(target, &[]))
        .await?;
    Ok(listed
        .items
        .iter()
        .filter(|w| select::selected(target, w.meta()))
        .map(|w| workload(K::KIND, w.meta(), w.rollout()))
        .collect())
}

/// The workloads `target` selects, from a fresh list.
async fn workloads(client: &kube::Client, target: &Target) -> Result<Vec<Workload>, String> {
    let listed = match target.resource {
        SelectResource::Deployment => list::<Deployment>(client, target).await,
        SelectResource::StatefulSet => list::<StatefulSet>(client, target).await,
        // Validation allows only the two; say so rather than act on something else.
        _ => return Err("a scale hook selects Deployments or StatefulSets".into()),
    };
    listed.map_err(|e| {
        format!(
            "cannot list {} in namespace {}: {e}",
            kind(target),
            target.namespace
        )
    })
}

fn kind(target: &Target) -> &'static str {
    match target.resource {
        SelectResource::StatefulSet => "statefulsets",
        _ => "deployments",
    }
}

async fn patch(
    client: &kube::Client,
    target: &Target,
    name: &str,
    body: serde_json::Value,
) -> Result<(), kube::Error> {
    let params = PatchParams::default();
    let ns = &target.namespace;
    match target.resource {
        SelectResource::StatefulSet => Api::<StatefulSet>::namespaced(client.clone(), ns)
            .patch(name, &params, &Patch::Merge(body))
            .await
            .map(drop),
        _ => Api::<Deployment>::namespaced(client.clone(), ns)
            .patch(name, &params, &Patch::Merge(body))
            .await
            .map(drop),
    }
}

pub(super) async fn scale_step(
    client: &kube::Client,
    step: &ScaleStep,
    deadline: Instant,
) -> Outcome {
    let found = match workloads(client, &step.target).await {
        Ok(found) if found.is_empty() => {
            return (
                false,
                format!(
                    "no {} in namespace {} matches the hook's selector",
                    kind(&step.target),
                    step.target.namespace
                ),
                vec![],
            );
        }
        Ok(found) => found,
        Err(e) => return (false, e, vec![]),
    };
    match step.op {
        ScaleOp::Down | ScaleOp::Up => {
            let mut results = vec![];
            for w in &found {
                results.push(scale_one(client, step, w).await);
            }
            let failed: Vec<String> = results
                .iter()
                .filter(|r| r.replicas.is_none())
                .filter_map(|r| r.message.clone())
                .collect();
            let verb = if step.op == ScaleOp::Down {
                "down"
            } else {
                "up"
            };
            match failed.as_slice() {
                [] => (
                    true,
                    format!("scaled {verb} {} workload(s)", results.len()),
                    results,
                ),
                _ => (false, failed.join("; "), results),
            }
        }
        ScaleOp::Sync => sync(client, step, deadline).await,
    }
}

/// One workload down or up; a result without `replicas` is a failure, said in its message.
async fn scale_one(client: &kube::Client, step: &ScaleStep, w: &Workload) -> HookResult {
    let mut result = HookResult {
        target: w.target.clone(),
        ..HookResult::default()
    };
    let desired = w.rollout.desired;
    let (body, replicas, said) = match step.op {
        ScaleOp::Down => match scale::down(desired, w.annotation.as_deref()) {
            Ok(Down::Scale { remember }) => (
                // One update: the count is on the workload before it is at zero.
                Some(json!({
                    "metadata": {"annotations": {ANNOTATION_REPLICAS: remember.to_string()}},
                    "spec": {"replicas": 0},
                })),
                remember,
                format!("scaled down from {remember} replicas"),
            ),
            Ok(Down::AlreadyDown { remember }) => (
                None,
                remember,
                format!("already at zero; remembering {remember} replicas"),
            ),
            Err(e) => {
                result.message = Some(format!("{}: {e}", w.target));
                return result;
            }
        },
        _ => match scale::up(
            &w.target,
            step.remembered.get(&w.target).copied(),
            w.annotation.as_deref(),
        ) {
            Ok(replicas) => (
                Some(json!({
                    "metadata": {"annotations": {ANNOTATION_REPLICAS: null}},
                    "spec": {"replicas": replicas},
                })),
                replicas,
                format!("scaled up to {replicas} replicas"),
            ),
            Err(e) => {
                result.message = Some(e);
                return result;
            }
        },
    };
    if let Some(body) = body
        && let Err(e) = patch(client, &step.target, &w.name, body).await
    {
        result.message = Some(format!("{}: cannot scale: {e}", w.target));
        return result;
    }
    result.replicas = Some(replicas);
    result.message = Some(said);
    result
}

/// Waits until every selected workload has as many ready replicas as it wants.
async fn sync(client: &kube::Client, step: &ScaleStep, deadline: Instant) -> Outcome {
    loop {
        let found = match workloads(client, &step.target).await {
            Ok(found) => found,
            Err(e) => return (false, e, vec![]),
        };
        let results: Vec<HookResult> = found
            .iter()
            .map(|w| HookResult {
                target: w.target.clone(),
                replicas: Some(w.rollout.desired),
                message: Some(format!(
                    "{} of {} replicas ready",
                    w.rollout.ready, w.rollout.desired
                )),
                ..HookResult::default()
            })
            .collect();
        let waiting: Vec<&Workload> = found.iter().filter(|w| !w.rollout.synced()).collect();
        if waiting.is_empty() {
            return (
                true,
                format!("{} workload(s) have every replica ready", found.len()),
                results,
            );
        }
        if Instant::now() + POLL >= deadline {
            let behind: Vec<String> = waiting
                .iter()
                .map(|w| {
                    format!(
                        "{} has {} of {} replicas ready",
                        w.target, w.rollout.ready, w.rollout.desired
                    )
                })
                .collect();
            return (
                false,
                format!("timed out waiting for the rollout: {}", behind.join("; ")),
                results,
            );
        }
        tokio::time::sleep(POLL).await;
    }
}
