//! How Ramen reads a Recipe object where our own rules would refuse it: what it falls back to,
//! what it keeps without acting on. Each reading is said in the recipe's notes.
//!
//! - A volume group (`type: volume`, or `spec.volumes`) selects PVCs for volume replication,
//!   which vrg-operator does not do: kept and scope-checked, and a workflow step naming one is
//!   skipped (Ramen backs a `type: volume` group up like a resource group, or runs an empty step
//!   for `spec.volumes`; neither protects volumes).
//! - A workflow with an empty `sequence` counts as absent (Ramen would wait for its first step
//!   forever): an empty backup gets the default capture, an empty restore restores nothing.
//! - Without a backup workflow, capture is the default capture of the VRG's namespace, as Ramen
//!   does, and restore groups restore from it (Ramen would look for a capture of their own name,
//!   which no capture makes). Without any workflow, recovery is the default recovery too: a
//!   Recipe whose `spec` is null or empty protects the namespace as no recipe would.

use super::DEFAULT_GROUP;
use crate::recipe::model::{FailOn, Group, Recipe, StepRef, StepTarget, Workflow};
use crate::recipe::problem::{Problem, child};

pub(super) fn read_as_ramen(recipe: &mut Recipe, path: &str) {
    note_volume_groups(recipe, path);
    skip_volume_steps(recipe);
    drop_empty_workflows(recipe);
    default_capture(recipe, path);
}

fn note(recipe: &mut Recipe, path: impl Into<String>, message: impl Into<String>) {
    recipe.notes.push(Problem {
        object: None,
        path: path.into(),
        message: message.into(),
    });
}

fn note_volume_groups(recipe: &mut Recipe, path: &str) {
    let volume_groups: Vec<String> = recipe
        .groups
        .iter()
        .filter(|g| g.volume)
        .map(|g| child(&g.path, "type"))
        .collect();
    for at in volume_groups {
        note(
            recipe,
            at,
            "a volume group selects PVCs for volume replication, which vrg-operator does not do: \
             kept, not acted on",
        );
    }
    if recipe.volumes.is_some() {
        note(
            recipe,
            child(path, "volumes"),
            "selects PVCs for volume replication, which vrg-operator does not do: kept, not acted on",
        );
    }
}

/// The names a step may use for a volume group: those of `type: volume`, and `spec.volumes`
/// unless a resource group has its name.
fn volume_group_names(recipe: &Recipe) -> Vec<String> {
    let mut names: Vec<String> = recipe
        .groups
        .iter()
        .filter(|g| g.volume)
        .map(|g| g.name.clone())
        .collect();
    if let Some(v) = recipe
        .volumes
        .as_ref()
        .filter(|v| recipe.group(&v.name).is_none())
    {
        names.push(v.name.clone());
    }
    names
}

fn skip_volume_steps(recipe: &mut Recipe) {
    let volume_groups = volume_group_names(recipe);
    let mut skipped = vec![];
    for workflow in &mut recipe.workflows {
        workflow.steps.retain(|step| match &step.target {
            StepTarget::Group(name) if volume_groups.contains(name) => {
                skipped.push((step.path.clone(), name.clone()));
                false
            }
            _ => true,
        });
    }
    for (at, name) in skipped {
        note(
            recipe,
            at,
            format!(
                "group \"{name}\" is a volume group, which vrg-operator does not act on: the \
                 step is skipped"
            ),
        );
    }
}

fn drop_empty_workflows(recipe: &mut Recipe) {
    let empty: Vec<(String, String)> = recipe
        .workflows
        .iter()
        .filter(|w| w.steps.is_empty())
        .map(|w| (w.path.clone(), w.name.clone()))
        .collect();
    recipe.workflows.retain(|w| !w.steps.is_empty());
    for (at, name) in empty {
        let instead = match name.as_str() {
            "backup" => "the default capture applies",
            "restore" => "it counts as absent, so a recovery restores nothing",
            _ => "it is ignored",
        };
        note(
            recipe,
            child(&at, "sequence"),
            format!("workflow \"{name}\" has no steps: {instead}"),
        );
    }
}

fn default_capture(recipe: &mut Recipe, path: &str) {
    if recipe.workflow("backup").is_some() {
        return;
    }
    let name = if recipe.group(DEFAULT_GROUP).is_some() {
        format!("{DEFAULT_GROUP}-default")
    } else {
        DEFAULT_GROUP.to_owned()
    };
    let at = child(path, "workflows");
    recipe.groups.push(Group {
        name: name.clone(),
        path: at.clone(),
        essential: true,
        ..Group::default()
    });
    let workflow = |workflow: &str| Workflow {
        name: workflow.into(),
        path: at.clone(),
        fail_on: FailOn::AnyError,
        steps: vec![StepRef {
            path: at.clone(),
            target: StepTarget::Group(name.clone()),
        }],
    };
    recipe.workflows.push(workflow("backup"));
    let restores: Vec<String> = recipe
        .workflow("restore")
        .map(|w| {
            w.steps
                .iter()
                .filter_map(|s| match &s.target {
                    StepTarget::Group(g) => Some(g.clone()),
                    StepTarget::Hook { .. } => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if restores.is_empty() {
        if recipe.workflow("restore").is_none() {
            recipe.workflows.push(workflow("restore"));
        }
        note(
            recipe,
            at,
            "no backup or restore workflow: the default capture and recovery of the VRG's \
             namespace apply, as with no recipe",
        );
        return;
    }
    for group in recipe
        .groups
        .iter_mut()
        .filter(|g| g.backup_ref.is_none() && restores.contains(&g.name))
    {
        group.backup_ref = Some(name.clone());
    }
    note(
        recipe,
        at,
        format!(
            "no backup workflow: captures are the default capture of the VRG's namespace (group \
             \"{name}\"), and the restore workflow's groups restore from it"
        ),
    );
}
