//! Hooks, as a Recipe object or the seed's inline recipe writes them.

use serde_json::Value;

use super::Dialect;
use crate::hooks::{command, condition};
use crate::recipe::labels::{selector, structured_selector};
use crate::recipe::model::{Chk, Hook, HookKind, JobOp, NameSelector, OnError, Op, SelectResource};
use crate::recipe::names::{check_dns_label, is_dns_subdomain};
use crate::recipe::problem::{Problems, index, suggestion};
use crate::recipe::reader::{Obj, type_name};

const RECIPE_KEYS: &[&str] = &[
    "name",
    "namespace",
    "type",
    "selectResource",
    "labelSelector",
    "nameSelector",
    "singlePodOnly",
    "onError",
    "timeout",
    "ops",
    "chks",
    "essential",
    "jobs",
    "skipHookIfNotPresent",
];
const INLINE_KEYS: &[&str] = &["config", "initContainer", "initContainers"];
const TYPES: [&str; 4] = ["exec", "check", "scale", "job"];

/// The hook type as written (or inferred).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Exec,
    Check,
    Scale,
    Job,
}

/// Keys that belong to another hook type: each is a mistake, said with the type it belongs to.
fn refuse_foreign_entries(obj: &Obj, kind: Written, p: &mut Problems) {
    let owners: [(&str, Written, &str); 6] = [
        ("ops", Written::Exec, "an exec hook"),
        ("config", Written::Exec, "an exec hook"),
        ("initContainer", Written::Exec, "an exec hook"),
        ("initContainers", Written::Exec, "an exec hook"),
        ("chks", Written::Check, "a check hook (set type: check)"),
        ("jobs", Written::Job, "a job hook (set type: job)"),
    ];
    for (key, owner, whose) in owners {
        if obj.has(key) && owner != kind {
            p.add(
                obj.path_of(key),
                format!("\"{key}\" belongs to {whose}, not a {} hook", kind.as_str()),
            );
        }
    }
}

impl Written {
    fn as_str(self) -> &'static str {
        match self {
            Self::Exec => "exec",
            Self::Check => "check",
            Self::Scale => "scale",
            Self::Job => "job",
        }
    }
}

pub fn hook(value: &Value, path: &str, dialect: Dialect, p: &mut Problems) -> Option<Hook> {
    let known: Vec<&str> = match dialect {
        Dialect::RecipeObject => RECIPE_KEYS.to_vec(),
        Dialect::Inline => RECIPE_KEYS.iter().chain(INLINE_KEYS).copied().collect(),
    };
    let obj = Obj::new(value, path, &known, p)?;
    let name = obj.required_string("name", p);
    if let Some(name) = &name {
        check_dns_label(name, "hook name", &obj.path_of("name"), p);
    }
    let namespace = obj.string("namespace", p);
    if let Some(ns) = &namespace {
        check_dns_label(ns, "namespace", &obj.path_of("namespace"), p);
    }
    let written = obj.string("type", p);
    let kind = match written.as_deref() {
        Some("exec") => Written::Exec,
        Some("check") => Written::Check,
        Some("scale") => Written::Scale,
        Some("job") => Written::Job,
        Some(other) => {
            let hint = suggestion(other, TYPES);
            p.add(
                obj.path_of("type"),
                format!("unknown hook type \"{other}\"{hint} (expected exec, check, scale or job)"),
            );
            Written::Exec
        }
        // Ramen requires a type; we infer the obvious one.
        None if obj.has("chks") && !obj.has("ops") => Written::Check,
        None if obj.has("jobs") && !obj.has("ops") => Written::Job,
        None => Written::Exec,
    };
    let is_check = kind == Written::Check;
    refuse_foreign_entries(&obj, kind, p);
    let select_resource = select_resource(&obj, is_check, p);
    let selector = match dialect {
        Dialect::RecipeObject => structured_selector,
        Dialect::Inline => selector,
    };
    let label_selector = obj
        .get("labelSelector")
        .and_then(|v| selector(v, &obj.path_of("labelSelector"), p));
    let name_selector = obj
        .string("nameSelector", p)
        .and_then(|s| name_selector(&s, &obj.path_of("nameSelector"), p));
    let kind = match kind {
        Written::Check => HookKind::Check(
            obj.list("chks", p)
                .into_iter()
                .filter_map(|(v, path)| check(v, &path, p))
                .collect(),
        ),
        Written::Exec => {
            let mut ops: Vec<Op> = obj
                .list("ops", p)
                .into_iter()
                .filter_map(|(v, path)| op(v, &path, dialect, p))
                .collect();
            if let (Some(config), Some(name)) = (obj.get("config"), &name) {
                // The seed's `config` is one op named after the hook.
                ops.extend(config_op(config, &obj.path_of("config"), name, p));
            }
            HookKind::Exec(ops)
        }
        Written::Scale => HookKind::Scale,
        Written::Job => HookKind::Job(
            obj.list("jobs", p)
                .into_iter()
                .filter_map(|(v, path)| job_op(v, &path, p))
                .collect(),
        ),
    };
    let init_containers = init_containers(&obj, p);
    let hook = Hook {
        name: name?,
        path: path.to_owned(),
        namespace,
        select_resource,
        label_selector,
        name_selector,
        single_pod_only: obj.bool("singlePodOnly", p).unwrap_or(false),
        on_error: on_error(&obj, p),
        timeout: obj.timeout("timeout", p),
        // Unset is not essential, as Ramen's code reads it (see groups.rs).
        essential: obj.bool("essential", p).unwrap_or(false),
        skip_if_not_present: obj.bool("skipHookIfNotPresent", p).unwrap_or(false),
        kind,
        init_containers,
    };
    check_hook(&hook, &obj, p);
    Some(hook)
}

/// Rules that need the whole hook.
fn check_hook(hook: &Hook, obj: &Obj, p: &mut Problems) {
    let has_selector = hook.label_selector.is_some() || hook.name_selector.is_some();
    match &hook.kind {
        HookKind::Exec(ops) => {
            if ops.is_empty() && hook.init_containers.is_empty() {
                p.add(obj.path(), "an exec hook needs at least one op");
            }
            if !has_selector && ops.iter().any(|o| o.container.is_none()) {
                p.add(obj.path(), "an exec hook needs a labelSelector or nameSelector, or a container on every op");
            }
            if hook.skip_if_not_present {
                p.add(
                    obj.path_of("skipHookIfNotPresent"),
                    "applies to check hooks only",
                );
            }
        }
        HookKind::Scale => {
            if !matches!(
                hook.select_resource,
                SelectResource::Deployment | SelectResource::StatefulSet
            ) {
                p.add(
                    obj.path_of("selectResource"),
                    "a scale hook scales Deployments or StatefulSets: set selectResource to deployment or statefulset",
                );
            }
            if !has_selector {
                p.add(
                    obj.path(),
                    "a scale hook needs a labelSelector or nameSelector",
                );
            }
        }
        HookKind::Job(jobs) => {
            if jobs.is_empty() {
                p.add(obj.path(), "a job hook needs at least one entry in jobs");
            }
        }
        HookKind::Check(chks) => {
            if chks.is_empty() {
                p.add(obj.path(), "a check hook needs at least one check in chks");
            }
            if !has_selector {
                p.add(
                    obj.path(),
                    "a check hook needs a labelSelector or nameSelector",
                );
            }
        }
    }
    let (list, inverses): (&str, Vec<(&str, Option<&String>)>) = match &hook.kind {
        HookKind::Exec(ops) => (
            "ops",
            ops.iter()
                .map(|o| (o.name.as_str(), o.inverse_op.as_ref()))
                .collect(),
        ),
        HookKind::Job(jobs) => (
            "jobs",
            jobs.iter()
                .map(|j| (j.name.as_str(), j.inverse_op.as_ref()))
                .collect(),
        ),
        HookKind::Check(_) => ("chks", vec![]),
        HookKind::Scale => return,
    };
    check_unique(hook.entry_names(), &obj.path_of(list), p);
    let names = hook.entry_names();
    for (i, (name, inverse)) in inverses.into_iter().enumerate() {
        let Some(inverse) = inverse else {
            continue;
        };
        let path = format!("{}.inverseOp", index(&obj.path_of(list), i));
        if inverse == name {
            p.add(path, "an op cannot be its own inverse");
        } else if !names.contains(&inverse.as_str()) {
            let hint = suggestion(inverse, names.iter().copied());
            p.add(
                path,
                format!("no op \"{inverse}\" in hook \"{}\"{hint}", hook.name),
            );
        }
    }
}

/// One entry of a job hook's `jobs`; its template is looked up when the plan is made.
fn job_op(value: &Value, path: &str, p: &mut Problems) -> Option<JobOp> {
    let obj = Obj::new(
        value,
        path,
        &["name", "onError", "timeout", "inverseOp", "forceCreate"],
        p,
    )?;
    let name = obj.required_string("name", p);
    if let Some(name) = &name {
        check_dns_label(name, "job name", &obj.path_of("name"), p);
    }
    Some(JobOp {
        on_error: on_error(&obj, p),
        timeout: obj.timeout("timeout", p),
        inverse_op: obj.string("inverseOp", p),
        force_create: obj.bool("forceCreate", p).unwrap_or(false),
        name: name?,
    })
}

/// Reports names that appear more than once in a list at `path`.
pub fn check_unique<'a>(names: impl IntoIterator<Item = &'a str>, path: &str, p: &mut Problems) {
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            p.add(path, format!("duplicate name \"{name}\""));
        }
    }
}

fn select_resource(obj: &Obj, is_check: bool, p: &mut Problems) -> SelectResource {
    let Some(s) = obj.string("selectResource", p) else {
        return SelectResource::Pod;
    };
    match s.as_str() {
        "pod" => SelectResource::Pod,
        "deployment" => SelectResource::Deployment,
        "statefulset" => SelectResource::StatefulSet,
        "daemonset" => SelectResource::DaemonSet,
        custom if is_check && custom.contains('/') => {
            let parts: Vec<&str> = custom.split('/').collect();
            let resource = match parts.as_slice() {
                [version, plural] if !version.is_empty() && !plural.is_empty() => {
                    SelectResource::Custom {
                        group: String::new(),
                        version: (*version).into(),
                        plural: (*plural).into(),
                    }
                }
                [group, version, plural] if parts.iter().all(|x| !x.is_empty()) => {
                    SelectResource::Custom {
                        group: (*group).into(),
                        version: (*version).into(),
                        plural: (*plural).into(),
                    }
                }
                _ => {
                    p.add(obj.path_of("selectResource"), format!("\"{custom}\" is not \"group/version/plural\" (e.g. \"apps/v1/deployments\", \"v1/pods\")"));
                    SelectResource::Pod
                }
            };
            if let SelectResource::Custom { group, plural, .. } = &resource
                && is_secret(group, plural)
            {
                p.add(
                    obj.path_of("selectResource"),
                    format!("\"{custom}\": check hooks on Secrets are refused: a check reads every selected object in full, and a Secret's data is not the recipe's to read"),
                );
                return SelectResource::Pod;
            }
            resource
        }
        other => {
            let known = ["pod", "deployment", "statefulset", "daemonset"];
            let hint = suggestion(other, known);
            let extra = if is_check {
                ", or group/version/plural"
            } else {
                ""
            };
            p.add(obj.path_of("selectResource"), format!("unknown resource \"{other}\"{hint} (expected pod, deployment, statefulset, daemonset{extra})"));
            SelectResource::Pod
        }
    }
}

/// Core Secrets, in any spelling the API server would serve them under.
fn is_secret(group: &str, plural: &str) -> bool {
    (group.is_empty() || group.eq_ignore_ascii_case("core"))
        && matches!(plural.to_ascii_lowercase().as_str(), "secrets" | "secret")
}

fn name_selector(s: &str, path: &str, p: &mut Problems) -> Option<NameSelector> {
    if is_dns_subdomain(s) {
        return Some(NameSelector::Exact(s.to_owned()));
    }
    match regex::Regex::new(s) {
        Ok(r) => Some(NameSelector::Pattern(r)),
        Err(e) => {
            p.add(
                path,
                format!("\"{s}\" is neither an object name nor a valid regular expression: {e}"),
            );
            None
        }
    }
}

fn parse_on_error(value: &str, path: &str, p: &mut Problems) -> Option<OnError> {
    match value.to_ascii_lowercase().as_str() {
        "fail" => Some(OnError::Fail),
        "continue" => Some(OnError::Continue),
        _ => {
            let hint = suggestion(value, ["fail", "continue"]);
            p.add(
                path,
                format!("unknown onError \"{value}\"{hint} (expected \"fail\" or \"continue\")"),
            );
            None
        }
    }
}

fn on_error(obj: &Obj, p: &mut Problems) -> Option<OnError> {
    obj.string("onError", p)
        .and_then(|v| parse_on_error(&v, &obj.path_of("onError"), p))
}

/// One command string into argv, reporting a problem at `path`.
fn argv(command: &str, path: &str, p: &mut Problems) -> Option<Vec<String>> {
    let argv = command::split(command)
        .map_err(|e| p.add(path, e.to_string()))
        .ok()?;
    let shell = ["sh", "bash", "ash", "dash", "zsh", "ksh"];
    let runs_shell = argv
        .first()
        .is_some_and(|a| shell.contains(&a.rsplit('/').next().unwrap_or(a)));
    let operator = argv
        .iter()
        .find(|w| w.ends_with(';') || ["&&", "||", "|", ">", ">>", "<"].contains(&w.as_str()));
    match operator {
        Some(op) if !runs_shell => {
            p.add(path, format!("\"{op}\" is shell syntax, but no shell runs this command: list each command separately, or write [\"/bin/sh\", \"-c\", \"...\"]"));
            None
        }
        _ => Some(argv),
    }
}

/// `command`: a string (Recipe); in the inline form also a list whose entries each run as their
/// own exec, in order.
fn commands(obj: &Obj, dialect: Dialect, p: &mut Problems) -> Vec<Vec<String>> {
    let path = obj.path_of("command");
    match obj.get("command") {
        None => {
            p.add(obj.path(), "missing required field \"command\"");
            vec![]
        }
        Some(Value::String(s)) => argv(s, &path, p).into_iter().collect(),
        Some(Value::Array(items)) if dialect == Dialect::Inline => {
            if items.is_empty() {
                p.add(&path, "needs at least one command");
            }
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    Value::String(s) => argv(s, &index(&path, i), p),
                    other => {
                        p.add(
                            index(&path, i),
                            format!("expected a command string, found {}", type_name(other)),
                        );
                        None
                    }
                })
                .collect()
        }
        Some(other) => {
            p.add(
                path,
                format!("expected a command string, found {}", type_name(other)),
            );
            vec![]
        }
    }
}

fn op(value: &Value, path: &str, dialect: Dialect, p: &mut Problems) -> Option<Op> {
    let obj = Obj::new(
        value,
        path,
        &[
            "name",
            "container",
            "command",
            "onError",
            "timeout",
            "inverseOp",
        ],
        p,
    )?;
    let name = obj.required_string("name", p);
    if let Some(name) = &name {
        check_dns_label(name, "op name", &obj.path_of("name"), p);
    }
    Some(Op {
        commands: commands(&obj, dialect, p),
        container: obj.string("container", p),
        on_error: on_error(&obj, p),
        timeout: obj.timeout("timeout", p),
        inverse_op: obj.string("inverseOp", p),
        name: name?,
    })
}

/// The seed's `config: {container, timeout, onError, command: [...]}`.
pub fn config_op(value: &Value, path: &str, name: &str, p: &mut Problems) -> Option<Op> {
    let obj = Obj::new(
        value,
        path,
        &["container", "command", "onError", "timeout"],
        p,
    )?;
    Some(Op {
        name: name.to_owned(),
        container: obj.string("container", p),
        commands: commands(&obj, Dialect::Inline, p),
        on_error: on_error(&obj, p),
        timeout: obj.timeout("timeout", p),
        inverse_op: None,
    })
}

fn check(value: &Value, path: &str, p: &mut Problems) -> Option<Chk> {
    let obj = Obj::new(value, path, &["name", "condition", "onError", "timeout"], p)?;
    let name = obj.required_string("name", p);
    let condition = obj.required_string("condition", p).and_then(|c| {
        condition::parse(&c)
            .map_err(|e| p.add(obj.path_of("condition"), e.to_string()))
            .ok()
    });
    Some(Chk {
        name: name?,
        condition: condition?,
        on_error: on_error(&obj, p),
        timeout: obj.timeout("timeout", p),
    })
}

/// The seed's `initContainer`/`initContainers`: container specs for Velero's restore hooks.
fn init_containers(obj: &Obj, p: &mut Problems) -> Vec<Value> {
    let list = obj.list_any(&["initContainers", "initContainer"], p);
    list.into_iter()
        .filter_map(|(v, path)| {
            let c = Obj::new(v, &path, &CONTAINER_KEYS, p)?;
            c.required_string("name", p)?;
            c.required_string("image", p)?;
            Some(v.clone())
        })
        .collect()
}

/// Fields of a core/v1 Container that an init-container restore hook may set.
const CONTAINER_KEYS: [&str; 12] = [
    "name",
    "image",
    "command",
    "args",
    "env",
    "envFrom",
    "volumeMounts",
    "workingDir",
    "resources",
    "securityContext",
    "imagePullPolicy",
    "volumeDevices",
];
