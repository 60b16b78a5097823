//! Job hooks against the cluster: create the hook's Job (or find the one this step already
//! created before a restart), wait until it completes or fails within the step's timeout, record
//! how it ended, and delete it with its pods.
//!
//! A Job this operator created carries the run and step it was created for. One of this very
//! step is waited on, never created twice (exactly once across restarts); one left by an earlier
//! run is replaced, so an old success never passes for a new one. A Job of that name that the
//! operator did not create is waited on as Ramen does (or replaced with `forceCreate`), and never
//! deleted.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams, PostParams};
use tokio::time::Instant;

use super::exec::{Outcome, POLL};
use super::hooks::HookKey;
use crate::api::progress::HookResult;
use crate::recipe::plan::{JobRun, JobStep};
use crate::velero::names::{LABEL_RUN, LABEL_VRG_NAME, LABEL_VRG_NAMESPACE};

/// The step (index in its run) a Job was created for.
pub const LABEL_STEP: &str = "vrg.ramendr.openshift.io/step";

/// Whose a Job of the hook's name is.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// Created for this step of this run: wait on it.
    ThisStep,
    /// Created by us for another run or step: a leftover, replaced.
    Leftover,
    /// Not created by us: waited on (replaced only with `forceCreate`), never deleted.
    Users,
}

fn whose(job: &Job, key: &HookKey) -> Found {
    let labels = job.metadata.labels.as_ref();
    let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    match (label(LABEL_RUN), label(LABEL_STEP)) {
        (None, _) => Found::Users,
        (Some(run), Some(step)) if run == key.run_id && step == key.step.to_string() => {
            Found::ThisStep
        }
        _ => Found::Leftover,
    }
}

pub(super) async fn job_step(
    client: &kube::Client,
    step: &JobStep,
    key: &HookKey,
    deadline: Instant,
) -> Outcome {
    let (run, deadline) = match (&step.inverse, key.inverse) {
        (Some(inv), true) => (inv, Instant::now() + inv.timeout),
        (None, true) => return (false, "the job has no inverse".into(), vec![]),
        (_, false) => (&step.run, deadline),
    };
    let target = format!("job/{}", run.name);
    let fail = |message: String| {
        let result = HookResult {
            target: target.clone(),
            message: Some(message.clone()),
            ..HookResult::default()
        };
        (false, format!("{target}: {message}"), vec![result])
    };
    let api = Api::<Job>::namespaced(client.clone(), &run.namespace);
    let ours = match start(&api, run, key, deadline).await {
        Ok(ours) => ours,
        Err(e) => return fail(e),
    };
    let ended = wait(&api, &run.name, deadline).await;
    if ours {
        // The Job and its pods go; what it did is in the step's result.
        let _ = api.delete(&run.name, &DeleteParams::background()).await;
    }
    match ended {
        Ok(said) => {
            let result = HookResult {
                target: target.clone(),
                exit_code: Some(0),
                message: Some(said.clone()),
                ..HookResult::default()
            };
            (true, format!("{target}: {said}"), vec![result])
        }
        Err(e) if ours => fail(format!("{e}; the Job was deleted")),
        Err(e) => fail(e),
    }
}

/// Makes sure the Job to wait on exists; true if the operator created it (and so deletes it).
async fn start(
    api: &Api<Job>,
    run: &JobRun,
    key: &HookKey,
    deadline: Instant,
) -> Result<bool, String> {
    let existing = api
        .get_opt(&run.name)
        .await
        .map_err(|e| format!("cannot read the Job: {e}"))?;
    match existing.as_ref().map(|j| whose(j, key)) {
        Some(Found::ThisStep) => return Ok(true),
        Some(Found::Users) if !run.force_create => return Ok(false),
        Some(_) => replace(api, &run.name, deadline).await?,
        None => {}
    }
    let mut job: Job = serde_json::from_value(run.job.clone())
        .map_err(|e| format!("the recipe's template is not a valid Job: {e}"))?;
    let labels = job.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(LABEL_RUN.into(), key.run_id.clone());
    labels.insert(LABEL_STEP.into(), key.step.to_string());
    labels.insert(LABEL_VRG_NAMESPACE.into(), key.vrg_namespace.clone());
    labels.insert(LABEL_VRG_NAME.into(), key.vrg_name.clone());
    match api.create(&PostParams::default(), &job).await {
        Ok(_) => Ok(true),
        Err(e) => Err(format!("cannot create the Job: {e}")),
    }
}

/// Deletes the Job of that name and waits until it is gone.
async fn replace(api: &Api<Job>, name: &str, deadline: Instant) -> Result<(), String> {
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(e) => return Err(format!("cannot replace the existing Job: {e}")),
    }
    while Instant::now() < deadline {
        match api.get_opt(name).await {
            Ok(None) => return Ok(()),
            Ok(Some(_)) => tokio::time::sleep(POLL).await,
            Err(e) => return Err(format!("cannot read the Job: {e}")),
        }
    }
    Err("the existing Job was not deleted in time to be replaced".into())
}

/// Waits for the Job's `Complete` or `Failed` condition; Ok says how it completed.
async fn wait(api: &Api<Job>, name: &str, deadline: Instant) -> Result<String, String> {
    let started = Instant::now();
    loop {
        let job = match api.get_opt(name).await {
            Ok(Some(job)) => job,
            Ok(None) => return Err("the Job was deleted before it finished".into()),
            Err(e) => return Err(format!("cannot read the Job: {e}")),
        };
        let status = job.status.unwrap_or_default();
        let condition = |kind: &str| {
            status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == kind && c.status == "True")
                .cloned()
        };
        let counts = format!(
            "{} pod(s) succeeded, {} failed",
            status.succeeded.unwrap_or(0),
            status.failed.unwrap_or(0)
        );
        if condition("Complete").is_some() {
            return Ok(format!("complete: {counts}"));
        }
        if let Some(failed) = condition("Failed") {
            let why = [failed.reason, failed.message]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            return Err(format!("failed ({why}): {counts}"));
        }
        if Instant::now() + POLL >= deadline {
            let waited = Duration::from_secs(started.elapsed().as_secs());
            return Err(format!(
                "did not finish within {} ({counts})",
                humantime::format_duration(waited)
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}
