//! The parts of Velero's `velero.io/v1` objects that the operator sets and reads.
//!
//! Velero owns these CRDs; we never generate them (`schema = "disabled"`). Every struct keeps the
//! fields it does not name in `extra`, so reading and writing back an object loses nothing, and
//! phases are open enums, so a newer Velero never breaks deserialisation.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::CustomResource;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::open_enum::open_enum;

/// Fields of a Velero object this crate does not name, kept as they were.
pub type Extra = BTreeMap<String, Value>;

/// Which objects a Backup or Restore covers (shared by both specs).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_cluster_resources: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub or_label_selectors: Vec<LabelSelector>,
}

/// `velero.io/v1` Backup: one capture of one group to one storage location.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "Backup",
    namespaced,
    status = "BackupStatus",
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    #[serde(flatten)]
    pub filter: ResourceFilter,
    /// Name of the BackupStorageLocation (one of the VRG's `s3Profiles`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_location: Option<String>,
    /// Retention, as a Go duration (`720h0m0s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_volumes: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

open_enum! {
    /// `status.phase` of a Backup.
    pub enum BackupPhase {
        New = "New",
        Queued = "Queued",
        ReadyToStart = "ReadyToStart",
        FailedValidation = "FailedValidation",
        InProgress = "InProgress",
        WaitingForPluginOperations = "WaitingForPluginOperations",
        WaitingForPluginOperationsPartiallyFailed = "WaitingForPluginOperationsPartiallyFailed",
        Finalizing = "Finalizing",
        FinalizingPartiallyFailed = "FinalizingPartiallyFailed",
        Completed = "Completed",
        PartiallyFailed = "PartiallyFailed",
        Failed = "Failed",
        Deleting = "Deleting",
    }
}

/// `status` of a Backup.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_timestamp: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Time>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `velero.io/v1` Restore: recovers one group from one Backup.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "Restore",
    namespaced,
    status = "RestoreStatus",
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSpec {
    /// The Backup to restore from.
    #[serde(default)]
    pub backup_name: String,
    #[serde(flatten)]
    pub filter: ResourceFilter,
    /// Resources whose `status` is restored too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_status: Option<RestoreStatusSpec>,
    /// `none` or `update`: what to do with objects that already exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_resource_policy: Option<String>,
    /// Init-container hooks Velero adds to restored pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<RestoreHooks>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `spec.restoreStatus` of a Restore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStatusSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_resources: Vec<String>,
}

/// `spec.hooks` of a Restore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RestoreHooks {
    #[serde(default)]
    pub resources: Vec<RestoreResourceHook>,
}

/// One entry of `spec.hooks.resources`: hooks for the restored pods it selects.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RestoreResourceHook {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    #[serde(default)]
    pub post_hooks: Vec<RestorePostHook>,
}

/// One post-restore hook; we only produce `init` hooks (exec hooks run through the operator).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RestorePostHook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<InitRestoreHook>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Init containers Velero adds to a restored pod.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InitRestoreHook {
    /// Container specs, passed through as the user wrote them.
    #[serde(default)]
    pub init_containers: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

open_enum! {
    /// `status.phase` of a Restore.
    pub enum RestorePhase {
        New = "New",
        FailedValidation = "FailedValidation",
        InProgress = "InProgress",
        WaitingForPluginOperations = "WaitingForPluginOperations",
        WaitingForPluginOperationsPartiallyFailed = "WaitingForPluginOperationsPartiallyFailed",
        Finalizing = "Finalizing",
        FinalizingPartiallyFailed = "FinalizingPartiallyFailed",
        Completed = "Completed",
        PartiallyFailed = "PartiallyFailed",
        Failed = "Failed",
    }
}

/// `status` of a Restore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestorePhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_timestamp: Option<Time>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `velero.io/v1` DeleteBackupRequest: asks Velero to delete a Backup and its stored data.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "DeleteBackupRequest",
    namespaced,
    status = "DeleteBackupRequestStatus",
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBackupRequestSpec {
    pub backup_name: String,
    #[serde(flatten)]
    pub extra: Extra,
}

open_enum! {
    /// `status.phase` of a DeleteBackupRequest.
    pub enum DeleteBackupRequestPhase {
        New = "New",
        InProgress = "InProgress",
        Processed = "Processed",
    }
}

/// `status` of a DeleteBackupRequest.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBackupRequestStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DeleteBackupRequestPhase>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `velero.io/v1` BackupStorageLocation: where a VRG's `s3Profiles` entry stores captures.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "velero.io",
    version = "v1",
    kind = "BackupStorageLocation",
    namespaced,
    status = "BackupStorageLocationStatus",
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorageLocationSpec {
    #[serde(default)]
    pub provider: String,
    /// `ReadWrite` or `ReadOnly`; a read-only location can be restored from but not captured to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_mode: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

open_enum! {
    /// `status.phase` of a BackupStorageLocation.
    pub enum BackupStorageLocationPhase {
        Available = "Available",
        Unavailable = "Unavailable",
    }
}

/// `status` of a BackupStorageLocation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupStorageLocationStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupStorageLocationPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_validation_time: Option<Time>,
    /// When Velero's backup sync last finished for this location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_time: Option<Time>,
    #[serde(flatten)]
    pub extra: Extra,
}
