//! The operator binary as a child process, the way a cluster runs it: killed (SIGKILL, as a node
//! failure would) when dropped.

use std::net::SocketAddr;
use std::process::{Child, Command};

use vrg_testenv::shared;

use super::env::Env;
use super::http::{get, metric};

pub struct Operator {
    pub name: &'static str,
    pub child: Child,
    pub metrics: SocketAddr,
    pub log: std::path::PathBuf,
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Operator {
    /// `vrg-operator run` for this test's namespaces, with `args` added; its log goes to a file.
    pub fn start(name: &'static str, env: &Env, args: &[&str]) -> Self {
        Self::start_as(name, env, &shared().kubeconfig, args)
    }

    /// [`Operator::start`] with the credentials of `kubeconfig` (e.g.
    /// `support::rbac::impersonating_kubeconfig`).
    pub fn start_as(
        name: &'static str,
        env: &Env,
        kubeconfig: &std::path::Path,
        args: &[&str],
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let metrics: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = std::env::temp_dir().join(format!("vrg-{}-{name}.log", env.ns));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_vrg-operator"))
            .arg("run")
            .args(args)
            .args(["--velero-namespace", &env.velero_ns])
            .args(["--watch-namespace", &env.ns])
            .args(["--metrics-address", &metrics.to_string()])
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAME", name)
            // Logs go to stdout, errors to stderr: both into the log file.
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Self {
            name,
            child,
            metrics,
            log,
        }
    }

    /// SIGKILL, and reaped: nothing of the process is left.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn scrape(&self, name: &str) -> Option<f64> {
        metric(&get(self.metrics, "/metrics").await.1, name)
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}
