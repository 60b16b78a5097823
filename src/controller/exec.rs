//! The hook runner: each exec op (through the pod `exec` API), check (`check`), scale (`scale`)
//! and job (`job`) step runs in a task of its own, so that reconcile never waits on it, and a
//! finished task wakes its VRG.
//! A task's result stays here until the engine has recorded it; after an operator restart no task
//! exists, and the engine reruns the op as a new, visible attempt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, ListParams};
use kube::runtime::reflector::ObjectRef;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;

use super::hooks::{HookKey, HookRunner};
use crate::api::VolumeReplicationGroup;
use crate::api::progress::HookResult;
use crate::engine::HookObservation;
use crate::hooks::budget;
use crate::hooks::exit_status::ExitStatus;
use crate::hooks::output::Bounded;
use crate::hooks::select::{self, Choice, Owner};
use crate::recipe::model::SelectResource;
use crate::recipe::plan::{Action, ExecStep, Step, Target};

/// Output kept per stream in status: its head and tail, half each (status must stay small).
pub const OUTPUT_LIMIT: usize = 2048;
/// How often a check is re-evaluated, and a restore hook looks for Running pods.
pub(super) const POLL: Duration = Duration::from_secs(1);

/// How a hook task ended: success, a message a user can act on, and per-target results.
pub(super) type Outcome = (bool, String, Vec<HookResult>);

pub struct ExecRunner {
    client: kube::Client,
    tasks: Mutex<HashMap<HookKey, Option<Outcome>>>,
    /// How many `tasks` holds, exported as a metric.
    held: prometheus_client::metrics::gauge::Gauge,
    /// Wakes the VRG whose hook task just finished.
    wake: UnboundedSender<ObjectRef<VolumeReplicationGroup>>,
}

/// The VRGs to reconcile because one of their hook tasks finished.
pub type Wakes = UnboundedReceiver<ObjectRef<VolumeReplicationGroup>>;

impl ExecRunner {
    pub fn new(
        client: kube::Client,
        held: prometheus_client::metrics::gauge::Gauge,
    ) -> (Arc<Self>, Wakes) {
        let (wake, wakes) = unbounded_channel();
        (
            Arc::new(Self {
                client,
                tasks: Mutex::new(HashMap::new()),
                held,
                wake,
            }),
            wakes,
        )
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<HookKey, Option<Outcome>>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, tasks: &HashMap<HookKey, Option<Outcome>>) {
        self.held
            .set(i64::try_from(tasks.len()).unwrap_or(i64::MAX));
    }

    /// Records a task's outcome, unless its VRG was forgotten meanwhile (deleted).
    fn finish(self: &Arc<Self>, key: &HookKey, outcome: Outcome) {
        match self.tasks().get_mut(key) {
            Some(slot) => *slot = Some(outcome),
            None => return,
        }
        let _ = self
            .wake
            .send(ObjectRef::new(&key.vrg_name).within(&key.vrg_namespace));
    }
}

/// Starting needs the runner as an `Arc` (the task keeps it); [`HookRunner`] is implemented on it.
pub struct SharedExecRunner(pub Arc<ExecRunner>);

impl HookRunner for SharedExecRunner {
    fn start(&self, key: HookKey, step: &Step) {
        let runner = self.0.clone();
        {
            let mut tasks = runner.tasks();
            if tasks.contains_key(&key) {
                return;
            }
            // Results of this VRG's earlier runs are no longer needed.
            tasks.retain(|k, _| {
                k.vrg_namespace != key.vrg_namespace
                    || k.vrg_name != key.vrg_name
                    || k.run_id == key.run_id
            });
            tasks.insert(key.clone(), None);
            runner.count(&tasks);
        }
        let step = step.clone();
        tokio::spawn(async move {
            let outcome = run(&runner.client, &step, &key).await;
            runner.finish(&key, outcome);
        });
    }

    fn observe(&self, key: &HookKey) -> HookObservation {
        match self.0.tasks().get(key) {
            None => HookObservation::NotRunning,
            Some(None) => HookObservation::Running,
            Some(Some((ok, message, results))) => HookObservation::Finished {
                ok: *ok,
                message: message.clone(),
                results: results.clone(),
            },
        }
    }

    fn forget(&self, namespace: &str, name: &str) {
        let mut tasks = self.0.tasks();
        tasks.retain(|k, _| k.vrg_namespace != namespace || k.vrg_name != name);
        self.0.count(&tasks);
    }
}

async fn run(client: &kube::Client, step: &Step, key: &HookKey) -> Outcome {
    let deadline = Instant::now() + step.timeout;
    match &step.action {
        Action::Exec(exec) => exec_step(client, exec, key.inverse, deadline).await,
        Action::Check(check) => super::check::check_step(client, check, deadline).await,
        Action::Scale(scale) => super::scale::scale_step(client, scale, deadline).await,
        Action::Job(job) => super::job::job_step(client, job, key, deadline).await,
        Action::Backup { .. } | Action::Restore { .. } => (false, "not a hook step".into(), vec![]),
    }
}

/// Reads `stream` to its end into `into`, which keeps only its head and tail: a command's output
/// never costs more than [`OUTPUT_LIMIT`] per stream, however much it prints.
async fn bounded(stream: Option<impl tokio::io::AsyncRead + Unpin>, into: &mut Bounded) {
    let Some(mut stream) = stream else {
        return;
    };
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        into.push(&buf[..n]);
    }
}

/// Every object of kind `K` in `ns`, reduced to what pod selection needs.
async fn owners<K>(
    client: &kube::Client,
    ns: &str,
    params: &ListParams,
) -> Result<Vec<Owner>, kube::Error>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let list = Api::<K>::namespaced(client.clone(), ns)
        .list(params)
        .await?;
    Ok(list
        .items
        .into_iter()
        .map(|o| {
            let meta = o.meta().clone();
            Owner {
                owned_by: meta
                    .owner_references
                    .iter()
                    .flatten()
                    .map(|r| r.uid.clone())
                    .collect(),
                meta,
            }
        })
        .collect())
}

/// The pods of `target` to exec into, from a fresh read of the namespace.
async fn choices(
    client: &kube::Client,
    target: &Target,
    container: Option<&str>,
    single: bool,
) -> Result<Vec<Choice>, kube::Error> {
    let ns = &target.namespace;
    // The API server filters what it can (Running pods, the target's selector on the kind it
    // selects directly); `select::choose` decides.
    let pod_params = match target.resource {
        SelectResource::Pod => select::list_params(target, &[select::RUNNING]),
        _ => ListParams::default().fields(select::RUNNING),
    };
    let selected = select::list_params(target, &[]);
    let every = ListParams::default();
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&pod_params)
        .await?
        .items;
    let (workloads, replica_sets) = match target.resource {
        SelectResource::Deployment => (
            owners::<Deployment>(client, ns, &selected).await?,
            owners::<ReplicaSet>(client, ns, &every).await?,
        ),
        SelectResource::StatefulSet => {
            (owners::<StatefulSet>(client, ns, &selected).await?, vec![])
        }
        SelectResource::DaemonSet => (owners::<DaemonSet>(client, ns, &selected).await?, vec![]),
        SelectResource::Pod | SelectResource::Custom { .. } => (vec![], vec![]),
    };
    Ok(select::choose(
        target,
        container,
        single,
        &pods,
        &workloads,
        &replica_sets,
    ))
}

async fn exec_step(
    client: &kube::Client,
    exec: &ExecStep,
    inverse: bool,
    deadline: Instant,
) -> Outcome {
    let (container, commands, deadline) = match (&exec.inverse, inverse) {
        (Some(inv), true) => (
            inv.container.as_deref(),
            &inv.commands,
            Instant::now() + inv.timeout,
        ),
        _ => (exec.container.as_deref(), &exec.commands, deadline),
    };
    let chosen = loop {
        match choices(client, &exec.target, container, exec.single_pod_only).await {
            Ok(c) if !c.is_empty() => break c,
            Ok(_) if exec.wait_for_running && Instant::now() + POLL < deadline => {
                tokio::time::sleep(POLL).await
            }
            Ok(_) => {
                return (
                    false,
                    format!(
                        "no Running pod in namespace {} matches the hook's selector{}",
                        exec.target.namespace,
                        container
                            .map(|c| format!(" with container {c}"))
                            .unwrap_or_default()
                    ),
                    vec![],
                );
            }
            Err(e) => {
                return (
                    false,
                    format!(
                        "cannot list pods in namespace {}: {e}",
                        exec.target.namespace
                    ),
                    vec![],
                );
            }
        }
    };
    let pods = Api::<Pod>::namespaced(client.clone(), &exec.target.namespace);
    let mut results = vec![];
    for choice in &chosen {
        for argv in commands {
            let result = exec_one(&pods, choice, argv, deadline).await;
            let failed = result.exit_code != Some(0);
            let summary = format!(
                "pod/{} container {}: {argv:?}",
                choice.pod, choice.container
            );
            let message = result.message.clone();
            results.push(result);
            if failed {
                let why = message.unwrap_or_else(|| "failed".into());
                return kept(false, format!("{summary}: {why}"), results);
            }
        }
    }
    kept(
        true,
        format!(
            "{} command(s) succeeded in {} pod(s)",
            commands.len() * chosen.len(),
            chosen.len()
        ),
        results,
    )
}

/// The outcome with only the results status keeps (failures first), saying what it left out.
fn kept(ok: bool, message: String, results: Vec<HookResult>) -> Outcome {
    let (results, note) = budget::keep(results, |r| r.exit_code != Some(0));
    match note {
        Some(note) => (ok, format!("{message}; {note}"), results),
        None => (ok, message, results),
    }
}

/// Runs one command in one container; the stream is closed when the deadline passes.
async fn exec_one(
    pods: &Api<Pod>,
    choice: &Choice,
    argv: &[String],
    deadline: Instant,
) -> HookResult {
    let mut result = HookResult {
        target: format!("pod/{}", choice.pod),
        container: Some(choice.container.clone()),
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        message: None,
        replicas: None,
    };
    let params = AttachParams::default()
        .container(&choice.container)
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let work = async {
        let mut process = pods.exec(&choice.pod, argv.to_vec(), &params).await?;
        let (mut out, mut err) = (Bounded::new(OUTPUT_LIMIT), Bounded::new(OUTPUT_LIMIT));
        let status = process.take_status();
        tokio::join!(
            bounded(process.stdout(), &mut out),
            bounded(process.stderr(), &mut err)
        );
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        Ok::<_, kube::Error>((out, err, status))
    };
    match tokio::time::timeout_at(deadline, work).await {
        Err(_) => {
            // Dropping the future closes the exec stream.
            result.message = Some("timed out; the command's stream was closed".into());
        }
        Ok(Err(e)) => result.message = Some(format!("exec failed: {e}")),
        Ok(Ok((out, err, status))) => {
            result.stdout = out.text();
            result.stderr = err.text();
            match status.map(|s| ExitStatus::from_status(&s)) {
                Some(ExitStatus::Success) => result.exit_code = Some(0),
                Some(ExitStatus::Code(c)) => {
                    result.exit_code = Some(c);
                    result.message = Some(format!(
                        "exited {c}{}",
                        if result.stderr.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", result.stderr.trim())
                        }
                    ));
                }
                Some(ExitStatus::Error(m)) => result.message = Some(m),
                None => result.message = Some("the exec stream ended without a status".into()),
            }
        }
    }
    result
}
