//! `vrg-operator plan FILE`: the steps a VRG's recipe resolves to.

use std::path::Path;

use super::documents::{self, Document, kind, label};
use super::validate::recipes;
use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE, PlanFormat, Scope, WorkflowArg};
use crate::recipe::plan::{Action, WorkflowPlan};
use crate::recipe::{self, Loaded, Plan, render};
use crate::velero::{self, ObjectIdentity};

pub fn run(
    file: &Path,
    vrg_name: Option<&str>,
    workflow: WorkflowArg,
    format: PlanFormat,
    velero_namespace: &str,
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
    let source = file.display().to_string();
    run_documents(
        &docs,
        &source,
        vrg_name,
        workflow,
        format,
        velero_namespace,
        scope,
    )
}

/// [`run`] on documents already read (`source` names where they came from, for errors): a file,
/// or the live VRG and its Recipe (`kubectl vrg plan`).
pub fn run_documents(
    docs: &[Document],
    source: &str,
    vrg_name: Option<&str>,
    workflow: WorkflowArg,
    format: PlanFormat,
    velero_namespace: &str,
    scope: &Scope,
) -> u8 {
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
                "error: {source}: no VolumeReplicationGroup{}",
                vrg_name.map(|n| format!(" named {n}")).unwrap_or_default()
            );
            return EXIT_USAGE;
        }
        _ => {
            eprintln!(
                "error: {source}: several VolumeReplicationGroups; choose one with --vrg NAME"
            );
            return EXIT_USAGE;
        }
    };
    let name = label(&vrg.value);
    let plan = match recipe::load_vrg(
        &vrg.value,
        &scope.namespace,
        &recipes(docs, &scope.namespace),
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
            let vrg_namespace = vrg
                .value
                .pointer("/metadata/namespace")
                .and_then(|v| v.as_str())
                .unwrap_or(&scope.namespace);
            let owner = (vrg_namespace, vrg_short);
            let objects = velero_objects(&plan, chosen, owner, velero_namespace);
            println!(
                "# The Velero objects of capture 1 (later captures differ only in the number), in \
                 Velero namespace {velero_namespace}."
            );
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

/// The Velero objects each group step creates, exactly as the controller would for capture 1 (a
/// Restore restores from capture 1's Backup to the first s3 profile).
fn velero_objects(
    plan: &Plan,
    workflow: &WorkflowPlan,
    (vrg_namespace, vrg_name): (&str, &str),
    velero_namespace: &str,
) -> Vec<serde_json::Value> {
    const CAPTURE: i64 = 1;
    let restore_run = format!("restore-{CAPTURE}-g1");
    let mut objects = vec![];
    for step in &workflow.steps {
        match &step.action {
            Action::Backup { group, spec } => {
                for profile in &plan.s3_profiles {
                    let id =
                        ObjectIdentity::backup(vrg_namespace, vrg_name, CAPTURE, group, profile);
                    let backup = velero::spec::backup(spec, &id, profile, velero_namespace);
                    objects.extend(serde_json::to_value(backup).ok());
                }
            }
            Action::Restore {
                group,
                backup_group,
                spec,
            } => {
                let profile = plan
                    .s3_profiles
                    .first()
                    .map(String::as_str)
                    .unwrap_or_default();
                let source =
                    ObjectIdentity::backup(vrg_namespace, vrg_name, CAPTURE, backup_group, profile);
                let id =
                    ObjectIdentity::restore(vrg_namespace, vrg_name, &restore_run, CAPTURE, group);
                let restore = velero::spec::restore(spec, &source.name(), &id, velero_namespace);
                objects.extend(serde_json::to_value(restore).ok());
            }
            Action::Exec(_) | Action::Check(_) | Action::Scale(_) | Action::Job(_) => {}
        }
    }
    objects
}
