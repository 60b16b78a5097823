//! The three recipe front-ends (and the default recipe), normalised into one [`Recipe`].
//!
//! 1. `recipeRef` -> a Recipe object (`spec`, Ramen's field names);
//! 2. the inline `kubeObjectProtection.recipe` (the seed's format: `config`, aliases, string
//!    selectors, `initContainer`);
//! 3. `captureOrder` / `recoverOrder` (the seed's first format);
//! 4. none of them: one group, the protected namespace filtered by `kubeObjectSelector`.

mod groups;
mod hooks;
mod jobs;
mod orders;
mod ramen;
mod spec;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use super::model::{FailOn, Group, Recipe, StepRef, StepTarget, Workflow};
use super::problem::Problems;

pub use hooks::check_unique;

/// Which spelling of the recipe format is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// A Recipe object: Ramen's field names only.
    RecipeObject,
    /// The seed's inline recipe: also `config`, the seed's aliases and `initContainer`.
    Inline,
}

/// A Recipe object's `spec` (or inline recipe body) into the model.
pub fn recipe_body(
    value: &Value,
    path: &str,
    dialect: Dialect,
    p: &mut Problems,
) -> Option<Recipe> {
    spec::recipe(value, path, dialect, p)
}

/// `captureOrder` / `recoverOrder` into the model.
pub fn orders(
    capture: Option<&Value>,
    recover: Option<&Value>,
    path: &str,
    p: &mut Problems,
) -> Recipe {
    let items = |value: Option<&Value>, key: &str, p: &mut Problems| -> Vec<(Value, String)> {
        let path = format!("{path}.{key}");
        match value {
            None => vec![],
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), format!("{path}[{i}]")))
                .collect(),
            Some(other) => {
                p.add(
                    path,
                    format!("expected a list, found {}", super::reader::type_name(other)),
                );
                vec![]
            }
        }
    };
    let capture = items(capture, "captureOrder", p);
    let recover = items(recover, "recoverOrder", p);
    orders::recipe(&capture, &recover, p)
}

/// The recipe of a VRG with none: its protected namespaces, filtered by `kubeObjectSelector`.
pub fn default_recipe(selector: Option<LabelSelector>) -> Recipe {
    let step = |name: &str| StepRef {
        path: "spec.kubeObjectProtection".into(),
        target: StepTarget::Group(name.into()),
    };
    let workflow = |name: &str| Workflow {
        name: name.into(),
        path: "spec.kubeObjectProtection".into(),
        fail_on: FailOn::AnyError,
        steps: vec![step(DEFAULT_GROUP)],
    };
    Recipe {
        groups: vec![Group {
            name: DEFAULT_GROUP.into(),
            path: "spec.kubeObjectProtection".into(),
            label_selector: selector,
            essential: true,
            ..Group::default()
        }],
        workflows: vec![workflow("backup"), workflow("restore")],
        ..Recipe::default()
    }
}

/// Name of the default recipe's one group.
pub const DEFAULT_GROUP: &str = "objects";
