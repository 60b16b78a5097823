//! `vrg-operator validate FILE...`: every problem of every VRG and Recipe, one per line.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::documents::{self, Document, ReadError, kind, label, namespace};
use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE, Scope};
use crate::recipe::{self, Loaded};

pub fn run(files: &[PathBuf], scope: &Scope) -> u8 {
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
    let recipes = recipes(&docs, &scope.namespace);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for doc in &docs {
        let label = label(&doc.value);
        let problems = match kind(&doc.value) {
            Some("VolumeReplicationGroup") => {
                match recipe::load_vrg(&doc.value, &scope.namespace, &recipes, &scope.settings) {
                    Ok(Loaded::Planned(_) | Loaded::Unprotected) => vec![],
                    Err(problems) => problems,
                }
            }
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
