//! Rules about the recipe as a whole: which workflows exist, what each contains, and where
//! each restore group's capture comes from.

use super::model::{Recipe, StepTarget, Workflow};
use super::problem::{Problems, suggestion};

/// The workflows the operator runs; any other name would silently never run.
pub const WORKFLOWS: [&str; 2] = ["backup", "restore"];

pub fn check(recipe: &Recipe, path: &str, p: &mut Problems) {
    if recipe.workflows.is_empty() {
        p.add(
            path,
            "no workflows: a recipe needs a \"backup\" and/or a \"restore\" workflow",
        );
    }
    for workflow in &recipe.workflows {
        if !WORKFLOWS.contains(&workflow.name.as_str()) {
            let hint = suggestion(&workflow.name, WORKFLOWS);
            p.add(
                format!("{}.name", workflow.path),
                format!(
                    "workflow \"{}\" is never run{hint}: only \"backup\" and \"restore\" are",
                    workflow.name
                ),
            );
        }
        if !workflow
            .steps
            .iter()
            .any(|s| matches!(s.target, StepTarget::Group(_)))
        {
            p.add(
                &workflow.path,
                format!(
                    "workflow \"{}\" has no group step, so it captures or restores nothing",
                    workflow.name
                ),
            );
        }
    }
    for workflow in &recipe.workflows {
        check_groups_run_once(workflow, p);
    }
    for group in &recipe.groups {
        if group.label_selector.is_some() && !group.or_label_selectors.is_empty() {
            p.add(
                format!("{}.orLabelSelectors", group.path),
                "Velero refuses a labelSelector together with orLabelSelectors (FailedValidation): use one of them",
            );
        }
    }
    let backup = recipe.workflow("backup");
    if let Some(backup) = backup {
        for name in group_steps(backup) {
            if let Some(group) = recipe.group(name).filter(|g| g.backup_ref.is_some()) {
                p.add(
                    &group.backup_ref_path,
                    format!("group \"{name}\" restores from another group's capture, so the backup workflow cannot capture it"),
                );
            }
        }
    }
    if let Some(restore) = recipe.workflow("restore") {
        let captured: Vec<&str> = backup.map(group_steps).unwrap_or_default();
        for name in group_steps(restore) {
            let Some(group) = recipe.group(name) else {
                continue;
            };
            let source = group.backup_ref.as_deref().unwrap_or(name);
            if captured.contains(&source) {
                continue;
            }
            let path = if group.backup_ref.is_some() {
                group.backup_ref_path.clone()
            } else {
                group.path.clone()
            };
            let message = match &group.backup_ref {
                Some(r) if recipe.group(r).is_none() => format!(
                    "no group \"{r}\"{}",
                    suggestion(r, captured.iter().copied())
                ),
                Some(r) => format!(
                    "group \"{r}\" is not a step of the backup workflow, so there is no capture to restore from"
                ),
                None if backup.is_none() => format!(
                    "there is no backup workflow, so group \"{name}\" has no capture to restore from"
                ),
                None => format!(
                    "group \"{name}\" is not captured by the backup workflow; set {} to the group whose capture it restores",
                    group
                        .backup_ref_path
                        .rsplit('.')
                        .next()
                        .unwrap_or("backupRef")
                ),
            };
            p.add(path, message);
        }
    }
}

/// A group's Velero objects are named after the group and capture, so a second step of the same
/// group in one workflow would find the first one's object and do nothing.
fn check_groups_run_once(workflow: &Workflow, p: &mut Problems) {
    let mut first_steps: Vec<(&str, usize)> = vec![];
    for (i, step) in workflow.steps.iter().enumerate() {
        let StepTarget::Group(name) = &step.target else {
            continue;
        };
        match first_steps.iter().find(|(n, _)| n == name) {
            Some((_, first)) => p.add(
                &step.path,
                format!(
                    "group \"{name}\" is already step {} of workflow \"{}\": a group runs once per workflow",
                    first + 1,
                    workflow.name
                ),
            ),
            None => first_steps.push((name, i)),
        }
    }
}

fn group_steps(workflow: &Workflow) -> Vec<&str> {
    workflow
        .steps
        .iter()
        .filter_map(|s| match &s.target {
            StepTarget::Group(name) => Some(name.as_str()),
            StepTarget::Hook { .. } => None,
        })
        .collect()
}
