//! The executable plan: for each workflow, the resolved steps in order, each with everything the
//! engine needs (the exact Velero spec of a group step, the resolved op of a hook step, timeouts,
//! `onError`, essential, inverse op).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use super::model::{
    FailOn, Hook, HookKind, JobOp, NameSelector, OnError, Recipe, SelectResource, StepTarget,
};
use super::problem::{Problems, suggestion};
use super::scope::Scope;
use crate::api::velero::{
    BackupSpec, InitRestoreHook, ResourceFilter, RestoreHooks, RestorePostHook,
    RestoreResourceHook, RestoreSpec, RestoreStatusSpec,
};
use crate::hooks::condition::Condition;

/// Default time a group's Velero object may run.
pub const DEFAULT_GROUP_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Default time an exec op or a check may take.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowPlan {
    pub name: String,
    pub fail_on: FailOn,
    pub steps: Vec<Step>,
    /// A digest of everything above and the s3 profiles (see [`WorkflowPlan::sealed`]): a run
    /// records it, so a plan changed under a run is noticed however it changed.
    pub fingerprint: String,
}

impl WorkflowPlan {
    /// The plan with its fingerprint, for a VRG writing to `profiles`.
    pub fn sealed(mut self, profiles: &[String]) -> Self {
        let text = format!(
            "{profiles:?}|{}|{:?}|{:?}",
            self.name, self.fail_on, self.steps
        );
        self.fingerprint = crate::velero::names::short_hash(&text);
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// `group config`, `hook db/quiesce`: what status and events call the step.
    pub name: String,
    pub essential: bool,
    pub timeout: Duration,
    pub on_error: OnError,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// One Velero Backup per s3 profile; `storageLocation` is set per profile when it runs.
    Backup {
        group: String,
        spec: BackupSpec,
    },
    /// One Velero Restore from the capture of `backup_group`; `backupName` is set when it runs.
    Restore {
        group: String,
        backup_group: String,
        spec: RestoreSpec,
    },
    Exec(ExecStep),
    Check(CheckStep),
    Scale(ScaleStep),
    Job(JobStep),
}

impl Action {
    /// Hook steps run as tasks of the hook runner; group steps as Velero objects.
    pub fn is_hook(&self) -> bool {
        !matches!(self, Self::Backup { .. } | Self::Restore { .. })
    }
}

/// Which objects a hook step acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub namespace: String,
    pub resource: SelectResource,
    pub label_selector: Option<LabelSelector>,
    pub name_selector: Option<NameSelector>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecStep {
    pub hook: String,
    pub op: String,
    pub target: Target,
    pub single_pod_only: bool,
    pub container: Option<String>,
    pub commands: Vec<Vec<String>>,
    /// Restore hooks wait, within their timeout, for a Running pod.
    pub wait_for_running: bool,
    pub inverse: Option<InverseOp>,
}

/// The op run once when the step's op fails and stops the workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct InverseOp {
    pub op: String,
    pub container: Option<String>,
    pub commands: Vec<Vec<String>>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckStep {
    pub hook: String,
    pub check: String,
    pub target: Target,
    pub condition: Condition,
    pub skip_if_not_present: bool,
}

/// A scale hook's operation (Ramen's `down`, `up`, `sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleOp {
    /// Remember each workload's replicas, then scale it to zero.
    Down,
    /// Scale each workload back to the replicas its down step remembered.
    Up,
    /// Wait until each workload's ready replicas equal its desired replicas.
    Sync,
}

impl ScaleOp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Down => "down",
            Self::Up => "up",
            Self::Sync => "sync",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScaleStep {
    pub hook: String,
    pub op: ScaleOp,
    pub target: Target,
    /// For `up`: the replicas of each workload (`deployment/NAME`) that this run's down step
    /// recorded in status. Filled in when the step starts, never part of the plan itself.
    pub remembered: std::collections::BTreeMap<String, i32>,
}

/// One Job to run: the recipe's template with its name, namespace and labels set.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRun {
    pub name: String,
    pub namespace: String,
    /// The whole Job object, as JSON.
    pub job: serde_json::Value,
    /// Replace a Job of that name that exists (otherwise wait on it).
    pub force_create: bool,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobStep {
    pub hook: String,
    pub run: JobRun,
    /// The job run once when this one fails and stops the workflow.
    pub inverse: Option<JobRun>,
}

/// Resolves workflow `name` of `recipe`; problems (missing groups, hooks, ops) are reported.
pub fn workflow(
    recipe: &Recipe,
    name: &str,
    scope: &Scope,
    p: &mut Problems,
) -> Option<WorkflowPlan> {
    let workflow = recipe.workflow(name)?;
    let restoring = name == "restore";
    let mut steps: Vec<Step> = Vec::with_capacity(workflow.steps.len());
    for step in &workflow.steps {
        match &step.target {
            StepTarget::Group(group_name) => {
                let Some(group) = recipe.group(group_name) else {
                    let hint =
                        suggestion(group_name, recipe.groups.iter().map(|g| g.name.as_str()));
                    p.add(&step.path, format!("no group \"{group_name}\"{hint}"));
                    continue;
                };
                let filter = ResourceFilter {
                    included_namespaces: scope.group_namespaces(group),
                    excluded_namespaces: group.excluded_namespaces.clone(),
                    included_resources: group.included_resources.clone(),
                    excluded_resources: group.excluded_resources.clone(),
                    // Always explicit: Velero's own default for an unset value must never decide
                    // whether cluster-scoped objects are captured or restored.
                    include_cluster_resources: Some(group.include_cluster_resources == Some(true)),
                    label_selector: group.label_selector.clone(),
                    or_label_selectors: group.or_label_selectors.clone(),
                };
                let action = if restoring {
                    let backup_group = group
                        .backup_ref
                        .clone()
                        .unwrap_or_else(|| group.name.clone());
                    let restore_status = (!group.restore_status_included.is_empty()
                        || !group.restore_status_excluded.is_empty())
                    .then(|| RestoreStatusSpec {
                        included_resources: group.restore_status_included.clone(),
                        excluded_resources: group.restore_status_excluded.clone(),
                    });
                    let spec = RestoreSpec {
                        filter,
                        restore_status,
                        existing_resource_policy: group
                            .restore_overwrite
                            .then(|| "update".to_owned()),
                        ..RestoreSpec::default()
                    };
                    Action::Restore {
                        group: group.name.clone(),
                        backup_group,
                        spec,
                    }
                } else {
                    let excluded_resources = super::exclusions::backup_excluded(
                        &group.included_resources,
                        &group.excluded_resources,
                    );
                    let spec = BackupSpec {
                        filter: ResourceFilter {
                            excluded_resources,
                            ..filter
                        },
                        snapshot_volumes: Some(false),
                        ..BackupSpec::default()
                    };
                    Action::Backup {
                        group: group.name.clone(),
                        spec,
                    }
                };
                steps.push(Step {
                    name: format!("group {}", group.name),
                    essential: group.essential,
                    timeout: group.timeout.unwrap_or(DEFAULT_GROUP_TIMEOUT),
                    on_error: OnError::Fail,
                    action,
                });
            }
            StepTarget::Hook {
                hook: hook_name,
                op,
            } => {
                let Some(hook) = recipe.hook(hook_name) else {
                    let hint = suggestion(hook_name, recipe.hooks.iter().map(|h| h.name.as_str()));
                    p.add(&step.path, format!("no hook \"{hook_name}\"{hint}"));
                    continue;
                };
                if !hook.init_containers.is_empty() {
                    attach_init_containers(hook, &step.path, restoring, scope, steps.last_mut(), p);
                }
                if let Some(resolved) = hook_step(
                    hook,
                    &recipe.jobs,
                    op.as_deref(),
                    &step.path,
                    restoring,
                    scope,
                    p,
                ) {
                    steps.push(resolved);
                }
            }
        }
    }
    Some(WorkflowPlan {
        name: name.to_owned(),
        fail_on: workflow.fail_on,
        steps,
        fingerprint: String::new(),
    })
}

fn target(hook: &Hook, scope: &Scope) -> Target {
    Target {
        namespace: scope.hook_namespace(hook),
        resource: hook.select_resource.clone(),
        label_selector: hook.label_selector.clone(),
        name_selector: hook.name_selector.clone(),
    }
}

/// The step for `hook: HOOK[/OP]`; `None` (with no problem) for a hook that only carries init
/// containers.
fn hook_step(
    hook: &Hook,
    templates: &BTreeMap<String, Value>,
    op: Option<&str>,
    path: &str,
    restoring: bool,
    scope: &Scope,
    p: &mut Problems,
) -> Option<Step> {
    let names = hook.entry_names();
    let entry = match op {
        Some(op) if names.contains(&op) => op,
        Some(op) => {
            let kind = match hook.kind {
                HookKind::Check(_) => "check",
                HookKind::Job(_) => "job",
                HookKind::Exec(_) | HookKind::Scale => "op",
            };
            p.add(
                path,
                format!(
                    "hook \"{}\" has no {kind} \"{op}\"{}",
                    hook.name,
                    suggestion(op, names.iter().copied())
                ),
            );
            return None;
        }
        None => match names.as_slice() {
            [only] => only,
            [] => return None,
            many => {
                let options: Vec<String> =
                    many.iter().map(|n| format!("{}/{n}", hook.name)).collect();
                p.add(
                    path,
                    format!(
                        "hook \"{}\" has {} entries; name one: {}",
                        hook.name,
                        many.len(),
                        options.join(", ")
                    ),
                );
                return None;
            }
        },
    };
    let timeout = |own: Option<Duration>| own.or(hook.timeout).unwrap_or(DEFAULT_HOOK_TIMEOUT);
    let on_error = |own: Option<OnError>| own.or(hook.on_error).unwrap_or(OnError::Fail);
    let (action, timeout, on_error) = match &hook.kind {
        HookKind::Exec(ops) => {
            let op = ops.iter().find(|o| o.name == entry)?;
            let inverse = op
                .inverse_op
                .as_ref()
                .and_then(|inv| ops.iter().find(|o| &o.name == inv))
                .map(|inv| InverseOp {
                    op: inv.name.clone(),
                    container: inv.container.clone(),
                    commands: inv.commands.clone(),
                    timeout: timeout(inv.timeout),
                });
            let exec = ExecStep {
                hook: hook.name.clone(),
                op: op.name.clone(),
                target: target(hook, scope),
                single_pod_only: hook.single_pod_only,
                container: op.container.clone(),
                commands: op.commands.clone(),
                wait_for_running: restoring,
                inverse,
            };
            (
                Action::Exec(exec),
                timeout(op.timeout),
                on_error(op.on_error),
            )
        }
        HookKind::Check(chks) => {
            let chk = chks.iter().find(|c| c.name == entry)?;
            let check = CheckStep {
                hook: hook.name.clone(),
                check: chk.name.clone(),
                target: target(hook, scope),
                condition: chk.condition.clone(),
                skip_if_not_present: hook.skip_if_not_present,
            };
            (
                Action::Check(check),
                timeout(chk.timeout),
                on_error(chk.on_error),
            )
        }
        HookKind::Scale => {
            let op = match entry {
                "down" => ScaleOp::Down,
                "up" => ScaleOp::Up,
                _ => ScaleOp::Sync,
            };
            let scale = ScaleStep {
                hook: hook.name.clone(),
                op,
                target: target(hook, scope),
                remembered: Default::default(),
            };
            (Action::Scale(scale), timeout(None), on_error(None))
        }
        HookKind::Job(jobs) => {
            let job = jobs.iter().find(|j| j.name == entry)?;
            let namespace = scope.hook_namespace(hook);
            let mut run = |j: &JobOp| {
                let Some(template) = templates.get(&j.name) else {
                    let hint = suggestion(&j.name, templates.keys().map(String::as_str));
                    p.add(
                        path,
                        format!(
                            "hook \"{}\" runs job \"{}\", but spec.jobs has no template of that name{hint}",
                            hook.name, j.name
                        ),
                    );
                    return None;
                };
                Some(JobRun {
                    name: j.name.clone(),
                    namespace: namespace.clone(),
                    job: job_object(template, &j.name, &namespace, &hook.name),
                    force_create: j.force_create,
                    timeout: timeout(j.timeout),
                })
            };
            let main = run(job)?;
            let inverse = job
                .inverse_op
                .as_ref()
                .and_then(|inv| jobs.iter().find(|j| &j.name == inv))
                .and_then(&mut run);
            let step = JobStep {
                hook: hook.name.clone(),
                run: main,
                inverse,
            };
            (
                Action::Job(step),
                timeout(job.timeout),
                on_error(job.on_error),
            )
        }
    };
    Some(Step {
        name: format!("hook {}/{entry}", hook.name),
        essential: hook.essential,
        timeout,
        on_error,
        action,
    })
}

/// A job hook's Job: the template with the job's name, the hook's namespace (as Ramen sets them),
/// and labels naming the hook and job.
fn job_object(template: &Value, name: &str, namespace: &str, hook: &str) -> Value {
    let mut job = template.clone();
    if let Value::Object(map) = &mut job {
        map.insert("apiVersion".into(), "batch/v1".into());
        map.insert("kind".into(), "Job".into());
        let meta = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if !meta.is_object() {
            *meta = Value::Object(Default::default());
        }
        if let Value::Object(meta) = meta {
            meta.insert("name".into(), name.into());
            meta.insert("namespace".into(), namespace.into());
            let labels = meta
                .entry("labels")
                .or_insert_with(|| Value::Object(Default::default()));
            if !labels.is_object() {
                *labels = Value::Object(Default::default());
            }
            if let Value::Object(labels) = labels {
                labels.insert(JOB_LABEL_HOOK.into(), hook.into());
                labels.insert(JOB_LABEL_JOB.into(), name.into());
            }
        }
    }
    job
}

/// Labels a job hook's Job carries, as Ramen sets them.
pub const JOB_LABEL_HOOK: &str = "ramendr.openshift.io/hook-name";
pub const JOB_LABEL_JOB: &str = "ramendr.openshift.io/job-name";

/// Velero init-container restore hooks go on the Restore of the group step just before the hook.
fn attach_init_containers(
    hook: &Hook,
    path: &str,
    restoring: bool,
    scope: &Scope,
    previous: Option<&mut Step>,
    p: &mut Problems,
) {
    let restore = match previous {
        Some(Step {
            action: Action::Restore { spec, .. },
            ..
        }) if restoring => spec,
        _ => {
            p.add(path, format!("hook \"{}\" has init containers, so it must directly follow a group step of the restore workflow", hook.name));
            return;
        }
    };
    let hooks = restore.hooks.get_or_insert_with(RestoreHooks::default);
    hooks.resources.push(RestoreResourceHook {
        name: hook.name.clone(),
        included_namespaces: vec![scope.hook_namespace(hook)],
        label_selector: hook.label_selector.clone(),
        post_hooks: vec![RestorePostHook {
            init: Some(InitRestoreHook {
                init_containers: hook.init_containers.clone(),
                timeout: None,
            }),
            extra: Default::default(),
        }],
    });
}
