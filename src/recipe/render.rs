//! `vrg-operator plan` output: one step per line, a diagram, or the Velero objects of group steps.

use std::fmt::Write;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::model::{FailOn, NameSelector, OnError, SelectResource};
use super::plan::{Action, ScaleOp, Step, Target, WorkflowPlan};

/// The steps in order, one per line.
pub fn text(workflow: &WorkflowPlan) -> String {
    let mut out = String::new();
    // Whether a step is essential matters only when the workflow does not stop on any error.
    let essential_matters = workflow.fail_on != FailOn::AnyError;
    for (i, step) in workflow.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}. {}: {}",
            i + 1,
            step.name,
            describe(step, essential_matters)
        );
    }
    out
}

fn describe(step: &Step, essential_matters: bool) -> String {
    let mut words = match &step.action {
        Action::Backup { spec, .. } => format!("Velero Backup of {}", filter(&spec.filter)),
        Action::Restore {
            backup_group, spec, ..
        } => {
            let mut s = format!(
                "Velero Restore of {} from the capture of group {backup_group}",
                filter(&spec.filter)
            );
            if spec.existing_resource_policy.is_some() {
                s.push_str(", overwriting existing objects");
            }
            if let Some(hooks) = &spec.hooks {
                let names: Vec<&str> = hooks.resources.iter().map(|h| h.name.as_str()).collect();
                let _ = write!(s, ", with init containers of {}", names.join(", "));
            }
            s
        }
        Action::Exec(exec) => {
            let commands: Vec<String> = exec
                .commands
                .iter()
                .map(|argv| format!("{argv:?}"))
                .collect();
            let mut s = format!(
                "exec {} in {}",
                commands.join(" then "),
                target(&exec.target, true)
            );
            if let Some(c) = &exec.container {
                let _ = write!(s, ", container {c}");
            }
            if exec.single_pod_only {
                s.push_str(", one pod per workload");
            }
            if exec.wait_for_running {
                s.push_str(", once pods are Running");
            }
            if let Some(inverse) = &exec.inverse {
                let _ = write!(s, ", on failure runs {}", inverse.op);
            }
            s
        }
        Action::Scale(scale) => {
            let t = target(&scale.target, false);
            match scale.op {
                ScaleOp::Down => format!("scale {t} to zero, remembering their replicas"),
                ScaleOp::Up => format!("scale {t} back to their remembered replicas"),
                ScaleOp::Sync => format!("wait until every replica of {t} is ready"),
            }
        }
        Action::Job(job) => {
            let mut s = format!(
                "run Job {} in namespace {} until it completes",
                job.run.name, job.run.namespace
            );
            if job.run.force_create {
                s.push_str(", replacing one of that name");
            }
            if let Some(inverse) = &job.inverse {
                let _ = write!(s, ", on failure runs {}", inverse.name);
            }
            s
        }
        Action::Check(check) => {
            let mut s = format!(
                "wait until {} on {}",
                check.condition,
                target(&check.target, false)
            );
            if check.skip_if_not_present {
                s.push_str(" (skipped if none exist)");
            }
            s
        }
    };
    let on_error = match step.on_error {
        OnError::Fail => "fail",
        OnError::Continue => "continue",
    };
    let _ = write!(
        words,
        " [timeout {}, onError {on_error}{}]",
        humantime::format_duration(step.timeout),
        match (essential_matters, step.essential) {
            (false, _) => "",
            (true, true) => ", essential",
            (true, false) => ", not essential",
        }
    );
    words
}

fn filter(f: &crate::api::velero::ResourceFilter) -> String {
    let mut s = format!("namespaces {}", f.included_namespaces.join(","));
    if !f.included_resources.is_empty() {
        let _ = write!(s, ", resources {}", f.included_resources.join(","));
    }
    // The default exclusions (volume and Endpoints objects) are named in `--format yaml` only.
    let (defaults, own): (Vec<&String>, Vec<&String>) = f
        .excluded_resources
        .iter()
        .partition(|r| super::exclusions::is_default(r));
    if !own.is_empty() {
        let own: Vec<&str> = own.iter().map(|r| r.as_str()).collect();
        let _ = write!(s, ", excluding {}", own.join(","));
    }
    if !defaults.is_empty() {
        s.push_str(" (default exclusions apply)");
    }
    if let Some(sel) = &f.label_selector {
        let _ = write!(s, ", labels {}", selector(sel));
    }
    for sel in &f.or_label_selectors {
        let _ = write!(s, " or {}", selector(sel));
    }
    s
}

/// A selector in kubectl's syntax.
pub fn selector(sel: &LabelSelector) -> String {
    let mut terms: Vec<String> = sel
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for r in sel.match_expressions.iter().flatten() {
        let values = r.values.as_ref().map(|v| v.join(",")).unwrap_or_default();
        terms.push(match r.operator.as_str() {
            "Exists" => r.key.clone(),
            "DoesNotExist" => format!("!{}", r.key),
            "In" => format!("{} in ({values})", r.key),
            _ => format!("{} notin ({values})", r.key),
        });
    }
    terms.join(",")
}

/// What a hook acts on: exec hooks run in the pods of workloads, checks read the workloads.
fn target(t: &Target, pods: bool) -> String {
    let workload = |kind: &str| {
        if pods {
            format!("pods of {kind}")
        } else {
            kind.to_owned()
        }
    };
    let kind = match &t.resource {
        SelectResource::Pod => "pods".to_owned(),
        SelectResource::Deployment => workload("deployments"),
        SelectResource::StatefulSet => workload("statefulsets"),
        SelectResource::DaemonSet => workload("daemonsets"),
        SelectResource::Custom {
            group,
            version,
            plural,
        } if group.is_empty() => format!("{version}/{plural}"),
        SelectResource::Custom {
            group,
            version,
            plural,
        } => format!("{group}/{version}/{plural}"),
    };
    let mut s = format!("{kind} in namespace {}", t.namespace);
    match &t.name_selector {
        Some(NameSelector::Exact(n)) => {
            let _ = write!(s, " named {n}");
        }
        Some(NameSelector::Pattern(r)) => {
            let _ = write!(s, " with names matching /{}/", r.as_str());
        }
        None => {}
    }
    if let Some(sel) = &t.label_selector {
        let _ = write!(s, " labelled {}", selector(sel));
    }
    s
}

fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A Mermaid flowchart of the steps.
pub fn mermaid(workflow: &WorkflowPlan) -> String {
    let mut out = format!(
        "flowchart TD\n  start((\"{} ({})\"))\n",
        workflow.name,
        workflow.fail_on.as_str()
    );
    let mut previous = "start".to_owned();
    for (i, step) in workflow.steps.iter().enumerate() {
        let id = format!("s{}", i + 1);
        let shape = if matches!(step.action, Action::Backup { .. } | Action::Restore { .. }) {
            ("[", "]")
        } else {
            ("{{", "}}")
        };
        let _ = writeln!(
            out,
            "  {id}{}\"{}\"{}",
            shape.0,
            quoted(&step.name).replace('"', "#quot;"),
            shape.1
        );
        let _ = writeln!(out, "  {previous} --> {id}");
        previous = id;
    }
    out
}

/// A Graphviz digraph of the steps.
pub fn dot(workflow: &WorkflowPlan) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box];\n",
        workflow.name
    );
    for (i, step) in workflow.steps.iter().enumerate() {
        let shape = if matches!(step.action, Action::Backup { .. } | Action::Restore { .. }) {
            "box"
        } else {
            "hexagon"
        };
        let _ = writeln!(
            out,
            "  s{} [label=\"{}\", shape={shape}];",
            i + 1,
            quoted(&step.name)
        );
        if i > 0 {
            let _ = writeln!(out, "  s{} -> s{};", i, i + 1);
        }
    }
    out.push_str("}\n");
    out
}
