//! `--scenario peers`: vrg-operator side by side with what a user would run instead — Ramen's
//! dr-cluster operator and Velero's own backup hooks — on the same control planes, the same real
//! Velero server and object store, the same application and recipe (quiesce, three groups,
//! unquiesce; one group for the Velero comparison). Each system runs in turn, in namespaces of
//! its own; recovery is a failover to a second control plane whose Velero shares the bucket.
//!
//! Counted the same way for all: wall time (watch-observed completion), the API requests of each
//! client from the API server's audit log, the hooks that ran from the pod's own trace, CPU from
//! /proc. Ramen is optional: it needs `hack/ramen-peer.sh` (a Go build, benchmark-only).

mod app;
mod audit;
mod measure;
mod ours;
mod ramen;
mod ramen_run;
mod velero_hooks;

use std::collections::BTreeMap;
use std::path::PathBuf;

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use vrg_operator::api::VolumeReplicationGroup;
use vrg_testenv::dr::{ObjectStore, Velero};
use vrg_testenv::{ControlPlane, Options};

use crate::Args;
use crate::stats::Row;
use measure::{Sample, describe, median, requests_of, total, writes};

const S: &str = "peers";

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// One cluster: a control plane with the audit log on, and its Velero server.
pub struct Cluster {
    pub plane: ControlPlane,
    pub velero: Velero,
}

impl Cluster {
    async fn start(store: Option<&ObjectStore>) -> Result<(Self, Option<ObjectStore>), String> {
        let plane = ControlPlane::start(Options {
            audit: true,
            ..Options::default()
        })
        .await
        .map_err(err)?;
        let own = match store {
            Some(_) => None,
            None => Some(ObjectStore::start(&plane.binaries, &plane.dir).map_err(err)?),
        };
        let store_ref = store.or(own.as_ref()).ok_or("no object store")?;
        let velero = Velero::start(&plane, store_ref, &vrg_testenv::velero::LOCATIONS[..1])
            .await
            .map_err(err)?;
        Ok((Self { plane, velero }, own))
    }

    fn audit(&self) -> Result<PathBuf, String> {
        self.plane
            .audit_log()
            .ok_or_else(|| "the control plane has no audit log".to_owned())
    }

    /// `extra` with Velero and the API server, whose CPU every sample counts.
    fn processes<'a>(&self, extra: &[(&'a str, u32)]) -> Vec<(&'a str, u32)> {
        let mut out = extra.to_vec();
        if let Some(pid) = self.velero.pid() {
            out.push(("velero", pid));
        }
        if let Some((_, pid)) = self
            .plane
            .pids()
            .into_iter()
            .find(|(n, _)| n == "kube-apiserver")
        {
            out.push(("kube-apiserver", pid));
        }
        out
    }
}

/// What one system measured.
#[derive(Default)]
struct Figures {
    captures: Vec<Sample>,
    recovery: Option<Sample>,
    /// The client whose requests are the system's own (the operator; Velero's are counted apart).
    client: &'static str,
    peak_rss_mib: Option<f64>,
}

pub async fn peers(args: &Args) -> Result<Vec<Row>, String> {
    let samples = args.peer_samples;
    eprintln!("vrg-bench: peers: starting two clusters with real Velero and one object store");
    let (east, store) = Cluster::start(None).await?;
    let store = store.ok_or("no object store")?;
    let (west, _) = Cluster::start(Some(&store)).await?;
    let mut results: BTreeMap<&str, Figures> = BTreeMap::new();

    eprintln!("vrg-bench: peers: Velero's own hooks, one group, {samples} Backups");
    let velero = async {
        let (captures, last) = velero_hooks::captures(&east, "app-velero", samples).await?;
        let recovery = velero_hooks::recovery(&west, "app-velero", &last).await;
        Ok::<_, String>((captures, recovery))
    }
    .await;
    record(&mut results, "Velero hooks (1 group)", "velero", velero);

    for groups in [1, 3] {
        let ns = format!("app-ours-{groups}");
        eprintln!("vrg-bench: peers: vrg-operator, {groups} group(s), {samples} captures");
        let ours = async {
            let (captures, peak) = ours::captures(&east, &ns, groups, samples).await?;
            let recovery = ours::recovery(&west, &ns, groups).await;
            Ok::<_, String>(((captures, peak), recovery))
        }
        .await;
        let name = if groups == 1 {
            "vrg-operator (1 group)"
        } else {
            "vrg-operator (3 groups)"
        };
        match ours {
            Ok(((captures, peak), recovery)) => {
                results.insert(
                    name,
                    Figures {
                        captures,
                        recovery: recovery
                            .map_err(|e| eprintln!("vrg-bench: peers: {e}"))
                            .ok(),
                        client: "vrg-operator",
                        peak_rss_mib: Some(peak),
                    },
                );
            }
            Err(e) => eprintln!("vrg-bench: peers: {name}: {e}"),
        }
        // Ramen reconciles every VRG it can see: ours go before it starts.
        for cluster in [&east, &west] {
            remove_vrg(cluster, &ns).await;
        }
    }

    if args.ramen_samples > 0 {
        eprintln!(
            "vrg-bench: peers: Ramen, 3 groups, {} captures (every {})",
            args.ramen_samples,
            ramen_run::INTERVAL
        );
        match ramen_run::run(&east, &west, &store, "app-ramen", args.ramen_samples).await {
            Ok((captures, recovery, peak)) => {
                results.insert(
                    "Ramen (3 groups)",
                    Figures {
                        captures,
                        recovery: recovery
                            .map_err(|e| eprintln!("vrg-bench: peers: Ramen: {e}"))
                            .ok(),
                        client: "ramen",
                        peak_rss_mib: Some(peak),
                    },
                );
            }
            Err(e) => eprintln!("vrg-bench: peers: Ramen did not run: {e}"),
        }
    }
    Ok(rows(&results))
}

fn record(
    results: &mut BTreeMap<&'static str, Figures>,
    name: &'static str,
    client: &'static str,
    outcome: Result<(Vec<Sample>, Result<Sample, String>), String>,
) {
    match outcome {
        Ok((captures, recovery)) => {
            results.insert(
                name,
                Figures {
                    captures,
                    recovery: recovery
                        .map_err(|e| eprintln!("vrg-bench: peers: {name}: {e}"))
                        .ok(),
                    client,
                    peak_rss_mib: None,
                },
            );
        }
        Err(e) => eprintln!("vrg-bench: peers: {name}: {e}"),
    }
}

/// Drops the VRG of `namespace` without an operator to finish it (its finalizer removed).
async fn remove_vrg(cluster: &Cluster, namespace: &str) {
    let Ok(client) = cluster.plane.client().await else {
        return;
    };
    let api: Api<VolumeReplicationGroup> = Api::namespaced(client, namespace);
    let patch = json!({"metadata": {"finalizers": null}});
    let _ = api
        .patch("shop", &PatchParams::default(), &Patch::Merge(&patch))
        .await;
    let _ = api.delete("shop", &DeleteParams::default()).await;
}

fn samples_of(captures: &[Sample], f: impl Fn(&Sample) -> Option<f64>) -> Vec<f64> {
    captures.iter().filter_map(f).collect()
}

fn rows(results: &BTreeMap<&'static str, Figures>) -> Vec<Row> {
    let mut rows = vec![];
    for (name, f) in results {
        let label = |what: &str| format!("{name}: {what}");
        let triggered = samples_of(&f.captures, |s| s.triggered_ms);
        if !triggered.is_empty() {
            rows.push(Row::samples(
                S,
                label("capture, asked → recorded"),
                "ms",
                &triggered,
            ));
        }
        rows.push(Row::samples(
            S,
            label("capture, quiesce ran → recorded"),
            "ms",
            &samples_of(&f.captures, |s| s.from_quiesce_ms),
        ));
        rows.push(Row::samples(
            S,
            label("hook executions per capture (pod trace)"),
            "execs",
            &samples_of(&f.captures, |s| Some(s.hooks as f64)),
        ));
        let own = requests_of(&f.captures, f.client);
        if f.client != "velero" {
            rows.push(Row::value(
                S,
                label(&format!(
                    "API requests per capture by {} (median per verb): {}",
                    f.client,
                    describe(&own)
                )),
                "req",
                total(&own),
            ));
            rows.push(Row::value(
                S,
                label(&format!("… of which writes by {}", f.client)),
                "req",
                writes(&own),
            ));
        }
        let velero = requests_of(&f.captures, "velero");
        rows.push(Row::value(
            S,
            label(&format!(
                "API requests per capture by Velero (median per verb): {}",
                describe(&velero)
            )),
            "req",
            total(&velero),
        ));
        let mut processes = vec![f.client, "velero", "kube-apiserver"];
        processes.dedup();
        for process in processes {
            let cpu = samples_of(&f.captures, |s| s.cpu.get(process).copied());
            if !cpu.is_empty() {
                rows.push(Row::samples(
                    S,
                    label(&format!("{process} CPU per capture")),
                    "ms",
                    &cpu.iter().map(|c| c * 1000.0).collect::<Vec<_>>(),
                ));
            }
        }
        if let Some(peak) = f.peak_rss_mib {
            rows.push(Row::value(
                S,
                label(&format!("{} peak RSS (VmHWM)", f.client)),
                "MiB",
                peak,
            ));
        }
        if let Some(r) = &f.recovery {
            rows.push(Row::value(
                S,
                label("failover to the second cluster: asked → objects back"),
                "s",
                r.triggered_ms.unwrap_or(f64::NAN) / 1000.0,
            ));
        }
    }
    rows.extend(ratios(results));
    rows
}

/// Our figure divided by each peer's, on the figures both have.
fn ratios(results: &BTreeMap<&'static str, Figures>) -> Vec<Row> {
    let pairs = [
        ("vrg-operator (1 group)", "Velero hooks (1 group)"),
        ("vrg-operator (3 groups)", "Ramen (3 groups)"),
    ];
    let mut rows = vec![];
    for (ours, peer) in pairs {
        let (Some(a), Some(b)) = (results.get(ours), results.get(peer)) else {
            continue;
        };
        let ratio = |figure: &str, x: f64, y: f64| {
            Row::value(S, format!("ratio {ours} / {peer}: {figure}"), "×", x / y)
        };
        let med = |f: &Figures, g: fn(&Sample) -> Option<f64>| median(&samples_of(&f.captures, g));
        let tr: fn(&Sample) -> Option<f64> = |s| s.triggered_ms;
        let qu: fn(&Sample) -> Option<f64> = |s| s.from_quiesce_ms;
        let hooks: fn(&Sample) -> Option<f64> = |s| Some(s.hooks as f64);
        if peer.starts_with("Velero") {
            rows.push(ratio(
                "capture wall time, asked → recorded",
                med(a, tr),
                med(b, tr),
            ));
        }
        rows.push(ratio(
            "capture wall time, quiesce → recorded",
            med(a, qu),
            med(b, qu),
        ));
        rows.push(ratio(
            "hook executions per capture",
            med(a, hooks),
            med(b, hooks),
        ));
        let cpu =
            |f: &Figures, p: &str| median(&samples_of(&f.captures, |s| s.cpu.get(p).copied()));
        // The system's requests and CPU: its controller's and Velero's (Velero's own hooks have
        // no controller: Velero is the system).
        let system = |f: &Figures, of: &dyn Fn(&str) -> f64| {
            if f.client == "velero" {
                of("velero")
            } else {
                of(f.client) + of("velero")
            }
        };
        let requests = |f: &Figures| system(f, &|c| total(&requests_of(&f.captures, c)));
        rows.push(ratio(
            "API requests per capture, controller and Velero",
            requests(a),
            requests(b),
        ));
        let cpus = |f: &Figures| system(f, &|p| cpu(f, p));
        rows.push(ratio(
            "CPU per capture, controller and Velero",
            cpus(a),
            cpus(b),
        ));
        if !peer.starts_with("Velero") {
            let own_a = requests_of(&a.captures, a.client);
            let own_b = requests_of(&b.captures, b.client);
            rows.push(ratio(
                "controller API requests per capture",
                total(&own_a),
                total(&own_b),
            ));
            rows.push(ratio(
                "controller API writes per capture",
                writes(&own_a),
                writes(&own_b),
            ));
            rows.push(ratio(
                "controller CPU per capture",
                cpu(a, a.client),
                cpu(b, b.client),
            ));
            if let (Some(x), Some(y)) = (a.peak_rss_mib, b.peak_rss_mib) {
                rows.push(ratio("controller peak RSS", x, y));
            }
        }
        rows.push(ratio(
            "Velero CPU per capture",
            cpu(a, "velero"),
            cpu(b, "velero"),
        ));
        rows.push(ratio(
            "kube-apiserver CPU per capture",
            cpu(a, "kube-apiserver"),
            cpu(b, "kube-apiserver"),
        ));
        if let (Some(x), Some(y)) = (&a.recovery, &b.recovery) {
            rows.push(ratio(
                "failover, asked → objects back",
                x.triggered_ms.unwrap_or(f64::NAN),
                y.triggered_ms.unwrap_or(f64::NAN),
            ));
        }
    }
    rows
}
