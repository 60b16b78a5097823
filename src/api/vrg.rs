//! `VolumeReplicationGroup` (ramendr.openshift.io/v1alpha1), wire-compatible with RamenDR.
//!
//! Field names are exactly Ramen's, so an existing Ramen VRG manifest applies unchanged. Fields
//! that drive volume replication (`pvcSelector`, `async`, `volSync`, ...) are accepted and kept,
//! never acted on: volume replication is out of this operator's scope.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::schema;

/// Desired state of a VRG. Ramen field names throughout, so Ramen manifests apply unchanged.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
// kube-derive takes one `printcolumn(...)` per column, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[kube(
    group = "ramendr.openshift.io",
    version = "v1alpha1",
    kind = "VolumeReplicationGroup",
    plural = "volumereplicationgroups",
    shortname = "vrg",
    namespaced,
    status = "VolumeReplicationGroupStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "Protects an application's Kubernetes objects: runs its recipe's backup workflow on a \
           schedule while primary, and its restore workflow after a failover or relocation.",
    printcolumn(name = "State", type_ = "string", json_path = ".spec.replicationState"),
    printcolumn(
        name = "RecipeReady",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"RecipeReady\")].status"
    ),
    printcolumn(
        name = "Protected",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"ClusterDataProtected\")].status"
    ),
    printcolumn(
        name = "LastCapture",
        type_ = "date",
        json_path = ".status.kubeObjectProtection.captureToRecoverFrom.endTime"
    ),
    printcolumn(
        name = "Step",
        type_ = "string",
        json_path = ".status.kubeObjectProtection.currentStep"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VolumeReplicationGroupSpec {
    /// Whether this cluster runs the application (`primary`) or stands by (`secondary`).
    pub replication_state: ReplicationState,

    /// Names of Velero BackupStorageLocations; one Velero Backup per group per profile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub s3_profiles: Vec<String>,

    /// `Failover` or `Relocate` when the application is being moved to this cluster.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "VrgAction::deserialize_optional"
    )]
    #[schemars(schema_with = "VrgAction::schema")]
    pub action: Option<VrgAction>,

    /// Namespaces this VRG protects; honoured only for VRGs in an admin namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_namespaces: Option<Vec<String>>,

    /// Present = Kubernetes object protection on, absent = off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_object_protection: Option<KubeObjectProtectionSpec>,

    // Ramen fields kept as written; this operator does not act on them.
    /// Ramen: selects the PVCs whose volumes Ramen replicates (not acted on here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc_selector: Option<LabelSelector>,
    /// Ramen: regional-DR volume replication settings (not acted on here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::free_form_object")]
    pub r#async: Option<Value>,
    /// Ramen: metro-DR volume replication settings (not acted on here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::free_form_object")]
    pub sync: Option<Value>,
    /// Ramen: VolSync replication settings (not acted on here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::free_form_object")]
    pub vol_sync: Option<Value>,
    /// Ramen: VolSync final-sync preparation (not acted on here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepare_for_final_sync: Option<bool>,
    /// Ramen: VolSync final sync (not acted on here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_final_sync: Option<bool>,
    /// Ramen: test failover without permanent changes (not acted on here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Ramen: static IP translation for failover (not acted on here).
    // Ramen's spelling, `IP` in capitals, which camelCase would not give.
    #[serde(
        rename = "staticIPTranslationSpec",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "schema::free_form_object")]
    pub static_ip_translation_spec: Option<Value>,
}

/// `spec.replicationState`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplicationState {
    #[default]
    Primary,
    Secondary,
}

/// `spec.action`: why this cluster became primary. Ramen writes `""` for "no action", which
/// deserialises to `None`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VrgAction {
    Failover,
    Relocate,
}

impl VrgAction {
    fn deserialize_optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        match Option::<String>::deserialize(d)?.as_deref() {
            None | Some("") => Ok(None),
            Some("Failover") => Ok(Some(Self::Failover)),
            Some("Relocate") => Ok(Some(Self::Relocate)),
            Some(other) => Err(serde::de::Error::unknown_variant(
                other,
                &["", "Failover", "Relocate"],
            )),
        }
    }

    fn schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": ["", "Failover", "Relocate"],
        })
    }
}

/// `spec.kubeObjectProtection`. At most one recipe source may be set: `recipeRef`, `recipe`, or
/// `captureOrder`/`recoverOrder`; with none, the default recipe protects the VRG's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeObjectProtectionSpec {
    /// Time between capture starts, as a duration (`5m`, `1h30m`); default `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_interval: Option<String>,

    /// A `Recipe` object holding the groups, hooks and workflows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_ref: Option<RecipeRef>,

    /// Values for the recipe's `${NAME}` parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_parameters: Option<BTreeMap<String, Vec<String>>>,

    /// Selects the objects the default recipe protects when no recipe is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_object_selector: Option<LabelSelector>,

    /// An inline recipe (groups, hooks, workflows). Kept as written and checked by the operator,
    /// so that a misspelt key is reported rather than dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::free_form_object")]
    pub recipe: Option<Value>,

    /// Backup groups in order, each with `pre`/`post` hooks (the original inline form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::free_form_object_list")]
    pub capture_order: Option<Vec<Value>>,

    /// Restore groups in order, each with `exec`/`initContainers` hooks (the original inline form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::free_form_object_list")]
    pub recover_order: Option<Vec<Value>>,
}

/// `spec.kubeObjectProtection.recipeRef`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecipeRef {
    /// Namespace of the Recipe; defaults to the VRG's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the Recipe.
    #[serde(default)]
    pub name: String,
}

/// Observed state of a VRG, written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeReplicationGroupStatus {
    /// Ramen's summary state (`Primary`, `Secondary`, `Unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,

    /// `RecipeReady`, `ClusterDataProtected`, `KubeObjectsReady`, `HooksReady`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// When the operator last wrote this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,

    /// Capture and recovery progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_object_protection: Option<KubeObjectProtectionStatus>,
}

/// `status.kubeObjectProtection`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeObjectProtectionStatus {
    /// The newest capture a recovery could restore, as this cluster sees it: its own newest
    /// restorable capture, or the capture it recovered from until it has one of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_to_recover_from: Option<CaptureIdentifier>,

    /// The step the running workflow is on, as `workflow/index: kind name` (for `kubectl get`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step: Option<String>,

    /// The generation at which this VRG's objects were recovered on this cluster; cleared when
    /// the VRG is seen secondary, so the next failover to this cluster recovers again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_generation: Option<i64>,

    /// The capture lineage this cluster writes in. Each recovery raises it above every capture
    /// seen, so a returning old primary's captures never count as newer than the new primary's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,

    /// The recovery on this cluster: from becoming primary with an `action` until secondary again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryStatus>,

    /// Secondary with `action: Relocate`: the generation whose final capture completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_capture_generation: Option<i64>,

    /// Old captures being deleted (DeleteBackupRequests in flight, or failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deletions: Vec<DeletionStatus>,

    /// The current (or last) workflow run, with every step's progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<super::progress::WorkflowRun>,
}

/// Identifies one capture (Ramen's `KubeObjectsCaptureIdentifier`, plus who wrote it).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptureIdentifier {
    /// Capture number; its parity is the slot (0/1) it was written to.
    pub number: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
    /// The VRG generation the capture started at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_generation: Option<i64>,
    /// The cluster that wrote the capture (its `--cluster-id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The lineage the capture was written in (see `epoch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
}

/// `status.kubeObjectProtection.recovery`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryStatus {
    /// `Failover` or `Relocate`, as asked.
    pub action: String,
    /// When this cluster first saw the request: a failover restores only after Velero's backup
    /// sync has run since then, so it restores the newest capture that had reached storage.
    pub requested_at: Time,
    /// The generation the request was seen at.
    pub requested_generation: i64,
    pub phase: RecoveryPhase,
    /// The capture being (or that was) restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<CaptureIdentifier>,
    /// The recipe whose restore workflow ran, and where it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<String>,
    /// Captures whose Restore failed because Velero could not read them; never tried again in
    /// this recovery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unusable: Vec<UnusableCapture>,
    /// Failed: the generation it failed at (a change of the VRG retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_generation: Option<i64>,
    /// What happened, in words a user can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Default for RecoveryStatus {
    /// A pending request, asked for at the Unix epoch (callers set the real time).
    fn default() -> Self {
        Self {
            action: String::new(),
            requested_at: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
            requested_generation: 0,
            phase: RecoveryPhase::Pending,
            source: None,
            recipe: None,
            unusable: vec![],
            failed_generation: None,
            message: None,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum RecoveryPhase {
    /// Waiting for a capture to restore (for Velero's backup sync, or the peer's final capture).
    #[default]
    Pending,
    Restoring,
    Recovered,
    Failed,
}

/// A capture a recovery could not restore from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnusableCapture {
    pub capture: CaptureIdentifier,
    pub reason: String,
}

/// One old Backup being deleted through a Velero DeleteBackupRequest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionStatus {
    pub backup: String,
    /// The request's attempt: a request Velero processed with errors, or that stayed unprocessed
    /// (Velero restarted under it), is replaced by a new one.
    pub attempt: u32,
    /// When the current request was made.
    pub requested_at: Time,
    /// Velero's errors of the last processed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
