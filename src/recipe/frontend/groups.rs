//! Groups, as a Recipe object or the seed's inline recipe writes them.

use serde_json::Value;

use super::Dialect;
use crate::recipe::labels::{selector, structured_selector};
use crate::recipe::model::Group;
use crate::recipe::names::{check_dns_label, is_resource_type};
use crate::recipe::problem::{Problems, index};
use crate::recipe::reader::{Obj, string_list};

const RECIPE_KEYS: &[&str] = &[
    "name",
    "parent",
    "backupRef",
    "type",
    "includedResourceTypes",
    "excludedResourceTypes",
    "labelSelector",
    "orLabelSelectors",
    "nameSelector",
    "selectResource",
    "includeClusterResources",
    "includedNamespacesByLabel",
    "includedNamespaces",
    "excludedNamespaces",
    "restoreStatus",
    "essential",
    "restoreOverwriteResources",
    "timeout",
];

/// The seed's names for the same fields.
const INLINE_ALIASES: &[&str] = &[
    "includedResources",
    "excludedResources",
    "backupName",
    "isClusterScoped",
];

pub fn group(value: &Value, path: &str, dialect: Dialect, p: &mut Problems) -> Option<Group> {
    let known: Vec<&str> = match dialect {
        Dialect::RecipeObject => RECIPE_KEYS.to_vec(),
        Dialect::Inline => RECIPE_KEYS.iter().chain(INLINE_ALIASES).copied().collect(),
    };
    let obj = Obj::new(value, path, &known, p)?;
    let name = obj.required_string("name", p);
    if let Some(name) = &name {
        check_dns_label(name, "group name", &obj.path_of("name"), p);
    }
    obj.string("parent", p); // informational (Ramen's Application CR), type-checked only
    let volume = match obj.string("type", p).as_deref() {
        None | Some("resource") => false,
        Some("volume") => true,
        Some(other) => {
            let hint = crate::recipe::problem::suggestion(other, ["resource", "volume"]);
            p.add(
                obj.path_of("type"),
                format!(
                    "unknown group type \"{other}\"{hint} (expected \"resource\" or \"volume\")"
                ),
            );
            false
        }
    };
    for key in ["nameSelector", "selectResource"] {
        if obj.has(key) && !volume {
            p.add(
                obj.path_of(key),
                "selects volumes of a volume group; a resource group selects by labelSelector",
            );
        }
    }
    if obj.has("includedNamespacesByLabel") {
        p.add(
            obj.path_of("includedNamespacesByLabel"),
            "not supported: list the namespaces in includedNamespaces, so that what a VRG may touch is explicit",
        );
    }
    let resource_types = |keys: &[&str], p: &mut Problems| -> Vec<String> {
        let Some((value, list_path)) = obj.get_any(keys, p) else {
            return Vec::new();
        };
        let list = string_list(value, &list_path, p);
        for (i, t) in list.iter().enumerate() {
            if !is_resource_type(t) {
                p.add(
                    index(&list_path, i),
                    format!("\"{t}\" is not a resource type (e.g. \"pods\", \"deployments.apps\")"),
                );
            }
        }
        list
    };
    let included_resources = resource_types(&["includedResourceTypes", "includedResources"], p);
    let excluded_resources = resource_types(&["excludedResourceTypes", "excludedResources"], p);
    let selector = match dialect {
        Dialect::RecipeObject => structured_selector,
        Dialect::Inline => selector,
    };
    let label_selector = obj
        .get("labelSelector")
        .and_then(|v| selector(v, &obj.path_of("labelSelector"), p));
    let or_label_selectors = obj
        .list("orLabelSelectors", p)
        .into_iter()
        .filter_map(|(v, path)| selector(v, &path, p))
        .collect();
    let (mut restore_status_included, mut restore_status_excluded) = (vec![], vec![]);
    if let Some(rs) = obj.get("restoreStatus") {
        let path = obj.path_of("restoreStatus");
        if let Some(rs) = Obj::new(rs, &path, &["includedResources", "excludedResources"], p) {
            restore_status_included = rs.string_list_any(&["includedResources"], p);
            restore_status_excluded = rs.string_list_any(&["excludedResources"], p);
        }
    }
    let namespaces = |key: &str, p: &mut Problems| -> Vec<String> {
        let list = obj.string_list_any(&[key], p);
        for (i, ns) in list.iter().enumerate() {
            check_dns_label(ns, "namespace", &index(&obj.path_of(key), i), p);
        }
        list
    };
    let name = name?;
    // A group that names itself restores its own capture, as one without backupRef does (Ramen's
    // e2e recipes and its VM recipe write it so).
    let backup_ref = obj
        .string_any(&["backupRef", "backupName"], p)
        .filter(|r| *r != name);
    Some(Group {
        name,
        path: path.to_owned(),
        backup_ref,
        volume,
        backup_ref_path: obj.path_of(if obj.has("backupName") {
            "backupName"
        } else {
            "backupRef"
        }),
        included_namespaces: namespaces("includedNamespaces", p),
        excluded_namespaces: namespaces("excludedNamespaces", p),
        included_resources,
        included_resources_path: obj.path_of(if obj.has("includedResources") {
            "includedResources"
        } else {
            "includedResourceTypes"
        }),
        excluded_resources,
        label_selector,
        or_label_selectors,
        include_cluster_resources: obj.bool_any(&["includeClusterResources", "isClusterScoped"], p),
        include_cluster_resources_path: obj.path_of(if obj.has("isClusterScoped") {
            "isClusterScoped"
        } else {
            "includeClusterResources"
        }),
        restore_status_included,
        restore_status_excluded,
        // Unset is not essential, as Ramen's code reads it (`Essential != nil && *Essential`),
        // whatever its API's comment says.
        essential: obj.bool("essential", p).unwrap_or(false),
        restore_overwrite: obj.bool("restoreOverwriteResources", p).unwrap_or(false),
        timeout: obj.timeout("timeout", p),
    })
}
