//! `vrg-operator plan FILE`: the steps a VRG's recipe resolves to.

use std::path::Path;

use super::documents::{self, kind, label};
use super::validate::recipes;
use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE, PlanFormat, Scope, WorkflowArg};
use crate::recipe::{self, Loaded, render};

pub fn run(
    file: &Path,
    vrg_name: Option<&str>,
    workflow: WorkflowArg,
    format: PlanFormat,
    scope: &Scope,
) -> u8 {
    let docs = match documents::read(file) {
        Ok(docs) => docs,
        Err(e @ documents::ReadError::Io { .. }) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
        Err(e) => {
            println!("{e}");
            return EXIT_INVALID;
        }
    };
    let vrgs: Vec<_> = docs
        .iter()
        .filter(|d| kind(&d.value) == Some("VolumeReplicationGroup"))
        .filter(|d| {
            vrg_name.is_none_or(|n| {
                d.value.pointer("/metadata/name").and_then(|v| v.as_str()) == Some(n)
            })
        })
        .collect();
    let vrg = match vrgs.as_slice() {
        [one] => *one,
        [] => {
            eprintln!(
                "error: {}: no VolumeReplicationGroup{}",
                file.display(),
                vrg_name.map(|n| format!(" named {n}")).unwrap_or_default()
            );
            return EXIT_USAGE;
        }
        _ => {
            eprintln!(
                "error: {}: several VolumeReplicationGroups; choose one with --vrg NAME",
                file.display()
            );
            return EXIT_USAGE;
        }
    };
    let name = label(&vrg.value);
    let plan = match recipe::load_vrg(
        &vrg.value,
        &scope.namespace,
        &recipes(&docs, &scope.namespace),
        &scope.settings,
    ) {
        Ok(Loaded::Planned(plan)) => plan,
        Ok(Loaded::Unprotected) => {
            eprintln!("{name}: no spec.kubeObjectProtection: nothing is captured or recovered");
            return EXIT_OK;
        }
        Err(problems) => {
            for p in problems {
                match &p.object {
                    Some(_) => println!("{p}"),
                    None => println!("{name}: {p}"),
                }
            }
            return EXIT_INVALID;
        }
    };
    let (workflow_name, chosen) = match workflow {
        WorkflowArg::Backup => ("backup", &plan.backup),
        WorkflowArg::Restore => ("restore", &plan.restore),
    };
    let Some(chosen) = chosen else {
        eprintln!(
            "{name}: the {} has no {workflow_name} workflow",
            plan.source
        );
        return EXIT_OK;
    };
    let vrg_short = vrg
        .value
        .pointer("/metadata/name")
        .and_then(|v| v.as_str())
        .unwrap_or("vrg");
    match format {
        PlanFormat::Text => print!("{}", render::text(chosen)),
        PlanFormat::Mermaid => print!("{}", render::mermaid(chosen)),
        PlanFormat::Dot => print!("{}", render::dot(chosen)),
        PlanFormat::Yaml => {
            let objects = render::velero_objects(&plan, chosen, vrg_short);
            match serde_saphyr::to_string_multiple(&objects) {
                Ok(yaml) => print!("{yaml}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_USAGE;
                }
            }
        }
    }
    if plan.paused {
        eprintln!("{name}: STOP_RECIPE_RECONCILE is set: workflows are paused");
    }
    EXIT_OK
}
