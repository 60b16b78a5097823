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

/// What `serve` read from the cluster for a request.
#[derive(Debug)]
pub struct Found {
    /// A VRG's Recipe, by (namespace, name), when it exists.
    pub recipes: BTreeMap<(String, String), Value>,
    /// For a Recipe: the VRGs of the [`referrer_namespaces`] (those that reference this Recipe
    /// are picked here), or why they could not be listed.
    pub vrgs: Result<Vec<Value>, String>,
}

impl Default for Found {
    fn default() -> Self {
        Found {
            recipes: BTreeMap::new(),
            vrgs: Ok(vec![]),
        }
    }
}

/// The namespaces whose VRGs may reference a Recipe in `namespace`: its own, and when it is an
/// admin namespace, every admin namespace (the tenancy rule of `recipeRef`). Listing these finds
/// every VRG that references the Recipe, with no cluster-wide read.
pub fn referrer_namespaces(namespace: &str, settings: &Settings) -> Vec<String> {
    let mut namespaces = vec![namespace.to_owned()];
    if settings.admin_namespaces.iter().any(|a| a == namespace) {
        namespaces.extend(
            settings
                .admin_namespaces
                .iter()
                .filter(|a| *a != namespace)
                .cloned(),
        );
    }
    namespaces.dedup();
    namespaces
}

/// The response to `request`, whose [`subject`] is `subject`, given what was `found`.
pub fn decide(
    request: &AdmissionRequest<DynamicObject>,
    subject: &Subject,
    found: &Found,
    settings: &Settings,
) -> AdmissionResponse {
    let response = AdmissionResponse::from(request);
    let Some(doc) = document(request).filter(|_| *subject != Subject::Nothing) else {
        return response;
    };
    let label = recipe::label(&doc);
    let ns = request.namespace.as_deref().unwrap_or_default();
    let (lines, warnings) = match subject {
        Subject::Vrg { .. } => {
            let (problems, warnings) = vrg(&doc, ns, &found.recipes, settings, &label);
            (lines_of(&label, &problems), warnings)
        }
        Subject::Recipe => recipe(request, &doc, &found.vrgs, settings, &label),
        Subject::Nothing => return response,
    };
    let response = with_warnings(response, warnings);
    if lines.is_empty() {
        return response;
    }
    response.deny(lines.join("\n"))
}

/// A Recipe's denial lines and warnings: its own problems, as `validate` says them; when it has
/// none, the VRGs it would make invalid. A VRG blocks the change only if it was valid with the
/// Recipe as it was (or, on creation, was waiting for it): a VRG that was invalid already is
/// said in a warning, so that its problems never block an unrelated fix of the Recipe.
fn recipe(
    request: &AdmissionRequest<DynamicObject>,
    doc: &Value,
    vrgs: &Result<Vec<Value>, String>,
    settings: &Settings,
    label: &str,
) -> (Vec<String>, Vec<String>) {
    let (problems, notes) = recipe::check_recipe_with_notes(doc);
    let mut warnings = notes_of(label, &notes);
    if !problems.is_empty() {
        return (lines_of(label, &problems), warnings);
    }
    let vrgs = match vrgs {
        Ok(vrgs) => vrgs,
        Err(why) => {
            warnings.push(format!(
                "{label}: the VolumeReplicationGroups that use it could not be listed ({why}), \
                 so this change was not checked against them"
            ));
            return (vec![], warnings);
        }
    };
    let ns = request.namespace.as_deref().unwrap_or_default();
    let Some(name) = doc.pointer("/metadata/name").and_then(Value::as_str) else {
        return (vec![], warnings);
    };
    let key = (ns.to_owned(), name.to_owned());
    let old = request
        .old_object
        .as_ref()
        .and_then(|o| serde_json::to_value(o).ok())
        .map(|mut old| {
            old["metadata"]["namespace"] = ns.into();
            old
        });
    let with = |recipe: Option<&Value>| -> BTreeMap<(String, String), Value> {
        recipe
            .map(|r| (key.clone(), r.clone()))
            .into_iter()
            .collect()
    };
    let (new_recipes, old_recipes) = (with(Some(doc)), with(old.as_ref()));
    let mut broken = vec![];
    for vrg in vrgs {
        let vrg_ns = vrg
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if vrg.pointer("/metadata/deletionTimestamp").is_some()
            || recipe::referenced_recipe(vrg, vrg_ns, settings).as_ref() != Some(&key)
        {
            continue;
        }
        let Err(after) = recipe::validate_vrg_offline(vrg, vrg_ns, &new_recipes, settings) else {
            continue;
        };
        let vrg_label = recipe::label(vrg);
        let lines = lines_of(&vrg_label, &after);
        let vrg_name = vrg
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if recipe::validate_vrg_offline(vrg, vrg_ns, &old_recipes, settings).is_ok() {
            broken.push(format!(
                "VolumeReplicationGroup {vrg_ns}/{vrg_name} would become invalid:"
            ));
            broken.extend(lines.iter().map(|l| format!("  {l}")));
        } else {
            warnings.push(format!(
                "VolumeReplicationGroup {vrg_ns}/{vrg_name} uses {label} and is invalid, as it \
                 was before this change: {}",
                lines.join("; ")
            ));
        }
    }
    if !broken.is_empty() {
        broken.insert(
            0,
            format!(
                "{label}: this change would make VolumeReplicationGroups that use it invalid \
                 (change the Recipe, or first the VRGs):"
            ),
        );
    }
    (broken, warnings)
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

fn lines_of(label: &str, problems: &[Problem]) -> Vec<String> {
    problems.iter().map(|p| p.line(label)).collect()
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
            &Found::default(),
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

    fn recipe_request(
        operation: &str,
        object: Value,
        old: Option<Value>,
    ) -> AdmissionRequest<DynamicObject> {
        let review: AdmissionReview<DynamicObject> = serde_json::from_value(json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "u", "operation": operation, "namespace": "app", "name": "r",
                "kind": {"group": "ramendr.openshift.io", "version": "v1alpha1", "kind": "Recipe"},
                "resource": {"group": "ramendr.openshift.io", "version": "v1alpha1", "resource": "recipes"},
                "userInfo": {}, "object": object, "oldObject": old,
            }
        }))
        .unwrap();
        review.try_into().unwrap()
    }

    /// A Recipe `r` in `app` whose one group is `group` (extra fields in JSON).
    fn a_recipe(group: Value) -> Value {
        let mut data = json!({"name": "data"});
        data.as_object_mut()
            .unwrap()
            .extend(group.as_object().unwrap().clone());
        json!({
            "apiVersion": "ramendr.openshift.io/v1alpha1", "kind": "Recipe",
            "metadata": {"name": "r", "namespace": "app"},
            "spec": {"groups": [data], "workflows": [{"name": "backup", "sequence": [{"group": "data"}]}]},
        })
    }

    /// A VRG `name` in `ns` using Recipe `recipe` (in its own namespace), with `params`.
    fn user(ns: &str, name: &str, recipe: &str, params: Value) -> Value {
        json!({
            "apiVersion": "ramendr.openshift.io/v1alpha1", "kind": "VolumeReplicationGroup",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicationState": "primary", "s3Profiles": ["east"],
                     "kubeObjectProtection": {"recipeRef": {"name": recipe}, "recipeParameters": params}},
        })
    }

    fn check_recipe(
        request: &AdmissionRequest<DynamicObject>,
        vrgs: Result<Vec<Value>, String>,
    ) -> AdmissionResponse {
        let settings = Settings::default();
        let subject = subject(request, &settings);
        assert_eq!(subject, Subject::Recipe);
        let found = Found {
            vrgs,
            ..Found::default()
        };
        decide(request, &subject, &found, &settings)
    }

    /// The lines `validate` prints for `vrg` with `recipe`.
    fn validates_lines(vrg: &Value, recipe: &Value) -> Vec<String> {
        let recipes: BTreeMap<_, _> = [(("app".to_owned(), "r".to_owned()), recipe.clone())].into();
        let problems = recipe::validate_vrg_offline(vrg, "app", &recipes, &Settings::default())
            .expect_err("invalid");
        lines_of(&recipe::label(vrg), &problems)
    }

    fn warnings(response: &AdmissionResponse) -> String {
        response.warnings.clone().unwrap_or_default().join("\n")
    }

    #[test]
    fn a_recipe_edit_that_breaks_a_vrg_is_denied_naming_it_with_validates_lines() {
        let old = a_recipe(json!({}));
        let fine = user("app", "fine", "r", json!({"APP": ["web"]}));
        let lacking = user("app", "lacking", "r", json!({}));
        // A parameter only one VRG supplies, and a namespace no VRG of "app" may capture.
        for new in [
            a_recipe(json!({"labelSelector": {"matchLabels": {"app": "${APP}"}}})),
            a_recipe(json!({"includedNamespaces": ["kube-system"]})),
        ] {
            let request = recipe_request("UPDATE", new.clone(), Some(old.clone()));
            let response = check_recipe(&request, Ok(vec![fine.clone(), lacking.clone()]));
            assert!(!response.allowed, "{new}");
            let message = &response.result.message;
            assert!(
                message.starts_with("Recipe/r: this change would make VolumeReplicationGroups"),
                "{message}"
            );
            assert!(
                message.contains("VolumeReplicationGroup app/lacking would become invalid:"),
                "{message}"
            );
            for line in validates_lines(&lacking, &new) {
                assert!(
                    message.contains(&format!("\n  {line}")),
                    "{line}: {message}"
                );
            }
            let namespaced = new["spec"]["groups"][0].get("includedNamespaces").is_some();
            assert_eq!(message.contains("app/fine"), namespaced, "{message}");
        }
    }

    #[test]
    fn an_edit_that_keeps_the_vrgs_valid_is_admitted() {
        let old = a_recipe(json!({}));
        let new = a_recipe(json!({"labelSelector": {"matchLabels": {"app": "${APP}"}}}));
        let request = recipe_request("UPDATE", new, Some(old));
        let vrgs = vec![user("app", "fine", "r", json!({"APP": ["web"]}))];
        let response = check_recipe(&request, Ok(vrgs));
        assert!(response.allowed, "{}", response.result.message);
        assert_eq!(response.warnings, None);
    }

    #[test]
    fn only_vrgs_that_use_the_recipe_are_checked() {
        let new = a_recipe(json!({"labelSelector": {"matchLabels": {"app": "${APP}"}}}));
        let request = recipe_request("UPDATE", new, Some(a_recipe(json!({}))));
        let mut deleting = user("app", "deleting", "r", json!({}));
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let others = vec![
            user("app", "other", "other-recipe", json!({})),
            // A Recipe "r" of its own namespace, not this one.
            user("elsewhere", "same-name", "r", json!({})),
            deleting,
            json!({"apiVersion": "ramendr.openshift.io/v1alpha1", "kind": "VolumeReplicationGroup",
                   "metadata": {"name": "unprotected", "namespace": "app"},
                   "spec": {"replicationState": "primary", "s3Profiles": ["east"]}}),
        ];
        let response = check_recipe(&request, Ok(others));
        assert!(response.allowed, "{}", response.result.message);
        assert_eq!(response.warnings, None);
    }

    #[test]
    fn a_vrg_already_invalid_does_not_block_the_recipe_but_is_warned_of() {
        // Both recipes use a parameter the VRG does not supply: the edit changes something else.
        let old = a_recipe(json!({"labelSelector": {"matchLabels": {"app": "${APP}"}}}));
        let new =
            a_recipe(json!({"labelSelector": {"matchLabels": {"app": "${APP}", "tier": "db"}}}));
        let lacking = user("app", "lacking", "r", json!({}));
        let request = recipe_request("UPDATE", new.clone(), Some(old));
        let response = check_recipe(&request, Ok(vec![lacking.clone()]));
        assert!(response.allowed, "{}", response.result.message);
        let warned = warnings(&response);
        assert!(
            warned.starts_with("VolumeReplicationGroup app/lacking uses Recipe/r and is invalid, as it was before this change: "),
            "{warned}"
        );
        for line in validates_lines(&lacking, &new) {
            assert!(warned.contains(&line), "{line}: {warned}");
        }
    }

    #[test]
    fn creating_a_recipe_a_vrg_waits_for_is_checked_against_it() {
        let waiting = user("app", "waiting", "r", json!({}));
        let new = a_recipe(json!({"labelSelector": {"matchLabels": {"app": "${APP}"}}}));
        let response = check_recipe(
            &recipe_request("CREATE", new, None),
            Ok(vec![waiting.clone()]),
        );
        assert!(!response.allowed);
        assert!(
            response
                .result
                .message
                .contains("VolumeReplicationGroup app/waiting would become invalid:"),
            "{}",
            response.result.message
        );
        let response = check_recipe(
            &recipe_request("CREATE", a_recipe(json!({})), None),
            Ok(vec![waiting]),
        );
        assert!(response.allowed, "{}", response.result.message);
    }

    #[test]
    fn a_recipe_is_still_checked_on_its_own_and_a_failed_list_only_warns() {
        let breaking = a_recipe(json!({"includedNamespaces": ["kube-system"]}));
        let vrgs = vec![user("app", "app", "r", json!({}))];
        // Its own problems deny it, with no word of the VRGs.
        let typo = a_recipe(json!({"includedResoures": ["pods"]}));
        let request = recipe_request("UPDATE", typo.clone(), Some(breaking.clone()));
        let response = check_recipe(&request, Ok(vrgs));
        assert!(!response.allowed);
        let own = lines_of(
            "Recipe/r",
            &recipe::check_recipe(&document(&request).unwrap()),
        );
        assert_eq!(response.result.message, own.join("\n"));
        // The VRGs could not be listed: admitted, and said.
        let request = recipe_request("UPDATE", breaking, Some(a_recipe(json!({}))));
        let response = check_recipe(&request, Err("forbidden".into()));
        assert!(response.allowed, "{}", response.result.message);
        assert_eq!(
            warnings(&response),
            "Recipe/r: the VolumeReplicationGroups that use it could not be listed (forbidden), \
             so this change was not checked against them"
        );
        let request = recipe_request("UPDATE", typo, None);
        assert!(!check_recipe(&request, Err("forbidden".into())).allowed);
    }

    #[test]
    fn the_referrer_namespaces_hold_every_vrg_that_may_use_a_recipe() {
        let settings = Settings {
            admin_namespaces: vec!["ops".into(), "dr".into()],
            ..Settings::default()
        };
        let all = ["app", "other", "ops", "dr"];
        for recipe_ns in all {
            let listed = referrer_namespaces(recipe_ns, &settings);
            for vrg_ns in all {
                let mut vrg = user(vrg_ns, "v", "r", json!({}));
                vrg["spec"]["kubeObjectProtection"]["recipeRef"]["namespace"] = recipe_ns.into();
                let uses = recipe::referenced_recipe(&vrg, vrg_ns, &settings)
                    == Some((recipe_ns.to_owned(), "r".to_owned()));
                assert_eq!(
                    uses,
                    listed.iter().any(|n| n == vrg_ns),
                    "{recipe_ns} {vrg_ns}"
                );
            }
        }
    }
}
