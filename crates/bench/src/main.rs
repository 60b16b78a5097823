//! `vrg-bench`: figures for vrg-operator against the real test control plane (etcd,
//! kube-apiserver, kube-controller-manager, kwok), with the operator as a separate release-built
//! process and a watch-driven Velero stand-in. See BENCHMARKS.md. Not part of the test suite.
//!
//! ```sh
//! cargo build --release --bin vrg-operator && cargo run --release -p vrg-bench -- --scenario all
//! ```

mod driver;
mod peers;
mod process;
mod scenarios;
mod stats;

use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use vrg_testenv::{ControlPlane, Options};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    All,
    Latency,
    Scale,
    Exec,
    Recipe,
    /// Side by side with Ramen's operator and Velero's own hooks (not part of `all`).
    Peers,
}

/// Benchmarks vrg-operator against a real control plane started on loopback.
#[derive(Debug, Parser)]
#[command(name = "vrg-bench")]
pub struct Args {
    /// Which scenario to run.
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    scenario: Scenario,
    /// Scale: VRGs started together (comma-separated for several runs, e.g. 1000,5000).
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    vrgs: Vec<usize>,
    /// Scale: seconds of idle sampling after every capture completed.
    #[arg(long, default_value_t = 30)]
    idle_seconds: u64,
    /// Latency: VRGs captured together in each round (comma-separated for several runs: 1 shows
    /// the operator's own delay, more show queueing in a saturated API server).
    #[arg(long, value_delimiter = ',', default_value = "1,10")]
    latency_vrgs: Vec<usize>,
    /// Latency: how long the driver takes to complete a Backup (a real one takes seconds; the
    /// operator's work for the previous step then never overlaps the transition measured).
    #[arg(long, default_value_t = 100)]
    backup_ms: u64,
    /// Latency: at least this many step transitions.
    #[arg(long, default_value_t = 1000)]
    transitions: usize,
    /// Exec: samples of the operator's exec hook and of `kubectl exec`.
    #[arg(long, default_value_t = 50)]
    exec_samples: usize,
    /// Recipe: iterations per recipe.
    #[arg(long, default_value_t = 1000)]
    recipe_iterations: usize,
    /// Recipe: steps of the generated recipe.
    #[arg(long, default_value_t = 1000)]
    recipe_steps: usize,
    /// Peers: captures of vrg-operator and Backups with Velero's hooks measured (after a first).
    #[arg(long, default_value_t = 10)]
    peer_samples: usize,
    /// Peers: captures of Ramen measured (each waits for Ramen's one-minute interval; 0 skips
    /// Ramen, which needs `hack/ramen-peer.sh` first).
    #[arg(long, default_value_t = 3)]
    ramen_samples: usize,
}

fn machine(version: &str) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or("?".into(), |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    format!(
        "machine: {model}, {cpus} CPUs, {mem} RAM, Linux {kernel}, Kubernetes {version} (etcd, kube-apiserver, kube-controller-manager, kwok on loopback)"
    )
}

fn collect(rows: &mut Vec<stats::Row>, name: &str, result: Result<Vec<stats::Row>, String>) {
    match result {
        Ok(r) => rows.extend(r),
        Err(e) => eprintln!("vrg-bench: scenario {name} failed: {e}"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    let scenario = args.scenario;
    let wants = |s: Scenario| scenario == Scenario::All || scenario == s;
    let mut rows = vec![];
    if scenario == Scenario::Peers {
        if let Err(e) = process::operator_binary() {
            eprintln!("vrg-bench: {e}");
            return ExitCode::from(2);
        }
        collect(&mut rows, "peers", peers::peers(&args).await);
        println!("\n{}\n", machine("(two control planes, see above)"));
        println!("{}", stats::table(&rows));
        return ExitCode::SUCCESS;
    }
    if wants(Scenario::Recipe) {
        rows.extend(scenarios::recipe(&args));
    }
    let mut version = "(not started)".to_owned();
    if wants(Scenario::Latency) || wants(Scenario::Scale) || wants(Scenario::Exec) {
        if let Err(e) = process::operator_binary() {
            eprintln!("vrg-bench: {e}");
            return ExitCode::from(2);
        }
        eprintln!("vrg-bench: starting the control plane");
        let plane = match ControlPlane::start(Options::default()).await {
            Ok(plane) => plane,
            Err(e) => {
                eprintln!("vrg-bench: the control plane did not start: {e}");
                return ExitCode::from(1);
            }
        };
        eprintln!(
            "vrg-bench: control plane up in {:.1}s ({})",
            plane.startup.as_secs_f64(),
            plane.dir.display()
        );
        let client = plane.client().await.expect("a client");
        version = client
            .apiserver_version()
            .await
            .map(|v| v.git_version)
            .unwrap_or_else(|e| e.to_string());
        if wants(Scenario::Latency) {
            for &n in &args.latency_vrgs {
                collect(
                    &mut rows,
                    "latency",
                    scenarios::latency(&plane, &args, n).await,
                );
            }
            collect(
                &mut rows,
                "latency",
                scenarios::api_floor(&plane, &args).await,
            );
        }
        if wants(Scenario::Exec) {
            collect(&mut rows, "exec", scenarios::exec(&plane, &args).await);
        }
        if wants(Scenario::Scale) {
            for &n in &args.vrgs {
                collect(&mut rows, "scale", scenarios::scale(&plane, &args, n).await);
            }
        }
    }
    println!("\n{}\n", machine(&version));
    println!("{}", stats::table(&rows));
    if rows.iter().any(|r| r.met == Some(false)) {
        println!("(targets marked **no** were missed; see BENCHMARKS.md for why)");
    }
    ExitCode::SUCCESS
}
