//! Check hooks: a condition re-evaluated on every selected object until it holds on all of them,
//! or the step's timeout passes.

use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use tokio::time::Instant;

use super::exec::{Outcome, POLL};
use crate::api::progress::HookResult;
use crate::hooks::{budget, select};
use crate::recipe::model::SelectResource;
use crate::recipe::plan::CheckStep;

/// The API resource a check reads: the workload kinds we know, or `group/version/plural` looked
/// up through discovery (so a misspelt resource is reported as such, with its kind resolved).
async fn api_resource(
    client: &kube::Client,
    resource: &SelectResource,
) -> Result<ApiResource, String> {
    let (group, version, kind, plural) = match resource {
        SelectResource::Pod => ("", "v1", "Pod", "pods"),
        SelectResource::Deployment => ("apps", "v1", "Deployment", "deployments"),
        SelectResource::StatefulSet => ("apps", "v1", "StatefulSet", "statefulsets"),
        SelectResource::DaemonSet => ("apps", "v1", "DaemonSet", "daemonsets"),
        SelectResource::Custom {
            group,
            version,
            plural,
        } => {
            let gv = kube::core::GroupVersion::gv(group, version);
            let api_group = kube::discovery::pinned_group(client, &gv)
                .await
                .map_err(|e| format!("discovery of {}: {e}", gv.api_version()))?;
            return api_group
                .versioned_resources(version)
                .into_iter()
                .map(|(r, _)| r)
                .find(|r| &r.plural == plural)
                .ok_or_else(|| {
                    format!(
                        "the API server serves no resource {plural} in {}",
                        gv.api_version()
                    )
                });
        }
    };
    Ok(ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, kind),
        plural,
    ))
}

/// Re-evaluates the condition on every selected object until it holds on all of them.
pub(super) async fn check_step(
    client: &kube::Client,
    check: &CheckStep,
    deadline: Instant,
) -> Outcome {
    let resource = match api_resource(client, &check.target.resource).await {
        Ok(r) => r,
        Err(e) => return (false, e, vec![]),
    };
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &check.target.namespace, &resource);
    let mut last: String;
    loop {
        match api.list(&select::list_params(&check.target, &[])).await {
            Err(e) => last = format!("cannot list the hook's objects: {e}"),
            Ok(list) => {
                let selected: Vec<&DynamicObject> = list
                    .items
                    .iter()
                    .filter(|o| select::selected(&check.target, &o.metadata))
                    .collect();
                if selected.is_empty() {
                    if check.skip_if_not_present {
                        return (
                            true,
                            "no object matches the hook's selector; skipped (skipHookIfNotPresent)"
                                .into(),
                            vec![],
                        );
                    }
                    last = "no object matches the hook's selector".into();
                } else {
                    let failing: Vec<String> = selected
                        .iter()
                        .filter_map(|o| {
                            let name = o.metadata.name.clone().unwrap_or_default();
                            let value = serde_json::to_value(o).ok()?;
                            match check.condition.evaluate(&value) {
                                Ok(true) => None,
                                Ok(false) => Some(format!("{name}: {} is false", check.condition)),
                                Err(e) => Some(format!("{name}: {e}")),
                            }
                        })
                        .collect();
                    if failing.is_empty() {
                        let results: Vec<HookResult> = selected
                            .iter()
                            .map(|o| HookResult {
                                target: o.metadata.name.clone().unwrap_or_default(),
                                container: None,
                                exit_code: None,
                                stdout: String::new(),
                                stderr: String::new(),
                                message: Some("condition true".into()),
                                replicas: None,
                            })
                            .collect();
                        let (results, note) = budget::keep(results, |_| false);
                        let held =
                            format!("{} holds on {} object(s)", check.condition, selected.len());
                        let message = match note {
                            Some(note) => format!("{held}; {note}"),
                            None => held,
                        };
                        return (true, message, results);
                    }
                    last = listed(&failing);
                }
            }
        }
        if Instant::now() + POLL >= deadline {
            return (false, format!("timed out waiting: {last}"), vec![]);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Objects a check names in its message before it only counts the rest.
const NAMED: usize = 5;

/// `a: ...; b: ...; and 495 more` — a check over many objects keeps its message short.
fn listed(failing: &[String]) -> String {
    let named = failing[..failing.len().min(NAMED)].join("; ");
    match failing.len().saturating_sub(NAMED) {
        0 => named,
        more => format!("{named}; and {more} more"),
    }
}
