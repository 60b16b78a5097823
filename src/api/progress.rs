//! Workflow progress, persisted in `status.kubeObjectProtection.run` so that an operator restart
//! resumes exactly where it was: a step that finished never runs again within its run, and an op
//! interrupted mid-exec runs again as a new, visible attempt.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One run of a workflow (one capture, or one recovery).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowRun {
    /// `backup-<capture>` or `restore-<n>`; part of every Velero object name of the run.
    pub id: String,
    /// `backup` or `restore`.
    pub workflow: String,
    /// Backup: the capture number written (slot = number % 2). Restore: the capture restored.
    pub capture: i64,
    pub phase: RunPhase,
    pub start_time: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
    pub steps: Vec<StepProgress>,
    /// Why the run failed or only partly succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The VRG generation the run started at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_generation: Option<i64>,
    /// Backup: the lineage the capture is written in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
    /// Backup: the final capture of a relocation (taken by the cluster being relocated from).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub final_capture: bool,
    /// Restore: the capture restored, with the cluster that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<super::vrg::CaptureIdentifier>,
    /// Restore: for each backup group, the Backup it is restored from (chosen once, at the start).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sources: std::collections::BTreeMap<String, String>,
    /// Fingerprint of the plan the run executes: a run whose plan changed (a Recipe or VRG edit,
    /// a parameter) ends rather than carry on with steps it did not start with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// The run ended because its plan changed; the next run, with the new plan, starts at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plan_changed: bool,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RunPhase {
    Running,
    Succeeded,
    /// Finished with failed steps that `failOn` or `onError: continue` tolerated.
    PartiallySucceeded,
    Failed,
}

/// One step of a run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepProgress {
    /// `group NAME` or `hook HOOK/OP`, as in `vrg-operator plan`.
    pub name: String,
    pub phase: StepPhase,
    /// Attempts started; a Velero object lost to a Velero restart, or an exec interrupted by an
    /// operator restart, starts a new attempt.
    #[serde(default)]
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
    /// Velero objects of the current attempt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<String>,
    /// What happened, in words a user can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Per-pod results of a hook step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<HookResult>,
    /// The inverse op run because this step's op failed and stopped the workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverse: Option<InverseProgress>,
    /// The step ran past its timeout; under a tolerant `failOn` it waits, failed, for its Velero
    /// objects to finish before the next step starts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum StepPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    /// Never started, because the run stopped before it.
    Skipped,
}

impl StepPhase {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Skipped)
    }
}

/// The outcome of a hook step in one pod (or, for a check, on one object).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookResult {
    /// `pod/NAME` or `KIND/NAME`.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Truncated.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stdout: String,
    /// Truncated.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Scale hooks: the replicas a `down` step found (and a later `up` restores), or the
    /// replicas an `up` step set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
}

/// Progress of an inverse op.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InverseProgress {
    pub op: String,
    pub phase: StepPhase,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<HookResult>,
}
