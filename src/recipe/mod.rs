//! The recipe model: front-ends, validation with field paths, parameters, and plans.
//!
//! Pure code: documents in (`serde_json::Value`), a [`Plan`] or every [`Problem`] out. The
//! controller and `vrg-operator validate`/`plan` call the same functions, so the CLI reports
//! exactly what the controller puts into a VRG's `RecipeReady` condition.

pub mod builtin;
pub mod cluster_scoped;
pub mod exclusions;
pub mod frontend;
pub mod labels;
pub mod model;
pub mod names;
pub mod params;
pub mod plan;
pub mod problem;
pub mod reader;
pub mod render;
pub mod scope;
pub mod semantic;
pub mod vrg;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use frontend::Dialect;
use model::Recipe;
use params::{Parameters, Undefined, expand, paused};
pub use plan::WorkflowPlan;
pub use problem::{Problem, Problems};
pub use scope::{Scope, Settings};
use vrg::{KOP_PATH, Source};

/// Everything the engine needs to protect one VRG.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub capture_interval: Duration,
    pub s3_profiles: Vec<String>,
    /// `STOP_RECIPE_RECONCILE` is set: no workflow starts.
    pub paused: bool,
    /// Where the recipe came from, for status and `plan` output.
    pub source: String,
    pub backup: Option<WorkflowPlan>,
    pub restore: Option<WorkflowPlan>,
    /// How the recipe was read where its author may not expect it (a volume group kept but not
    /// acted on, a default capture): said in `RecipeReady` and by `validate`.
    pub notes: Vec<Problem>,
}

/// The outcome of loading a valid VRG.
#[derive(Debug, Clone, PartialEq)]
// A short-lived return value, matched at once: boxing the plan would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Loaded {
    /// No `kubeObjectProtection`: nothing to do.
    Unprotected,
    Planned(Plan),
}

/// Finds Recipe objects (as documents) by namespace and name.
pub trait RecipeLookup {
    fn recipe(&self, namespace: &str, name: &str) -> Option<&Value>;
}

impl RecipeLookup for BTreeMap<(String, String), Value> {
    fn recipe(&self, namespace: &str, name: &str) -> Option<&Value> {
        self.get(&(namespace.to_owned(), name.to_owned()))
    }
}

/// `Kind/name` of a document, for the start of each problem line.
pub fn label(doc: &Value) -> String {
    let kind = doc
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("(no kind)");
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("(no name)");
    format!("{kind}/{name}")
}

/// The Recipe (namespace, name) a VRG document would read from the cluster: none when it has no
/// `recipeRef`, references a built-in recipe, or may not make the reference (validation refuses
/// it without reading anything there).
pub fn referenced_recipe(
    doc: &Value,
    default_namespace: &str,
    settings: &Settings,
) -> Option<(String, String)> {
    let reference = doc.pointer("/spec/kubeObjectProtection/recipeRef")?;
    let name = reference.get("name").and_then(Value::as_str)?;
    let vrg_namespace = doc
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or(default_namespace);
    let ns = reference
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or(vrg_namespace);
    (scope::recipe_ref_allowed(&settings.admin_namespaces, vrg_namespace, ns)
        && !builtin::selects(&settings.admin_namespaces, ns, name))
    .then(|| (ns.to_owned(), name.to_owned()))
}

/// What a `recipeRef` that `recipes` lacks means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Absent {
    /// `recipes` are all there are (the cluster's): the Recipe does not exist.
    NotFound,
    /// `recipes` are what was given (files checked offline): the Recipe was not given.
    NotGiven,
}

/// What checking a VRG gave.
// Matched at once by the two entry points: boxing the plan would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Outcome {
    Loaded(Loaded),
    /// Valid as far as it goes; its Recipe (named) was not given, so not checked.
    RecipeNotGiven(String),
    Invalid(Vec<Problem>),
}

/// Validates a VRG document and builds its plan. `default_namespace` applies when the document
/// names none; a `recipeRef` that `recipes` lacks is an error (the Recipe does not exist).
pub fn load_vrg(
    doc: &Value,
    default_namespace: &str,
    recipes: &dyn RecipeLookup,
    settings: &Settings,
) -> Result<Loaded, Vec<Problem>> {
    match check_vrg(doc, default_namespace, recipes, settings, Absent::NotFound) {
        Outcome::Loaded(loaded) => Ok(loaded),
        Outcome::Invalid(problems) => Err(problems),
        // Not produced for `Absent::NotFound`, which reports the Recipe missing instead.
        Outcome::RecipeNotGiven(recipe) => Err(vec![recipe_not_found(&recipe)]),
    }
}

/// The problem of a `recipeRef` whose Recipe (`Recipe NS/NAME`) does not exist.
fn recipe_not_found(recipe: &str) -> Problem {
    Problem {
        object: None,
        path: format!("{KOP_PATH}.recipeRef"),
        message: format!("{recipe} not found"),
    }
}

/// A VRG that [`validate_vrg_offline`] found valid.
#[derive(Debug, Default)]
pub struct Valid {
    /// The Recipe its `recipeRef` names, when the files did not hold it (so it was not checked).
    pub recipe_not_given: Option<String>,
    /// How its recipe was read ([`Plan::notes`]).
    pub notes: Vec<Problem>,
}

/// [`load_vrg`] for manifests checked offline, where `given` holds the Recipes among them: a
/// `recipeRef` to another Recipe is not an error, but said in [`Valid::recipe_not_given`].
pub fn validate_vrg_offline(
    doc: &Value,
    default_namespace: &str,
    given: &dyn RecipeLookup,
    settings: &Settings,
) -> Result<Valid, Vec<Problem>> {
    match check_vrg(doc, default_namespace, given, settings, Absent::NotGiven) {
        Outcome::Loaded(loaded) => Ok(Valid::from(loaded)),
        Outcome::RecipeNotGiven(recipe) => Ok(Valid {
            recipe_not_given: Some(recipe),
            notes: vec![],
        }),
        Outcome::Invalid(problems) => Err(problems),
    }
}

impl From<Loaded> for Valid {
    fn from(loaded: Loaded) -> Self {
        match loaded {
            Loaded::Planned(plan) => Valid {
                recipe_not_given: None,
                notes: plan.notes,
            },
            Loaded::Unprotected => Valid::default(),
        }
    }
}

fn check_vrg(
    doc: &Value,
    default_namespace: &str,
    recipes: &dyn RecipeLookup,
    settings: &Settings,
    absent: Absent,
) -> Outcome {
    let mut p = Problems::default();
    let Some(view) = vrg::read(doc, default_namespace, &mut p) else {
        return Outcome::Invalid(p.into_vec());
    };
    let Some(protection) = &view.protection else {
        return if p.is_empty() {
            Outcome::Loaded(Loaded::Unprotected)
        } else {
            Outcome::Invalid(p.into_vec())
        };
    };
    let mut not_given = None;
    let scope = Scope::new(&view, settings, &mut p);
    let capture_interval = at_least_minimum(doc, protection.capture_interval, settings, &mut p);
    let params = &protection.parameters;
    // Problems in a referenced Recipe are collected apart and attributed to it.
    let mut recipe_problems = Problems::default();
    let (recipe, source, rp) = match &protection.source {
        Source::Default(selector) => (
            Some(frontend::default_recipe(selector.clone())),
            "default recipe".to_owned(),
            &mut p,
        ),
        Source::Inline(body) => {
            let path = format!("{KOP_PATH}.recipe");
            let body = expand(body, params, Undefined::Error, &path, &mut p);
            (
                frontend::recipe_body(&body, &path, Dialect::Inline, &mut p),
                "inline recipe".to_owned(),
                &mut p,
            )
        }
        Source::Orders { capture, recover } => {
            let expanded = |v: &Option<Value>, key: &str, p: &mut Problems| {
                v.as_ref()
                    .map(|v| expand(v, params, Undefined::Error, &format!("{KOP_PATH}.{key}"), p))
            };
            let capture = expanded(capture, "captureOrder", &mut p);
            let recover = expanded(recover, "recoverOrder", &mut p);
            (
                Some(frontend::orders(
                    capture.as_ref(),
                    recover.as_ref(),
                    KOP_PATH,
                    &mut p,
                )),
                "captureOrder/recoverOrder".to_owned(),
                &mut p,
            )
        }
        Source::Ref { namespace, name } => {
            let namespace = if namespace.is_empty() {
                view.namespace.clone()
            } else {
                namespace.clone()
            };
            let source = format!("Recipe {namespace}/{name}");
            let allowed = scope.check_recipe_ref(&namespace, &mut p);
            let built_in =
                allowed && builtin::selects(&settings.admin_namespaces, &namespace, name);
            match allowed.then(|| recipes.recipe(&namespace, name)).flatten() {
                _ if built_in => {
                    // Ramen's VM recipe, never read from the cluster: it protects the VMs of the
                    // VRG's protectedNamespaces.
                    let protected = view.protected_namespaces.clone().unwrap_or_default();
                    if protected.is_empty() {
                        p.add(
                            format!("{KOP_PATH}.recipeRef"),
                            format!("the built-in {name} protects the VMs of the VRG's protectedNamespaces: list at least one"),
                        );
                    }
                    let params = builtin::vm_parameters(params, &protected);
                    let doc = builtin::vm_recipe(&namespace);
                    (
                        recipe_object(&doc, &params, Undefined::Error, &mut recipe_problems),
                        format!("built-in recipe {name}"),
                        &mut recipe_problems,
                    )
                }
                None if !allowed => (None, source, &mut recipe_problems),
                None if absent == Absent::NotGiven => {
                    not_given = Some(source.clone());
                    (None, source, &mut recipe_problems)
                }
                None => {
                    p.push(recipe_not_found(&source));
                    (None, source, &mut recipe_problems)
                }
                Some(doc) => (
                    recipe_object(doc, params, Undefined::Error, &mut recipe_problems),
                    source,
                    &mut recipe_problems,
                ),
            }
        }
    };
    let plan = recipe.map(|recipe| {
        semantic::check(&recipe, "spec", rp);
        scope.check_recipe(&recipe, rp);
        Plan {
            capture_interval,
            s3_profiles: view.s3_profiles.clone(),
            paused: paused(params),
            source,
            backup: plan::workflow(&recipe, "backup", &scope, rp)
                .map(|w| w.sealed(&view.s3_profiles)),
            restore: plan::workflow(&recipe, "restore", &scope, rp)
                .map(|w| w.sealed(&view.s3_profiles)),
            notes: recipe.notes.clone(),
        }
    });
    let plan = plan.map(|mut plan| {
        if let Source::Ref { name, .. } = &protection.source {
            for note in &mut plan.notes {
                note.object = Some(format!("Recipe/{name}"));
            }
        }
        plan
    });
    if let Source::Ref { name, .. } = &protection.source {
        recipe_problems.attribute_to(&format!("Recipe/{name}"));
        p.extend(recipe_problems);
    }
    match (plan, not_given) {
        _ if !p.is_empty() => Outcome::Invalid(p.into_vec()),
        (Some(plan), _) => Outcome::Loaded(Loaded::Planned(plan)),
        (None, Some(recipe)) => Outcome::RecipeNotGiven(recipe),
        (None, None) => Outcome::Invalid(p.into_vec()),
    }
}

/// The VRG's capture interval, refused when it asks for less than the operator's minimum; a
/// VRG that asks nothing gets the default, raised to the minimum.
fn at_least_minimum(
    doc: &Value,
    interval: Duration,
    settings: &Settings,
    p: &mut Problems,
) -> Duration {
    let minimum = settings.min_capture_interval;
    if interval >= minimum {
        return interval;
    }
    if doc["spec"]["kubeObjectProtection"]
        .get("captureInterval")
        .is_some()
    {
        p.add(
            format!("{KOP_PATH}.captureInterval"),
            format!(
                "{} is shorter than the operator's minimum of {} (--min-capture-interval)",
                humantime::format_duration(interval),
                humantime::format_duration(minimum)
            ),
        );
    }
    minimum
}

/// Validates a Recipe document on its own (parameters unknown: each reference is assumed valid).
pub fn check_recipe(doc: &Value) -> Vec<Problem> {
    check_recipe_with_notes(doc).0
}

/// [`check_recipe`], with the recipe's notes (how it was read) beside its problems.
pub fn check_recipe_with_notes(doc: &Value) -> (Vec<Problem>, Vec<Problem>) {
    let mut p = Problems::default();
    let mut notes = vec![];
    if let Some(recipe) = recipe_object(doc, &Parameters::new(), Undefined::Placeholder, &mut p) {
        notes.clone_from(&recipe.notes);
        semantic::check(&recipe, "spec", &mut p);
        let scope = Scope {
            vrg_namespace: String::new(),
            admin: true,
            allowed: vec![],
            cluster_scoped: vec![],
            admin_namespaces: vec![],
            exec_hooks: scope::Allowed::All,
            restore_overwrite: scope::Allowed::All,
        };
        for name in semantic::WORKFLOWS {
            plan::workflow(&recipe, name, &scope, &mut p);
        }
    }
    (p.into_vec(), notes)
}

/// A Recipe object's document into the model.
fn recipe_object(
    doc: &Value,
    params: &Parameters,
    undefined: Undefined,
    p: &mut Problems,
) -> Option<Recipe> {
    let top = reader::Obj::new(
        doc,
        "",
        &["apiVersion", "kind", "metadata", "spec", "status"],
        p,
    )?;
    if let Some(v) = top
        .string("apiVersion", p)
        .filter(|v| v != "ramendr.openshift.io/v1alpha1")
    {
        p.add(
            "apiVersion",
            format!("\"{v}\" is not ramendr.openshift.io/v1alpha1"),
        );
    }
    // Ramen reads a missing or null spec as an empty one: the default capture and recovery.
    let empty = Value::Object(serde_json::Map::new());
    let spec = top.get("spec").filter(|s| !s.is_null()).unwrap_or(&empty);
    let spec = expand(spec, params, undefined, "spec", p);
    frontend::recipe_body(&spec, "spec", Dialect::RecipeObject, p)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod ramen_tests;

#[cfg(test)]
mod proptests;
