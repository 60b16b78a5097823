//! Conditions (metav1.Condition, with `observedGeneration` and a `lastTransitionTime` that moves
//! only when the status does) and writing VRG status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use super::Error;
use crate::api::VolumeReplicationGroup;
use crate::api::progress::{StepPhase, StepProgress, WorkflowRun};
use crate::api::vrg::VolumeReplicationGroupStatus;
use crate::hooks::budget;

pub const RECIPE_READY: &str = "RecipeReady";
pub const CLUSTER_DATA_PROTECTED: &str = "ClusterDataProtected";
pub const KUBE_OBJECTS_READY: &str = "KubeObjectsReady";
pub const HOOKS_READY: &str = "HooksReady";

/// Sets condition `type_`, keeping its transition time when its status does not change.
pub fn set(
    status: &mut VolumeReplicationGroupStatus,
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
    generation: i64,
    now: Timestamp,
) {
    let value = if ok { "True" } else { "False" };
    let previous = status.conditions.iter().position(|c| c.type_ == type_);
    let transition = match previous.map(|i| &status.conditions[i]) {
        Some(c) if c.status == value => c.last_transition_time.clone(),
        _ => Time(now),
    };
    let condition = Condition {
        type_: type_.to_owned(),
        status: value.to_owned(),
        reason: reason.to_owned(),
        // The API server limits a condition message to 32 KiB.
        message: truncate(message, 32 * 1024 - 16),
        observed_generation: Some(generation),
        last_transition_time: transition,
    };
    match previous {
        Some(i) => status.conditions[i] = condition,
        None => status.conditions.push(condition),
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (truncated)", &s[..end])
}

/// Writes the status when it changed, as a JSON merge patch from the status read to the new
/// one. A merge patch keeps every field it does not name, so a field the new status leaves out
/// is named with `null`: what was cleared here is cleared on the server too.
///
/// The run's per-target results are first fitted to the status budget (`hooks::budget`).
/// Writes `status` as a merge patch against `vrg`'s; returns the VRG's new resourceVersion, or
/// `None` when nothing changed and nothing was written.
pub async fn write(
    api: &Api<VolumeReplicationGroup>,
    vrg: &VolumeReplicationGroup,
    status: &VolumeReplicationGroupStatus,
) -> Result<Option<String>, Error> {
    let mut status = status.clone();
    if let Some(run) = status
        .kube_object_protection
        .as_mut()
        .and_then(|k| k.run.as_mut())
    {
        budget::fit(run, budget::RUN_BUDGET);
    }
    let status = &status;
    if vrg.status.as_ref() == Some(status) {
        return Ok(None);
    }
    let name = vrg.metadata.name.clone().unwrap_or_default();
    let old = serde_json::to_value(&vrg.status)?;
    let new = serde_json::to_value(status)?;
    let diff = merge_patch(&old, &new);
    // Equal on the wire though not in memory (a time kept to the nanosecond here, to the second
    // by the API server): nothing to write. These empty patches were a quarter of status writes.
    if diff.as_object().is_some_and(serde_json::Map::is_empty) {
        return Ok(None);
    }
    let patch = json!({ "status": diff });
    let written = api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(written.metadata.resource_version)
}

/// The RFC 7386 merge patch that turns `old` into `new`: changed and added members as they
/// are, removed members as `null`, objects compared member by member, anything else replaced.
pub fn merge_patch(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = serde_json::Map::new();
            for (key, value) in new {
                match old.get(key) {
                    Some(before) if before == value => {}
                    Some(before) => {
                        patch.insert(key.clone(), merge_patch(before, value));
                    }
                    None => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            for key in old.keys() {
                if !new.contains_key(key) {
                    patch.insert(key.clone(), Value::Null);
                }
            }
            Value::Object(patch)
        }
        _ => new.clone(),
    }
}

/// Removes condition `type_`.
pub fn remove(status: &mut VolumeReplicationGroupStatus, type_: &str) {
    status.conditions.retain(|c| c.type_ != type_);
}

/// `HooksReady` from the hook steps of `run`: true when every hook step that ran succeeded;
/// nothing when the run has no hook step.
pub fn hooks(
    status: &mut VolumeReplicationGroupStatus,
    run: &WorkflowRun,
    generation: i64,
    now: Timestamp,
) {
    let hook_steps: Vec<&StepProgress> = run
        .steps
        .iter()
        .filter(|s| s.name.starts_with("hook "))
        .collect();
    if hook_steps.is_empty() {
        return;
    }
    let failed: Vec<String> = hook_steps
        .iter()
        .filter(|s| s.phase == StepPhase::Failed)
        .map(|s| {
            format!(
                "{} failed: {}",
                s.name,
                s.message.as_deref().unwrap_or("no reason given")
            )
        })
        .collect();
    if !failed.is_empty() {
        set(
            status,
            HOOKS_READY,
            false,
            "HookFailed",
            &format!("{}: {}", run.id, failed.join("; ")),
            generation,
            now,
        );
    } else if hook_steps.iter().all(|s| s.phase == StepPhase::Succeeded) {
        set(
            status,
            HOOKS_READY,
            true,
            "HooksSucceeded",
            &format!("{}: every hook step succeeded", run.id),
            generation,
            now,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::merge_patch;
    use serde_json::json;

    #[test]
    fn a_merge_patch_names_what_was_removed_with_null() {
        let old = json!({"a": 1, "k": {"recoveredGeneration": 3, "run": {"id": "x"}}, "c": [1]});
        let new = json!({"a": 1, "k": {"run": {"id": "y"}}, "c": [2]});
        assert_eq!(
            merge_patch(&old, &new),
            json!({"k": {"recoveredGeneration": null, "run": {"id": "y"}}, "c": [2]})
        );
        assert_eq!(merge_patch(&json!(null), &new), new);
        assert_eq!(merge_patch(&old, &old), json!({}));
    }
}
