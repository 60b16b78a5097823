//! The operator as a separate, release-built process, and what /proc says about processes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vrg_testenv::telemetry::get;

/// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`; 100 on Linux).
const TICKS: f64 = 100.0;

/// CPU seconds (user + system) a process has used so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the command name (which may contain spaces) start at field 3.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields
        .get(11)
        .and_then(|f| f.parse().ok())
        .unwrap_or(f64::NAN);
    let stime: f64 = fields
        .get(12)
        .and_then(|f| f.parse().ok())
        .unwrap_or(f64::NAN);
    (utime + stime) / TICKS
}

/// A `/proc/PID/status` field in MiB (`VmRSS`, `VmHWM`).
pub fn memory_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(&format!("{field}:")))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The running operator; killed when dropped.
pub struct Operator {
    child: Child,
    pub metrics: std::net::SocketAddr,
    pub log: PathBuf,
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The release-built operator binary: beside this binary (both in `target/release`).
pub fn operator_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = exe
        .parent()
        .map(|d| d.join("vrg-operator"))
        .ok_or("no directory of the current executable")?;
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --release --bin vrg-operator` first",
            path.display()
        ))
    }
}

impl Operator {
    /// Starts `vrg-operator run` for the VRGs of `namespace` and the Velero objects of
    /// `velero_namespace`, and waits until `/readyz` answers 200.
    pub async fn start(
        kubeconfig: &Path,
        dir: &Path,
        namespace: &str,
        velero_namespace: &str,
    ) -> Result<Self, String> {
        let binary = operator_binary()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let metrics: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let log = dir.join(format!("operator-{namespace}.log"));
        let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        // `VRG_BENCH_WRAP="heaptrack -o FILE"` (or `perf record -g -o FILE --`) runs the operator
        // under a profiler; the figures of such a run describe the profiler too.
        let wrap = std::env::var("VRG_BENCH_WRAP").unwrap_or_default();
        // `VRG_BENCH_OPERATOR_LOG="vrg_operator=debug,kube_runtime=debug"` tells what the operator
        // did and why (`kube_runtime` names each reconcile's trigger), e.g. in a slow transition.
        let log_filter = std::env::var("VRG_BENCH_OPERATOR_LOG").unwrap_or_else(|_| "warn".into());
        let mut words = wrap.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(words).arg(&binary);
                c
            }
            None => Command::new(&binary),
        };
        let child = command
            .args([
                "run",
                "--velero-namespace",
                velero_namespace,
                "--watch-namespace",
                namespace,
                "--admin-namespace",
                namespace,
                "--metrics-address",
                &metrics.to_string(),
                "--log",
                &log_filter,
            ])
            .env("KUBECONFIG", kubeconfig)
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let operator = Self {
            child,
            metrics,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = get(metrics, "/readyz").await {
                return Ok(operator);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the operator never became ready; see {}",
                    operator.log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every sample of the operator's `/metrics`, by series (`name{labels}`).
    pub async fn scrape(&self) -> BTreeMap<String, f64> {
        let body = get(self.metrics, "/metrics")
            .await
            .map(|(_, b)| b)
            .unwrap_or_default();
        body.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                Some((series.to_owned(), value.parse().ok()?))
            })
            .collect()
    }
}

/// API requests from a scrape: (writes, reads), and the count per method.
pub fn requests(scrape: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    let mut by_method = BTreeMap::new();
    for (series, value) in scrape {
        if let Some(labels) = series.strip_prefix("vrg_operator_api_requests_total{")
            && let Some(method) = labels
                .split(',')
                .find_map(|kv| kv.strip_prefix("method=\""))
                .map(|m| m.trim_end_matches(['"', '}']).to_owned())
        {
            *by_method.entry(method).or_insert(0.0) += value;
        }
    }
    by_method
}

pub fn writes(by_method: &BTreeMap<String, f64>) -> f64 {
    ["POST", "PUT", "PATCH", "DELETE"]
        .iter()
        .map(|m| by_method.get(*m).copied().unwrap_or(0.0))
        .sum()
}

/// `after - before`, per key.
pub fn delta(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .collect()
}
