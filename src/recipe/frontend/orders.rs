//! The seed's first form: `captureOrder` (backup groups with `pre`/`post` hooks) and
//! `recoverOrder` (restore groups with `exec` and `initContainers` hooks).

use serde_json::Value;

use super::hooks::{check_unique, config_op};
use crate::recipe::labels::selector;
use crate::recipe::model::{
    FailOn, Group, Hook, HookKind, Recipe, SelectResource, StepRef, StepTarget, Workflow,
};
use crate::recipe::names::{check_dns_label, is_resource_type};
use crate::recipe::problem::{Problems, index};
use crate::recipe::reader::{Obj, string_list};

const GROUP_KEYS: &[&str] = &[
    "name",
    "includedResources",
    "excludedResources",
    "labelSelector",
    "orLabelSelectors",
    "includeClusterResources",
    "hooks",
];
const CAPTURE_HOOK_KEYS: &[&str] = &["name", "type", "container", "labelSelector", "pre", "post"];
const RECOVER_HOOK_KEYS: &[&str] = &[
    "name",
    "type",
    "container",
    "labelSelector",
    "exec",
    "initContainers",
];

/// Builds a recipe from `captureOrder` and `recoverOrder` (either may be absent).
pub fn recipe(
    capture: &[(Value, String)],
    recover: &[(Value, String)],
    p: &mut Problems,
) -> Recipe {
    let mut recipe = Recipe::default();
    let mut backup = Workflow {
        name: "backup".into(),
        path: String::new(),
        fail_on: FailOn::AnyError,
        steps: vec![],
    };
    let mut restore = Workflow {
        name: "restore".into(),
        path: String::new(),
        fail_on: FailOn::AnyError,
        steps: vec![],
    };
    for (i, (value, path)) in capture.iter().enumerate() {
        entry(
            value,
            path,
            &format!("capture-{i}"),
            Side::Capture,
            &mut recipe,
            &mut backup,
            p,
        );
    }
    let capture_names: Vec<String> = recipe.groups.iter().map(|g| g.name.clone()).collect();
    for (i, (value, path)) in recover.iter().enumerate() {
        if let Some(group) = entry(
            value,
            path,
            &format!("recover-{i}"),
            Side::Recover,
            &mut recipe,
            &mut restore,
            p,
        ) {
            let obj_path = path.clone();
            match (&recipe.groups[group].backup_ref, capture_names.as_slice()) {
                (Some(_), _) => {}
                (None, [only]) => recipe.groups[group].backup_ref = Some(only.clone()),
                (None, _) => p.add(
                    obj_path,
                    "missing \"backupName\": name the captureOrder entry to restore from",
                ),
            }
        }
    }
    check_unique(
        recipe.groups.iter().map(|g| g.name.as_str()),
        "spec.kubeObjectProtection",
        p,
    );
    check_unique(
        recipe.hooks.iter().map(|h| h.name.as_str()),
        "spec.kubeObjectProtection (hook names)",
        p,
    );
    if !capture.is_empty() {
        recipe.workflows.push(backup);
    }
    if !recover.is_empty() {
        recipe.workflows.push(restore);
    }
    recipe
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Capture,
    Recover,
}

/// Reads one entry into a group and its hooks, appending steps; returns the group's index.
fn entry(
    value: &Value,
    path: &str,
    default_name: &str,
    side: Side,
    recipe: &mut Recipe,
    workflow: &mut Workflow,
    p: &mut Problems,
) -> Option<usize> {
    let keys: Vec<&str> = match side {
        Side::Capture => GROUP_KEYS.to_vec(),
        Side::Recover => GROUP_KEYS.iter().chain(&["backupName"]).copied().collect(),
    };
    let obj = Obj::new(value, path, &keys, p)?;
    let name = obj
        .string("name", p)
        .unwrap_or_else(|| default_name.to_owned());
    check_dns_label(&name, "group name", &obj.path_of("name"), p);
    let resources = |key: &str, p: &mut Problems| {
        let list = obj
            .get(key)
            .map(|v| string_list(v, &obj.path_of(key), p))
            .unwrap_or_default();
        for (i, t) in list.iter().enumerate() {
            if !is_resource_type(t) {
                p.add(
                    index(&obj.path_of(key), i),
                    format!("\"{t}\" is not a resource type"),
                );
            }
        }
        list
    };
    let group = Group {
        name: name.clone(),
        path: path.to_owned(),
        backup_ref: obj.string("backupName", p),
        backup_ref_path: obj.path_of("backupName"),
        included_resources: resources("includedResources", p),
        included_resources_path: obj.path_of("includedResources"),
        excluded_resources: resources("excludedResources", p),
        label_selector: obj
            .get("labelSelector")
            .and_then(|v| selector(v, &obj.path_of("labelSelector"), p)),
        or_label_selectors: obj
            .list("orLabelSelectors", p)
            .into_iter()
            .filter_map(|(v, path)| selector(v, &path, p))
            .collect(),
        include_cluster_resources: obj.bool("includeClusterResources", p),
        include_cluster_resources_path: obj.path_of("includeClusterResources"),
        essential: true,
        ..Group::default()
    };
    let mut before = vec![];
    let mut after = vec![];
    for (hook_value, hook_path) in obj.list("hooks", p) {
        let hook_keys = if side == Side::Capture {
            CAPTURE_HOOK_KEYS
        } else {
            RECOVER_HOOK_KEYS
        };
        let Some(h) = Obj::new(hook_value, &hook_path, hook_keys, p) else {
            continue;
        };
        let Some(hook_name) = h.required_string("name", p) else {
            continue;
        };
        check_dns_label(&hook_name, "hook name", &h.path_of("name"), p);
        if let Some(t) = h.string("type", p).filter(|t| t != "exec") {
            p.add(
                h.path_of("type"),
                format!(
                    "hooks in {} are exec hooks; \"{t}\" is not supported here",
                    if side == Side::Capture {
                        "captureOrder"
                    } else {
                        "recoverOrder"
                    }
                ),
            );
        }
        let container = h.string("container", p);
        let mut hook = Hook {
            name: hook_name.clone(),
            path: hook_path.clone(),
            namespace: None,
            select_resource: SelectResource::Pod,
            label_selector: h
                .get("labelSelector")
                .and_then(|v| selector(v, &h.path_of("labelSelector"), p)),
            name_selector: None,
            single_pod_only: false,
            on_error: None,
            timeout: None,
            essential: true,
            skip_if_not_present: false,
            kind: HookKind::Exec(vec![]),
            init_containers: vec![],
        };
        let mut ops = vec![];
        let phases: &[&str] = if side == Side::Capture {
            &["pre", "post"]
        } else {
            &["exec"]
        };
        for phase in phases {
            let Some(spec) = h.get(phase) else { continue };
            let Some(mut op) = config_op(spec, &h.path_of(phase), phase, p) else {
                continue;
            };
            op.container = op.container.or_else(|| container.clone());
            let step = StepRef {
                path: h.path_of(phase),
                target: StepTarget::Hook {
                    hook: hook_name.clone(),
                    op: Some((*phase).to_owned()),
                },
            };
            if *phase == "pre" {
                before.push(step)
            } else {
                after.push(step)
            }
            ops.push(op);
        }
        if side == Side::Recover {
            hook.init_containers = h
                .get("initContainers")
                .map(|v| init_container_list(v, &h.path_of("initContainers"), p))
                .unwrap_or_default();
            if !hook.init_containers.is_empty() && ops.is_empty() {
                // Init containers ride on the Restore of this entry's group; the step attaches them.
                after.push(StepRef {
                    path: hook_path.clone(),
                    target: StepTarget::Hook {
                        hook: hook_name.clone(),
                        op: None,
                    },
                });
            }
        }
        if ops.is_empty() && hook.init_containers.is_empty() {
            let expected = if side == Side::Capture {
                "\"pre\" or \"post\""
            } else {
                "\"exec\" or \"initContainers\""
            };
            p.add(
                &hook_path,
                format!("the hook does nothing: give it {expected}"),
            );
        }
        if hook.label_selector.is_none() && ops.iter().any(|o| o.container.is_none()) {
            p.add(
                &hook_path,
                "an exec hook needs a labelSelector, or a container",
            );
        }
        hook.kind = HookKind::Exec(ops);
        recipe.hooks.push(hook);
    }
    workflow.steps.extend(before);
    workflow.steps.push(StepRef {
        path: path.to_owned(),
        target: StepTarget::Group(name),
    });
    workflow.steps.extend(after);
    recipe.groups.push(group);
    Some(recipe.groups.len() - 1)
}

fn init_container_list(value: &Value, path: &str, p: &mut Problems) -> Vec<Value> {
    let Value::Array(items) = value else {
        p.add(path, "expected a list of containers");
        return vec![];
    };
    items
        .iter()
        .enumerate()
        .filter(|(i, item)| {
            let ok = item.get("name").is_some_and(Value::is_string)
                && item.get("image").is_some_and(Value::is_string);
            if !ok {
                p.add(
                    index(path, *i),
                    "an init container needs a \"name\" and an \"image\"",
                );
            }
            ok
        })
        .map(|(_, item)| item.clone())
        .collect()
}
