//! The command line: one binary, four commands.
//!
//! Exit codes are part of the interface, so scripts and CI can tell a bad recipe from a bad
//! invocation: 0 success, 1 the input is invalid, 2 usage or I/O error, 3 (`run`) the leader lease was lost.

mod cluster;
pub mod documents;
pub mod plan;
mod policy;
mod run;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use run::RunArgs;
pub use validate::recipes;

use crate::recipe::Settings;
use crate::recipe::scope::DEFAULT_OPERATOR_NAMESPACE;

/// Exit code: the command did what was asked.
pub const EXIT_OK: u8 = 0;
/// Exit code: the input (a recipe, a VRG) is invalid.
pub const EXIT_INVALID: u8 = 1;
/// Exit code: bad usage, or a file that cannot be read or written.
pub const EXIT_USAGE: u8 = 2;
/// Exit code (`run`): another replica took the leader lease; restart as a standby.
pub const EXIT_LEASE_LOST: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "vrg-operator",
    version,
    about = "Protects an application's Kubernetes objects for disaster recovery",
    long_about = "Watches VolumeReplicationGroups, runs each one's recipe (Velero Backups and \
                  Restores for groups, pod exec and condition checks for hooks) on a schedule \
                  while primary and in order after a failover.\n\n\
                  Exit codes: 0 success, 1 invalid input, 2 usage or I/O error, 3 the leader \
                  lease was lost (`run`)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller against the cluster of the current kubeconfig (or in-cluster config).
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions this operator owns, as multi-document YAML.
    Crds,
    /// Check VRG and Recipe manifests offline and report every problem with its field path.
    ///
    /// Each FILE may hold several YAML documents; `-` reads standard input. Prints a one-line
    /// summary and exits 0 when everything is valid; otherwise prints one line per problem,
    /// `Kind/name: path: message`, and exits 1. These are exactly the errors the controller puts
    /// into a VRG's `RecipeReady` condition. A VRG whose `recipeRef` names a Recipe the files do
    /// not hold is checked without it, with a warning (an error with `--strict`); `--cluster`
    /// reads such Recipes from the current kubeconfig's cluster instead, as the controller would.
    Validate {
        /// Manifest files (`-` for standard input).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// A Recipe that was not given (nor, with --cluster, found) is an error, not a warning.
        #[arg(long)]
        strict: bool,
        /// Read the Recipes that VRGs reference and the files do not hold from the cluster of
        /// the current kubeconfig (KUBECONFIG or ~/.kube/config); a missing one is an error.
        #[arg(long)]
        cluster: bool,
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
        /// Namespace of the Velero objects `--format yaml` shows.
        #[arg(long, value_name = "NS", default_value = "velero")]
        velero_namespace: String,
        #[command(flatten)]
        scope: ScopeArgs,
    },
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
    #[command(flatten)]
    policy: policy::PolicyArgs,
}

/// The resolved [`ScopeArgs`].
pub struct Scope {
    namespace: String,
    settings: Settings,
}

impl Scope {
    /// Documents that name no namespace are in `namespace`; `settings` are the operator's.
    pub fn new(namespace: String, settings: Settings) -> Self {
        Self {
            namespace,
            settings,
        }
    }
}

impl From<ScopeArgs> for Scope {
    fn from(a: ScopeArgs) -> Self {
        Self {
            namespace: a.namespace,
            settings: a.policy.settings(a.admin_namespaces),
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
        Command::Run(args) => run::run(*args),
        Command::Validate {
            files,
            strict,
            cluster,
            scope,
        } => validate::run(&files, &scope.into(), validate::Mode { strict, cluster }),
        Command::Plan {
            file,
            workflow,
            format,
            vrg,
            velero_namespace,
            scope,
        } => plan::run(
            &file,
            vrg.as_deref(),
            workflow,
            format,
            &velero_namespace,
            &scope.into(),
        ),
    }
}
