//! Hook test helpers: commands exec'd in kwok pods run in kwok's work directory, where each
//! test's commands append to a trace file of its own.

use vrg_operator::api::VolumeReplicationGroup;
use vrg_operator::api::progress::{RunPhase, WorkflowRun};
use vrg_testenv::shared;

use super::env::Env;

/// The trace file of this test in kwok's work directory, where exec'd commands run.
pub fn trace(env: &Env) -> std::path::PathBuf {
    shared().kwok_workdir.join(format!("trace-{}", env.ns))
}

pub fn lines(env: &Env) -> Vec<String> {
    std::fs::read_to_string(trace(env))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn vrg(recipe: &str) -> String {
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {{name: app}}
spec:
  replicationState: primary
  s3Profiles: [east]
  kubeObjectProtection:
    captureInterval: 1h
    recipe:
{recipe}"
    )
}

pub fn finished(v: &VolumeReplicationGroup) -> Option<WorkflowRun> {
    v.status
        .as_ref()?
        .kube_object_protection
        .as_ref()?
        .run
        .clone()
        .filter(|r| r.phase != RunPhase::Running)
}
