//! The one typed recipe every front-end produces. Nothing downstream knows which front-end was used.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use super::problem::Problem;
use crate::hooks::condition::Condition;

/// A parsed, parameter-expanded recipe.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recipe {
    pub groups: Vec<Group>,
    pub hooks: Vec<Hook>,
    pub workflows: Vec<Workflow>,
    /// Ramen's `spec.volumes`: the PVCs for volume replication. Kept and scope-checked, not acted
    /// on (vrg-operator protects objects, not volumes).
    pub volumes: Option<Group>,
    /// Ramen's `spec.jobs`: Job templates by name, as JSON objects, for `job` hooks.
    pub jobs: std::collections::BTreeMap<String, Value>,
    /// What the recipe was read to mean that its author may not expect: not problems, but said
    /// in `validate`'s output and the `RecipeReady` message.
    pub notes: Vec<Problem>,
}

impl Recipe {
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    pub fn hook(&self, name: &str) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.name == name)
    }

    pub fn workflow(&self, name: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.name == name)
    }
}

/// A set of resources: one Velero Backup when captured, one Restore when recovered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    pub name: String,
    /// Field path of the group, for problems found after parsing.
    pub path: String,
    /// The backup group this (restore) group restores from; `None` = its own name.
    pub backup_ref: Option<String>,
    /// Field path of `backup_ref` as written (`backupRef`, or the seed's `backupName`).
    pub backup_ref_path: String,
    pub included_namespaces: Vec<String>,
    pub excluded_namespaces: Vec<String>,
    pub included_resources: Vec<String>,
    /// Field path of `included_resources` as written.
    pub included_resources_path: String,
    pub excluded_resources: Vec<String>,
    pub label_selector: Option<LabelSelector>,
    pub or_label_selectors: Vec<LabelSelector>,
    pub include_cluster_resources: Option<bool>,
    /// Field path of `include_cluster_resources` as written (`isClusterScoped` in Ramen's recipes).
    pub include_cluster_resources_path: String,
    pub restore_status_included: Vec<String>,
    pub restore_status_excluded: Vec<String>,
    pub essential: bool,
    pub restore_overwrite: bool,
    pub timeout: Option<Duration>,
    /// `type: volume`: selects PVCs for volume replication, which vrg-operator does not do; kept
    /// and scope-checked, never a Velero object.
    pub volume: bool,
}

/// `fail` stops the workflow (subject to `failOn`); `continue` records the failure and goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Fail,
    Continue,
}

/// Which objects a hook selects: pods directly, or the pods of matching workloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectResource {
    Pod,
    Deployment,
    StatefulSet,
    DaemonSet,
    /// For checks: any resource, by `group/version/plural` (`apps/v1/deployments`, `v1/pods`).
    Custom {
        group: String,
        version: String,
        plural: String,
    },
}

/// How a hook selects objects by name.
#[derive(Debug, Clone)]
pub enum NameSelector {
    Exact(String),
    Pattern(regex::Regex),
}

impl PartialEq for NameSelector {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Exact(a), Self::Exact(b)) => a == b,
            (Self::Pattern(a), Self::Pattern(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl NameSelector {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Exact(s) => s,
            Self::Pattern(r) => r.as_str(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub name: String,
    pub path: String,
    /// `None` = the VRG's namespace.
    pub namespace: Option<String>,
    pub select_resource: SelectResource,
    pub label_selector: Option<LabelSelector>,
    pub name_selector: Option<NameSelector>,
    pub single_pod_only: bool,
    pub on_error: Option<OnError>,
    pub timeout: Option<Duration>,
    pub essential: bool,
    pub skip_if_not_present: bool,
    pub kind: HookKind,
    /// Velero init-container restore hooks for the Restore of the group step just before this
    /// hook (the seed's `initContainer(s)`), container specs as written.
    pub init_containers: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HookKind {
    Exec(Vec<Op>),
    Check(Vec<Chk>),
    /// Ramen's `type: scale`: the steps `HOOK/down`, `HOOK/up` and `HOOK/sync` scale the selected
    /// Deployments and StatefulSets.
    Scale,
    /// Ramen's `type: job`: each entry runs the Job template of the same name in `spec.jobs`.
    Job(Vec<JobOp>),
}

/// The operations of a scale hook, in Ramen's names.
pub const SCALE_OPS: [&str; 3] = ["down", "up", "sync"];

/// One entry of a job hook's `jobs`.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOp {
    /// The Job's name, and the template's key in `spec.jobs`.
    pub name: String,
    pub on_error: Option<OnError>,
    pub timeout: Option<Duration>,
    pub inverse_op: Option<String>,
    /// Replace a Job of that name that already exists (default: wait on it instead).
    pub force_create: bool,
}

impl Hook {
    /// Names of the hook's ops or checks.
    pub fn entry_names(&self) -> Vec<&str> {
        match &self.kind {
            HookKind::Exec(ops) => ops.iter().map(|o| o.name.as_str()).collect(),
            HookKind::Check(chks) => chks.iter().map(|c| c.name.as_str()).collect(),
            HookKind::Scale => SCALE_OPS.to_vec(),
            HookKind::Job(jobs) => jobs.iter().map(|j| j.name.as_str()).collect(),
        }
    }
}

/// One exec operation. `commands` run in order, each its own exec, in each selected pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub name: String,
    pub container: Option<String>,
    /// argv of each command.
    pub commands: Vec<Vec<String>>,
    pub on_error: Option<OnError>,
    pub timeout: Option<Duration>,
    pub inverse_op: Option<String>,
}

/// One check: a condition re-evaluated until true or timed out.
#[derive(Debug, Clone, PartialEq)]
pub struct Chk {
    pub name: String,
    pub condition: Condition,
    pub on_error: Option<OnError>,
    pub timeout: Option<Duration>,
}

/// When a workflow stops (SPEC 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOn {
    /// Stop at the first failed step.
    #[default]
    AnyError,
    /// Stop only when an essential step fails.
    EssentialError,
    /// Run every step; fail only if every essential step failed.
    FullError,
}

impl FailOn {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AnyError => "any-error",
            Self::EssentialError => "essential-error",
            Self::FullError => "full-error",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub name: String,
    pub path: String,
    pub fail_on: FailOn,
    pub steps: Vec<StepRef>,
}

/// A sequence entry, as written, with its path for later problems.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRef {
    pub path: String,
    pub target: StepTarget,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepTarget {
    Group(String),
    /// `hook: HOOK/OP`, or `hook: HOOK` (`op: None`) when the hook has exactly one op or check.
    Hook {
        hook: String,
        op: Option<String>,
    },
}
