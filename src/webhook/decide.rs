//! The verdict on one admission request, without the cluster: the problems `validate` would
//! print deny it, one line each; notes and warnings come back as admission warnings, which
//! kubectl prints. Deletions, status updates, objects being deleted and updates that leave the
//! spec as it was (the operator's own finalizer and annotation patches) are never blocked.

use std::collections::BTreeMap;

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use serde_json::Value;

use crate::recipe::vrg::KOP_PATH;
use crate::recipe::{self, Problem, Settings, Valid};

/// What a request is about.
#[derive(Debug, PartialEq, Eq)]
pub enum Subject {
    /// A VRG to check; `recipe` is the Recipe it references, to be read from the cluster.
    Vrg {
        recipe: Option<(String, String)>,
    },
    Recipe,
    /// Nothing to check (a deletion, a status update, an unchanged spec, another kind).
    Nothing,
}

/// The request's object as a document, with the request's namespace filled in.
fn document(request: &AdmissionRequest<DynamicObject>) -> Option<Value> {
    let mut doc = serde_json::to_value(request.object.as_ref()?).ok()?;
    if doc.pointer("/metadata/namespace").is_none()
        && let (Some(ns), Some(meta)) = (&request.namespace, doc.get_mut("metadata"))
        && let Some(meta) = meta.as_object_mut()
    {
        meta.insert("namespace".into(), ns.clone().into());
    }
    Some(doc)
}

/// What the request needs checked.
pub fn subject(request: &AdmissionRequest<DynamicObject>, settings: &Settings) -> Subject {
    if !matches!(request.operation, Operation::Create | Operation::Update)
        || request.sub_resource.is_some()
    {
        return Subject::Nothing;
    }
    let Some(object) = &request.object else {
        return Subject::Nothing;
    };
    if object.metadata.deletion_timestamp.is_some() {
        return Subject::Nothing;
    }
    let spec = |o: &DynamicObject| o.data.get("spec").cloned();
    if let Some(old) = &request.old_object
        && spec(old) == spec(object)
    {
        return Subject::Nothing;
    }
    let ns = request.namespace.as_deref().unwrap_or_default();
    match request.kind.kind.as_str() {
        "VolumeReplicationGroup" => Subject::Vrg {
            recipe: document(request).and_then(|doc| recipe::referenced_recipe(&doc, ns, settings)),
        },
        "Recipe" => Subject::Recipe,
        _ => Subject::Nothing,
    }
}

/// The response to `request`, whose [`subject`] is `subject` and whose VRG's Recipe (if any) is
/// in `recipes` when it exists.
pub fn decide(
    request: &AdmissionRequest<DynamicObject>,
    subject: &Subject,
    recipes: &BTreeMap<(String, String), Value>,
    settings: &Settings,
) -> AdmissionResponse {
    let response = AdmissionResponse::from(request);
    let Some(doc) = document(request).filter(|_| *subject != Subject::Nothing) else {
        return response;
    };
    let label = recipe::label(&doc);
    let ns = request.namespace.as_deref().unwrap_or_default();
    let (problems, warnings) = match subject {
        Subject::Vrg { .. } => vrg(&doc, ns, recipes, settings, &label),
        Subject::Recipe => {
            let (problems, notes) = recipe::check_recipe_with_notes(&doc);
            (problems, notes_of(&label, &notes))
        }
        Subject::Nothing => return response,
    };
    let response = with_warnings(response, warnings);
    if problems.is_empty() {
        return response;
    }
    let lines: Vec<String> = problems.iter().map(|p| p.line(&label)).collect();
    response.deny(lines.join("\n"))
}

/// A VRG's problems and warnings. A Recipe that does not exist (yet) is a warning, not a denial:
/// GitOps tools apply objects in any order, and the controller waits for it.
fn vrg(
    doc: &Value,
    ns: &str,
    recipes: &BTreeMap<(String, String), Value>,
    settings: &Settings,
    label: &str,
) -> (Vec<Problem>, Vec<String>) {
    match recipe::validate_vrg_offline(doc, ns, recipes, settings) {
        Err(problems) => (problems, vec![]),
        Ok(Valid {
            recipe_not_given,
            notes,
        }) => {
            let mut warnings = notes_of(label, &notes);
            if let Some(recipe) = recipe_not_given {
                warnings.push(format!(
                    "{label}: {KOP_PATH}.recipeRef: {recipe} does not exist yet, so it was not \
                     checked; the VRG waits for it"
                ));
            }
            (vec![], warnings)
        }
    }
}

fn notes_of(label: &str, notes: &[Problem]) -> Vec<String> {
    notes
        .iter()
        .map(|n| format!("note: {}", n.line(label)))
        .collect()
}

fn with_warnings(mut response: AdmissionResponse, warnings: Vec<String>) -> AdmissionResponse {
    if !warnings.is_empty() {
        response.warnings = Some(warnings);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::admission::AdmissionReview;
    use serde_json::json;

    fn request(
        operation: &str,
        object: Value,
        old: Option<Value>,
        sub: Option<&str>,
    ) -> AdmissionRequest<DynamicObject> {
        let review: AdmissionReview<DynamicObject> = serde_json::from_value(json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "u", "operation": operation, "namespace": "app", "name": "app",
                "kind": {"group": "ramendr.openshift.io", "version": "v1alpha1", "kind": "VolumeReplicationGroup"},
                "resource": {"group": "ramendr.openshift.io", "version": "v1alpha1", "resource": "volumereplicationgroups"},
                "subResource": sub,
                "userInfo": {}, "object": object, "oldObject": old,
            }
        }))
        .unwrap();
        review.try_into().unwrap()
    }

    fn check(request: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
        let settings = Settings::default();
        decide(
            request,
            &subject(request, &settings),
            &BTreeMap::new(),
            &settings,
        )
    }

    fn vrg(interval: &str) -> Value {
        json!({
            "apiVersion": "ramendr.openshift.io/v1alpha1", "kind": "VolumeReplicationGroup",
            "metadata": {"name": "app"},
            "spec": {"replicationState": "primary", "s3Profiles": ["east"], "kubeObjectProtection": {"captureInterval": interval}},
        })
    }

    #[test]
    fn an_invalid_vrg_is_denied_with_validates_lines() {
        let response = check(&request("CREATE", vrg("10s"), None, None));
        assert!(!response.allowed);
        assert!(
            response.result.message.starts_with(
                "VolumeReplicationGroup/app: spec.kubeObjectProtection.captureInterval: "
            ),
            "{}",
            response.result.message
        );
        let response = check(&request("CREATE", vrg("5m"), None, None));
        assert!(response.allowed, "{}", response.result.message);
    }

    #[test]
    fn deletions_status_and_metadata_only_updates_are_never_blocked() {
        let bad = vrg("10s");
        let mut annotated = bad.clone();
        annotated["metadata"]["annotations"] = json!({"a": "b"});
        let mut deleting = bad.clone();
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        for (what, req) in [
            (
                "delete",
                request("DELETE", bad.clone(), Some(bad.clone()), None),
            ),
            (
                "status",
                request("UPDATE", bad.clone(), Some(vrg("1m")), Some("status")),
            ),
            (
                "metadata only",
                request("UPDATE", annotated, Some(bad.clone()), None),
            ),
            (
                "being deleted",
                request("UPDATE", deleting, Some(vrg("1m")), None),
            ),
        ] {
            assert!(check(&req).allowed, "{what}");
        }
        let edit = request("UPDATE", bad, Some(vrg("5m")), None);
        assert!(!check(&edit).allowed, "a spec edit is checked");
    }
}
