//! `Recipe` (ramendr.openshift.io/v1alpha1), wire-compatible with RamenDR's recipe CRD.
//!
//! These types are the wire format only: strings stay strings here (`type`, `onError`, `failOn`,
//! `command`, `condition`) because the API server must accept what Ramen accepts, including
//! `onError: Continue`. The recipe model (`crate::recipe`) parses them into typed values and reports
//! every problem with its field path.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::schema;

/// Groups of resources, hooks, and the workflows that order them.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "ramendr.openshift.io",
    version = "v1alpha1",
    kind = "Recipe",
    plural = "recipes",
    namespaced,
    status = "RecipeStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "Describes how to capture and recover an application: resource groups, hooks, and the \
           backup and restore workflows that order them.",
    printcolumn(name = "AppType", type_ = "string", json_path = ".spec.appType"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
// Lists of named items are list-maps keyed by `name`, as in Ramen's CRD: the API server itself
// refuses two groups, hooks, workflows, ops or checks of one name.
#[serde(rename_all = "camelCase")]
pub struct RecipeSpec {
    /// Type of application the recipe is written for (informational).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app_type: String,
    /// Resource groups, referenced by workflow steps `group: NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub groups: Vec<Group>,
    /// Ramen: selects the volumes Ramen replicates (kept, not acted on here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Group>,
    /// Hooks, referenced by workflow steps `hook: HOOK/OP`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub hooks: Vec<Hook>,
    /// Job templates for `job` hooks: a list of `{NAME: "<Job as YAML or JSON>"}` maps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::free_form_object_list")]
    pub jobs: Option<Vec<Value>>,
    /// Workflows; `backup` and `restore` are the ones the operator runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub workflows: Vec<Workflow>,
}

/// A set of resources captured by one Velero Backup or recovered by one Velero Restore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    #[schemars(schema_with = "schema::dns_label")]
    pub name: String,
    /// Ramen: parent group in an Application CR (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// For restore groups: the backup group whose capture this group restores from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_ref: Option<String>,
    /// `resource` (default) or `volume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::group_type")]
    pub r#type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_resource_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_resource_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Objects matching any of these selectors are included (Velero `orLabelSelectors`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub or_label_selectors: Option<Vec<LabelSelector>>,
    /// Ramen: volume group name filter (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_selector: Option<String>,
    /// Ramen: volume group selection kind (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_cluster_resources: Option<bool>,
    /// Ramen: namespaces by label (kept; rejected by validation, see the recipe reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_namespaces_by_label: Option<LabelSelector>,
    /// Namespaces to include; empty means the VRG's own namespace, never all namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_namespaces: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_namespaces: Option<Vec<String>>,
    /// Resources whose status Velero restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_status: Option<GroupRestoreStatus>,
    /// A non-essential group may fail without failing the workflow (see `failOn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
    /// Restore over existing objects (Velero `existingResourcePolicy: update`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_overwrite_resources: Option<bool>,
    /// Seconds (`600`) or a duration (`10m`) the group's Velero object may run; default 1h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::int_or_string")]
    pub timeout: Option<IntOrString>,
}

/// `groups[].restoreStatus`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupRestoreStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_resources: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_resources: Option<Vec<String>>,
}

/// An action run in the application's pods (`exec`) or a condition awaited on its objects (`check`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Hook {
    #[schemars(schema_with = "schema::dns_label")]
    pub name: String,
    /// Namespace of the hook's pods or objects; default the VRG's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::optional_dns_label")]
    pub namespace: Option<String>,
    /// `exec`, `check`, `scale` or `job`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::hook_type")]
    pub r#type: Option<String>,
    /// `pod`, `deployment`, `statefulset`, `daemonset`, or for checks `group/version/plural`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Exact object name, or a regular expression when it is not a valid name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_selector: Option<String>,
    /// Run on one pod per workload instead of every selected pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_pod_only: Option<bool>,
    /// `fail` (default) or `continue`, for every op and check of the hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::on_error")]
    pub on_error: Option<String>,
    /// Default timeout of the hook's ops and checks, in seconds or as a duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::int_or_string")]
    pub timeout: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub ops: Vec<Operation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub chks: Vec<Check>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
    /// A `job` hook's Jobs: `name` (a template in `spec.jobs`), `timeout`, `onError`, `inverseOp`,
    /// `forceCreate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::free_form_object_list")]
    pub jobs: Option<Vec<Value>>,
    /// A check hook whose objects do not exist succeeds instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_hook_if_not_present: Option<bool>,
}

/// `hooks[].ops[]`: one command run in each selected pod.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    #[schemars(schema_with = "schema::dns_label")]
    pub name: String,
    /// Container to exec into; default the pod's first container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// A JSON array (`["/bin/sh","-c","..."]`) or words split as a shell would; never run through
    /// a shell unless the command names one.
    #[serde(default)]
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::on_error")]
    pub on_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::int_or_string")]
    pub timeout: Option<IntOrString>,
    /// Op of the same hook run once when this op fails and stops the workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverse_op: Option<String>,
}

/// `hooks[].chks[]`: a condition awaited on every selected object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: String,
    /// e.g. `{$.status.readyReplicas} == {$.spec.replicas}`.
    #[serde(default)]
    pub condition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::on_error")]
    pub on_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::int_or_string")]
    pub timeout: Option<IntOrString>,
}

/// An ordered list of group and hook steps.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    pub name: String,
    /// One-key maps: `group: NAME`, `hook: HOOK/OP` or `hook: HOOK`.
    #[serde(default)]
    #[schemars(schema_with = "schema::sequence")]
    pub sequence: Vec<BTreeMap<String, String>>,
    /// `any-error` (default), `essential-error` or `full-error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::fail_on")]
    pub fail_on: Option<String>,
}

/// Written by the operator when it reads the recipe.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecipeStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
