//! `kubectl vrg`: a kubectl plugin for following and driving VRGs — a live tree of the running
//! workflow, the fleet's RPO, the captures a cluster can see, and the DR operations (capture now,
//! fail over, relocate) as one safe command each.
//!
//! kubectl runs `kubectl-vrg` from `PATH` for `kubectl vrg ...`; it honours kubectl's
//! `--kubeconfig`, `--context`, `-n` and `-A`, and `KUBECONFIG`. The pure parts (the tree, the
//! tables, the safety checks) are separate from the commands that read the cluster.

mod commands;
mod connect;
mod dashboard;
pub mod format;
pub mod page;
pub mod rows;
pub mod safety;
pub mod tree;

#[cfg(test)]
mod tree_tests;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use crate::cli::{EXIT_OK, EXIT_USAGE};
use crate::cli::{PlanFormat, WorkflowArg};

/// Exit code: refused as unsafe, or the run it followed failed (where the CLI's 1 is
/// `EXIT_INVALID`). 0 is done (for `capture --wait` and the moves: the run succeeded); 2 is bad
/// usage, or the cluster could not be read.
pub const EXIT_FAILED: u8 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-vrg",
    bin_name = "kubectl vrg",
    version,
    about = "Follow and drive VolumeReplicationGroups: live workflow trees, RPO, captures, and \
             safe capture, failover and relocate",
    long_about = "Follow and drive VolumeReplicationGroups: live workflow trees, RPO, captures, \
                  and safe capture, failover and relocate.\n\n\
                  Exit codes: 0 success, 1 refused or failed, 2 usage or cluster error."
)]
pub struct Cli {
    #[command(flatten)]
    pub cluster: ClusterFlags,
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's own flags, with its meaning.
#[derive(Debug, Args, Clone)]
pub struct ClusterFlags {
    /// Path to the kubeconfig file (default: `KUBECONFIG`, then `~/.kube/config`).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The namespace (default: the context's, else `default`).
    #[arg(long, short = 'n', global = true)]
    pub namespace: Option<String>,
    /// Every namespace (`list`).
    #[arg(long = "all-namespaces", short = 'A', global = true)]
    pub all_namespaces: bool,
    /// Where Velero's objects are.
    #[arg(
        long,
        global = true,
        env = "VELERO_NAMESPACE",
        default_value = "velero"
    )]
    pub velero_namespace: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A VRG's state and conditions, then its current (or last) run as a tree.
    Get {
        name: String,
        /// Redraw as it changes (in place on a terminal, frame after frame otherwise).
        #[arg(long, short = 'w')]
        watch: bool,
    },
    /// Every VRG with its state, protection, RPO (age of the newest restorable capture) and step.
    List,
    /// The captures of a VRG visible in this cluster, newest first.
    Captures {
        name: String,
        /// A namespace whose VRGs may protect other namespaces (the operator's setting).
        #[arg(long = "admin-namespace", value_name = "NS", default_value = crate::recipe::scope::DEFAULT_OPERATOR_NAMESPACE)]
        admin_namespaces: Vec<String>,
    },
    /// Ask for a capture now; with `--wait`, follow it and exit 0 only if it succeeded.
    Capture {
        name: String,
        #[arg(long)]
        wait: bool,
    },
    /// Recover the application on this cluster from the newest capture (the primary is lost).
    Failover {
        name: String,
        /// Follow the recovery until it ends; exit 0 only if it recovered.
        #[arg(long)]
        wait: bool,
        /// A namespace whose VRGs may protect other namespaces (the operator's setting).
        #[arg(long = "admin-namespace", value_name = "NS", default_value = crate::recipe::scope::DEFAULT_OPERATOR_NAMESPACE)]
        admin_namespaces: Vec<String>,
    },
    /// Move the application here after the other cluster's final capture (planned move).
    Relocate {
        name: String,
        #[arg(long)]
        wait: bool,
        /// A namespace whose VRGs may protect other namespaces (the operator's setting).
        #[arg(long = "admin-namespace", value_name = "NS", default_value = crate::recipe::scope::DEFAULT_OPERATOR_NAMESPACE)]
        admin_namespaces: Vec<String>,
    },
    /// The hook output recorded for the steps of the current (or last) run.
    Logs {
        name: String,
        /// Only step N (1-based, as `get` numbers them top to bottom).
        #[arg(long)]
        step: Option<usize>,
    },
    /// Serve a read-only web page of every VRG (`-A`) or the namespace's, with protection, RPO
    /// and the live progress of running workflows.
    Dashboard {
        /// Where to serve it; loopback by default, so only this machine sees it.
        #[arg(long, default_value = "127.0.0.1:8089")]
        address: std::net::SocketAddr,
    },
    /// The plan of the live VRG and its Recipe.
    Plan {
        name: String,
        #[arg(long, value_enum, default_value_t = WorkflowArg::Backup)]
        workflow: WorkflowArg,
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// A namespace whose VRGs may protect other namespaces (the operator's setting).
        #[arg(long = "admin-namespace", value_name = "NS", default_value = crate::recipe::scope::DEFAULT_OPERATOR_NAMESPACE)]
        admin_namespaces: Vec<String>,
    },
}

/// The plugin's errors: each says what could not be done and why.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the kubeconfig: {0}")]
    Kubeconfig(#[source] kube::config::KubeconfigError),
    #[error("cannot reach the cluster: {0}")]
    Connect(#[source] kube::Error),
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("VolumeReplicationGroup {0} not found")]
    NotFound(String),
    #[error("cannot start: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot serve on {0}: {1}")]
    Serve(std::net::SocketAddr, #[source] std::io::Error),
}

/// Runs the plugin; the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", Error::Runtime(e));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
