//! `vrg-operator validate FILE...`: every problem of every VRG and Recipe, one per line.
//! Offline, a VRG's Recipe that the files do not hold is not checked (a warning); `--cluster`
//! reads it from the cluster.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::documents::{self, Document, ReadError, kind, label, namespace};
use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE, Scope, cluster};
use crate::recipe::vrg::KOP_PATH;
use crate::recipe::{self, Problem};

/// `--strict`, `--cluster`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    pub strict: bool,
    pub cluster: bool,
}

pub fn run(files: &[PathBuf], scope: &Scope, mode: Mode) -> u8 {
    let mut docs = Vec::new();
    let mut lines = Vec::new();
    for file in files {
        match documents::read(file) {
            Ok(mut d) => docs.append(&mut d),
            Err(e @ ReadError::Io { .. }) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
            Err(e @ ReadError::Syntax { .. }) => lines.push(e.to_string()),
        }
    }
    let mut recipes = recipes(&docs, &scope.namespace);
    if mode.cluster {
        match cluster::referenced_recipes(&docs, &recipes, &scope.namespace, &scope.settings) {
            Ok(found) => recipes.extend(found),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let mut warnings = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for doc in &docs {
        let label = label(&doc.value);
        let problems = match kind(&doc.value) {
            Some("VolumeReplicationGroup") => match check_vrg(&doc.value, scope, &recipes, mode) {
                Ok(None) => vec![],
                Ok(Some(recipe)) => {
                    let line = format!(
                        "{label}: {KOP_PATH}.recipeRef: {recipe} was not given, so it was not \
                             checked (give its file too, or use --cluster)"
                    );
                    if mode.strict {
                        lines.push(line);
                    } else {
                        warnings.push(format!("warning: {line}"));
                    }
                    vec![]
                }
                Err(problems) => problems,
            },
            Some("Recipe") => recipe::check_recipe(&doc.value),
            other => {
                let kind = other.map_or("no kind".to_owned(), |k| format!("kind {k}"));
                lines.push(format!(
                    "{}: {label}: {kind} is neither a VolumeReplicationGroup nor a Recipe",
                    doc.file
                ));
                continue;
            }
        };
        *counts
            .entry(kind(&doc.value).unwrap_or_default())
            .or_default() += 1;
        for problem in problems {
            // A Recipe's problems are reported under the Recipe, once, however many VRGs use it.
            let line = match &problem.object {
                Some(object) => format!("{object}: {}: {}", problem.path, problem.message),
                None => format!("{label}: {}: {}", problem.path, problem.message),
            };
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
    }
    for warning in &warnings {
        println!("{warning}");
    }
    if lines.is_empty() {
        let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        println!(
            "valid: {} in {} file(s)",
            if summary.is_empty() {
                "no documents".to_owned()
            } else {
                summary.join(", ")
            },
            files.len()
        );
        EXIT_OK
    } else {
        for line in &lines {
            println!("{line}");
        }
        eprintln!("{} problem(s)", lines.len());
        EXIT_INVALID
    }
}

/// A VRG's problems; `Ok(Some(recipe))` when it is valid but its Recipe was not given (offline
/// only: with the cluster's Recipes, a missing one does not exist).
fn check_vrg(
    doc: &serde_json::Value,
    scope: &Scope,
    recipes: &BTreeMap<(String, String), serde_json::Value>,
    mode: Mode,
) -> Result<Option<String>, Vec<Problem>> {
    if mode.cluster {
        recipe::load_vrg(doc, &scope.namespace, recipes, &scope.settings).map(|_| None)
    } else {
        recipe::validate_vrg_offline(doc, &scope.namespace, recipes, &scope.settings)
    }
}

/// Recipe documents by (namespace, name), for VRGs' `recipeRef`.
pub fn recipes(
    docs: &[Document],
    default_namespace: &str,
) -> BTreeMap<(String, String), serde_json::Value> {
    docs.iter()
        .filter(|d| kind(&d.value) == Some("Recipe"))
        .filter_map(|d| {
            let name = d.value.pointer("/metadata/name")?.as_str()?.to_owned();
            Some((
                (namespace(&d.value, default_namespace).to_owned(), name),
                d.value.clone(),
            ))
        })
        .collect()
}
