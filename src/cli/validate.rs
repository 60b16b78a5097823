//! `vrg-operator validate FILE...`: every problem of every VRG and Recipe, one per line.
//! Offline, a VRG's Recipe that the files do not hold is not checked (a warning); `--cluster`
//! reads it from the cluster. Notes say how a recipe was read where its author may not expect
//! it (a volume group kept but not acted on, a default capture); they never fail validation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::documents::{self, Document, ReadError, kind, label, namespace};
use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE, Scope, cluster};
use crate::recipe::vrg::KOP_PATH;
use crate::recipe::{self, Problem, Valid};

/// `--strict`, `--cluster`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    pub strict: bool,
    pub cluster: bool,
}

/// What validation found, as printed lines, each once (a Recipe's lines are reported under the
/// Recipe however many VRGs use it).
#[derive(Default)]
struct Report {
    problems: Vec<String>,
    warnings: Vec<String>,
    notes: Vec<String>,
}

fn push_once(lines: &mut Vec<String>, line: String) {
    if !lines.contains(&line) {
        lines.push(line);
    }
}

impl Report {
    fn problems(&mut self, label: &str, found: &[Problem]) {
        for p in found {
            push_once(&mut self.problems, p.line(label));
        }
    }

    fn notes(&mut self, label: &str, found: &[Problem]) {
        for n in found {
            push_once(&mut self.notes, format!("note: {}", n.line(label)));
        }
    }
}

pub fn run(files: &[PathBuf], scope: &Scope, mode: Mode) -> u8 {
    let mut docs = Vec::new();
    let mut report = Report::default();
    for file in files {
        match documents::read(file) {
            Ok(mut d) => docs.append(&mut d),
            Err(e @ ReadError::Io { .. }) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
            Err(e @ ReadError::Syntax { .. }) => report.problems.push(e.to_string()),
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
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for doc in &docs {
        let label = label(&doc.value);
        match kind(&doc.value) {
            Some("VolumeReplicationGroup") => match check_vrg(&doc.value, scope, &recipes, mode) {
                Ok(valid) => {
                    report.notes(&label, &valid.notes);
                    if let Some(recipe) = valid.recipe_not_given {
                        let line = format!(
                            "{label}: {KOP_PATH}.recipeRef: {recipe} was not given, so it was not \
                             checked (give its file too, or use --cluster)"
                        );
                        if mode.strict {
                            report.problems.push(line);
                        } else {
                            report.warnings.push(format!("warning: {line}"));
                        }
                    }
                }
                Err(problems) => report.problems(&label, &problems),
            },
            Some("Recipe") => {
                let (problems, notes) = recipe::check_recipe_with_notes(&doc.value);
                report.problems(&label, &problems);
                report.notes(&label, &notes);
            }
            other => {
                let kind = other.map_or("no kind".to_owned(), |k| format!("kind {k}"));
                report.problems.push(format!(
                    "{}: {label}: {kind} is neither a VolumeReplicationGroup nor a Recipe",
                    doc.file
                ));
                continue;
            }
        }
        *counts
            .entry(kind(&doc.value).unwrap_or_default())
            .or_default() += 1;
    }
    for line in report.warnings.iter().chain(&report.notes) {
        println!("{line}");
    }
    if report.problems.is_empty() {
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
        for line in &report.problems {
            println!("{line}");
        }
        eprintln!("{} problem(s)", report.problems.len());
        EXIT_INVALID
    }
}

/// A VRG's problems, or what its validity comes with. With the cluster's Recipes, a missing one
/// does not exist (an error); offline, it was not given.
fn check_vrg(
    doc: &serde_json::Value,
    scope: &Scope,
    recipes: &BTreeMap<(String, String), serde_json::Value>,
    mode: Mode,
) -> Result<Valid, Vec<Problem>> {
    if mode.cluster {
        recipe::load_vrg(doc, &scope.namespace, recipes, &scope.settings).map(Valid::from)
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
