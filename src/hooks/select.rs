//! Choosing the pods an exec hook runs in (SPEC 6): by `labelSelector` OR `nameSelector`, on pods
//! directly or on the pods of matching Deployments, StatefulSets or DaemonSets (through owner
//! references); only Running pods; one pod per workload with `singlePodOnly`; the op's container,
//! else the pod's first. Pure: the shell lists the objects, this decides.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::ListParams;
use kube::core::{Selector, SelectorExt};

use crate::recipe::model::{NameSelector, SelectResource};
use crate::recipe::plan::Target;

/// A pod and the container to exec into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub pod: String,
    pub container: String,
}

/// A workload (Deployment, StatefulSet, DaemonSet) or ReplicaSet, reduced to what selection needs.
#[derive(Debug, Clone)]
pub struct Owner {
    pub meta: ObjectMeta,
    /// UIDs of the objects that own this one (a ReplicaSet's Deployment).
    pub owned_by: Vec<String>,
}

fn labels(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

fn matches_selector(selector: &LabelSelector, meta: &ObjectMeta) -> bool {
    Selector::try_from(selector.clone()).is_ok_and(|s| s.matches(&labels(meta)))
}

/// Whether `meta` is selected by the target's label or name selector. With neither, everything is.
pub fn selected(target: &Target, meta: &ObjectMeta) -> bool {
    let name = meta.name.as_deref().unwrap_or_default();
    let by_label = target
        .label_selector
        .as_ref()
        .map(|s| matches_selector(s, meta));
    let by_name = target.name_selector.as_ref().map(|n| match n {
        NameSelector::Exact(exact) => exact == name,
        NameSelector::Pattern(regex) => regex.is_match(name),
    });
    match (by_label, by_name) {
        (None, None) => true,
        (l, n) => l.unwrap_or(false) || n.unwrap_or(false),
    }
}

/// What the API server can filter when listing the objects `target` selects directly: its label
/// selector when it selects by labels alone, its name when it selects by an exact name alone
/// (with both, either may match, so neither narrows the list); plus `fields`. Whatever the
/// server returns is still checked with [`selected`].
pub fn list_params(target: &Target, fields: &[&str]) -> ListParams {
    let mut params = ListParams::default();
    let mut fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    match (&target.label_selector, &target.name_selector) {
        (Some(labels), None) => {
            if let Ok(selector) = Selector::try_from(labels.clone()) {
                params = params.labels_from(&selector);
            }
        }
        (None, Some(NameSelector::Exact(name))) => fields.push(format!("metadata.name={name}")),
        _ => {}
    }
    if fields.is_empty() {
        params
    } else {
        params.fields(&fields.join(","))
    }
}

/// The field selector for pods that can run a command.
pub const RUNNING: &str = "status.phase=Running";

fn is_running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        && pod.metadata.deletion_timestamp.is_none()
}

fn owner_uids(meta: &ObjectMeta) -> Vec<String> {
    meta.owner_references
        .iter()
        .flatten()
        .map(|o| o.uid.clone())
        .collect()
}

/// The pods to exec into, in a stable order (by name), each with its container.
///
/// `workloads` are the objects of the target's kind in its namespace; `replica_sets` are the
/// namespace's ReplicaSets (needed for Deployments only).
pub fn choose(
    target: &Target,
    container: Option<&str>,
    single_pod_only: bool,
    pods: &[Pod],
    workloads: &[Owner],
    replica_sets: &[Owner],
) -> Vec<Choice> {
    let running = pods.iter().filter(|p| is_running(p));
    // Each candidate pod with the workload it belongs to (its own name for bare pods).
    let candidates: Vec<(&Pod, String)> = match target.resource {
        SelectResource::Pod => running
            .filter(|p| selected(target, &p.metadata))
            .map(|p| (p, String::new()))
            .collect(),
        SelectResource::Deployment | SelectResource::StatefulSet | SelectResource::DaemonSet => {
            let chosen: BTreeMap<String, String> = workloads
                .iter()
                .filter(|w| selected(target, &w.meta))
                .filter_map(|w| {
                    Some((w.meta.uid.clone()?, w.meta.name.clone().unwrap_or_default()))
                })
                .collect();
            // Deployments own pods through ReplicaSets.
            let via: BTreeMap<String, String> = if target.resource == SelectResource::Deployment {
                replica_sets
                    .iter()
                    .filter_map(|rs| {
                        let workload = rs.owned_by.iter().find_map(|uid| chosen.get(uid))?;
                        Some((rs.meta.uid.clone()?, workload.clone()))
                    })
                    .collect()
            } else {
                chosen
            };
            running
                .filter_map(|p| {
                    owner_uids(&p.metadata)
                        .iter()
                        .find_map(|uid| via.get(uid))
                        .map(|w| (p, w.clone()))
                })
                .collect()
        }
        SelectResource::Custom { .. } => vec![],
    };
    let mut seen_workloads = BTreeSet::new();
    let mut out: Vec<Choice> = candidates
        .into_iter()
        .filter_map(|(pod, workload)| {
            let containers = &pod.spec.as_ref()?.containers;
            let container = match container {
                Some(c) => containers.iter().find(|x| x.name == c)?.name.clone(),
                None => containers.first()?.name.clone(),
            };
            Some((
                workload,
                Choice {
                    pod: pod.metadata.name.clone().unwrap_or_default(),
                    container,
                },
            ))
        })
        .filter_map(|(workload, choice)| {
            (!single_pod_only || seen_workloads.insert(workload)).then_some(choice)
        })
        .collect();
    out.sort_by(|a, b| a.pod.cmp(&b.pod));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, labels: serde_json::Value, phase: &str, owner: Option<&str>) -> Pod {
        let owners = owner.map(|uid| json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": uid}])).unwrap_or(json!([]));
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels, "ownerReferences": owners},
            "spec": {"containers": [{"name": "main"}, {"name": "sidecar"}]},
            "status": {"phase": phase},
        }))
        .unwrap()
    }

    fn owner(name: &str, uid: &str, labels: serde_json::Value, owned_by: &[&str]) -> Owner {
        Owner {
            meta: serde_json::from_value(json!({"name": name, "uid": uid, "labels": labels}))
                .unwrap(),
            owned_by: owned_by.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn target(resource: SelectResource, label: Option<&str>, name: Option<NameSelector>) -> Target {
        Target {
            namespace: "app".into(),
            resource,
            label_selector: label.map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                LabelSelector {
                    match_labels: Some([(k.to_owned(), v.to_owned())].into()),
                    match_expressions: None,
                }
            }),
            name_selector: name,
        }
    }

    fn names(choices: &[Choice]) -> Vec<&str> {
        choices.iter().map(|c| c.pod.as_str()).collect()
    }

    #[test]
    fn pods_by_label_or_name_running_only() {
        let pods = [
            pod("db-0", json!({"app": "db"}), "Running", None),
            pod("db-1", json!({"app": "db"}), "Pending", None),
            pod("web-0", json!({"app": "web"}), "Running", None),
        ];
        let by_label = choose(
            &target(SelectResource::Pod, Some("app=db"), None),
            None,
            false,
            &pods,
            &[],
            &[],
        );
        assert_eq!(names(&by_label), ["db-0"]);
        assert_eq!(
            by_label[0].container, "main",
            "the first container by default"
        );
        let by_regex = choose(
            &target(
                SelectResource::Pod,
                None,
                Some(NameSelector::Pattern(
                    regex::Regex::new("^(db|web)-0$").unwrap(),
                )),
            ),
            Some("sidecar"),
            false,
            &pods,
            &[],
            &[],
        );
        assert_eq!(names(&by_regex), ["db-0", "web-0"]);
        assert_eq!(by_regex[0].container, "sidecar");
        let missing_container = choose(
            &target(SelectResource::Pod, Some("app=db"), None),
            Some("nope"),
            false,
            &pods,
            &[],
            &[],
        );
        assert!(missing_container.is_empty());
    }

    #[test]
    fn deployment_pods_through_replica_sets_and_single_pod_only() {
        let pods = [
            pod("web-a", json!({}), "Running", Some("rs-1")),
            pod("web-b", json!({}), "Running", Some("rs-1")),
            pod("other", json!({}), "Running", Some("rs-2")),
        ];
        let deployments = [
            owner("web", "d-1", json!({"tier": "web"}), &[]),
            owner("api", "d-2", json!({}), &[]),
        ];
        let replica_sets = [
            owner("web-rs", "rs-1", json!({}), &["d-1"]),
            owner("api-rs", "rs-2", json!({}), &["d-2"]),
        ];
        let t = target(SelectResource::Deployment, Some("tier=web"), None);
        assert_eq!(
            names(&choose(&t, None, false, &pods, &deployments, &replica_sets)),
            ["web-a", "web-b"]
        );
        assert_eq!(
            choose(&t, None, true, &pods, &deployments, &replica_sets).len(),
            1,
            "one pod per workload"
        );
    }

    #[test]
    fn statefulset_pods_directly() {
        let pods = [
            pod("db-0", json!({}), "Running", Some("ss-1")),
            pod("db-1", json!({}), "Running", Some("ss-1")),
        ];
        let sets = [owner("db", "ss-1", json!({}), &[])];
        let t = target(
            SelectResource::StatefulSet,
            None,
            Some(NameSelector::Exact("db".into())),
        );
        assert_eq!(
            names(&choose(&t, None, false, &pods, &sets, &[])),
            ["db-0", "db-1"]
        );
    }

    #[test]
    fn the_server_filters_by_labels_or_an_exact_name_but_never_narrows_an_either() {
        let by_label = target(SelectResource::Pod, Some("app=db"), None);
        let p = list_params(&by_label, &[RUNNING]);
        assert_eq!(p.label_selector.as_deref(), Some("app=db"));
        assert_eq!(p.field_selector.as_deref(), Some("status.phase=Running"));
        let by_name = target(
            SelectResource::Pod,
            None,
            Some(NameSelector::Exact("db-0".into())),
        );
        let p = list_params(&by_name, &[RUNNING]);
        assert_eq!(p.label_selector, None);
        assert_eq!(
            p.field_selector.as_deref(),
            Some("status.phase=Running,metadata.name=db-0")
        );
        let either = target(
            SelectResource::Deployment,
            Some("app=db"),
            Some(NameSelector::Exact("db".into())),
        );
        let p = list_params(&either, &[]);
        assert_eq!((p.label_selector, p.field_selector), (None, None));
        let pattern = regex::Regex::new("^db-").unwrap();
        let p = list_params(
            &target(
                SelectResource::Pod,
                None,
                Some(NameSelector::Pattern(pattern)),
            ),
            &[],
        );
        assert_eq!((p.label_selector, p.field_selector), (None, None));
    }
}
