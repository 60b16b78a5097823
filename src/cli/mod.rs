//! The command line: one binary, four commands.
//!
//! Exit codes are part of the interface, so scripts and CI can tell a bad recipe from a bad
//! invocation: 0 success, 1 the input is invalid, 2 usage or I/O error.

mod documents;
mod plan;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::controller::{OnDelete, Options};
use crate::recipe::Settings;
use crate::recipe::scope::DEFAULT_OPERATOR_NAMESPACE;
use crate::telemetry::LogFormat;

/// Exit code: the command did what was asked.
pub const EXIT_OK: u8 = 0;
/// Exit code: the input (a recipe, a VRG) is invalid.
pub const EXIT_INVALID: u8 = 1;
/// Exit code: bad usage, or a file that cannot be read or written.
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "vrg-operator",
    version,
    about = "Protects an application's Kubernetes objects for disaster recovery",
    long_about = "Watches VolumeReplicationGroups, runs each one's recipe (Velero Backups and \
                  Restores for groups, pod exec and condition checks for hooks) on a schedule \
                  while primary and in order after a failover.\n\n\
                  Exit codes: 0 success, 1 invalid input, 2 usage or I/O error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller against the cluster of the current kubeconfig (or in-cluster config).
    Run(RunArgs),
    /// Print the CustomResourceDefinitions this operator owns, as multi-document YAML.
    Crds,
    /// Check VRG and Recipe manifests offline and report every problem with its field path.
    ///
    /// Each FILE may hold several YAML documents; `-` reads standard input. Prints a one-line
    /// summary and exits 0 when everything is valid; otherwise prints one line per problem,
    /// `Kind/name: path: message`, and exits 1. These are exactly the errors the controller puts
    /// into a VRG's `RecipeReady` condition.
    Validate {
        /// Manifest files (`-` for standard input).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Show the steps a VRG's recipe resolves to, in the order they will run.
    ///
    /// FILE holds the VRG and any Recipe it references. `text` prints one step per line;
    /// `mermaid` and `dot` draw the workflow; `yaml` prints the Velero objects each group step
    /// would create.
    Plan {
        /// Manifest file (`-` for standard input).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Which workflow to show.
        #[arg(long, value_enum, default_value_t = WorkflowArg::Backup)]
        workflow: WorkflowArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// The VRG to plan when FILE holds several.
        #[arg(long, value_name = "NAME")]
        vrg: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

/// `run` settings.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Namespace where Velero runs; our Backups, Restores and DeleteBackupRequests go there.
    #[arg(long, env = "VELERO_NAMESPACE", default_value = "velero")]
    velero_namespace: String,
    /// A namespace whose VRGs may protect other namespaces (repeatable). Default: the operator's
    /// own namespace (`POD_NAMESPACE`), else vrg-operator-system.
    #[arg(long = "admin-namespace", value_name = "NS")]
    admin_namespaces: Vec<String>,
    /// Reconcile only the VRGs of this namespace (default: all namespaces).
    #[arg(long, value_name = "NS")]
    watch_namespace: Option<String>,
    /// Keep a deleted VRG's captures (Velero Backups and their data) instead of deleting them.
    #[arg(long)]
    keep_captures_on_delete: bool,
    /// Log filter (`RUST_LOG` syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
    /// Log lines as text or as JSON objects.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Address of `/metrics`, `/healthz` and `/readyz` (port 0: any free port, logged).
    #[arg(long, default_value = "0.0.0.0:8080")]
    metrics_address: std::net::SocketAddr,
}

/// Where offline validation pretends the manifests are applied.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Namespace of documents that name none (as `kubectl apply -n`).
    #[arg(long, short = 'n', default_value = "default")]
    namespace: String,
    /// A namespace whose VRGs may protect other namespaces (repeatable); the operator's setting.
    #[arg(long = "admin-namespace", value_name = "NS", default_value = DEFAULT_OPERATOR_NAMESPACE)]
    admin_namespaces: Vec<String>,
}

/// The resolved [`ScopeArgs`].
pub struct Scope {
    namespace: String,
    settings: Settings,
}

impl From<ScopeArgs> for Scope {
    fn from(a: ScopeArgs) -> Self {
        Self {
            namespace: a.namespace,
            settings: Settings {
                admin_namespaces: a.admin_namespaces,
            },
        }
    }
}

/// `plan --workflow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkflowArg {
    Backup,
    Restore,
}

/// `plan --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Mermaid,
    Dot,
    Yaml,
}

/// Parses the arguments, runs the command, and maps its outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    ExitCode::from(run(cli))
}

fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Crds => match crate::api::crds_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                EXIT_OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_USAGE
            }
        },
        Command::Run(args) => run_controller(args),
        Command::Validate { files, scope } => validate::run(&files, &scope.into()),
        Command::Plan {
            file,
            workflow,
            format,
            vrg,
            scope,
        } => plan::run(&file, vrg.as_deref(), workflow, format, &scope.into()),
    }
}

fn run_controller(args: RunArgs) -> u8 {
    crate::telemetry::init_logs(&args.log, args.log_format);
    let admin_namespaces = if args.admin_namespaces.is_empty() {
        vec![
            std::env::var("POD_NAMESPACE")
                .unwrap_or_else(|_| DEFAULT_OPERATOR_NAMESPACE.to_owned()),
        ]
    } else {
        args.admin_namespaces
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return EXIT_USAGE;
        }
    };
    runtime.block_on(async {
        let client = match kube::Client::try_default().await {
            Ok(client) => client,
            Err(e) => {
                eprintln!("error: cannot reach the cluster (kubeconfig or in-cluster config): {e}");
                return EXIT_USAGE;
            }
        };
        let on_delete = if args.keep_captures_on_delete {
            OnDelete::KeepCaptures
        } else {
            OnDelete::DeleteCaptures
        };
        let metrics = std::sync::Arc::new(crate::telemetry::Metrics::default());
        let listener = match crate::telemetry::bind(args.metrics_address).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.metrics_address);
                return EXIT_USAGE;
            }
        };
        tracing::info!(address = ?listener.local_addr().ok(), "serving /metrics, /healthz, /readyz");
        tokio::spawn(crate::telemetry::serve(listener, metrics.clone()));
        let options = Options {
            settings: Settings { admin_namespaces },
            velero_namespace: args.velero_namespace,
            watch_namespace: args.watch_namespace,
            on_delete,
            metrics,
        };
        tracing::info!(?options, "vrg-operator starting");
        match crate::controller::run(client, options).await {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_USAGE
            }
        }
    })
}
