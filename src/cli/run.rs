//! `vrg-operator run`: telemetry first (so probes answer while waiting), then, with
//! `--leader-elect`, the lease, then the controller until a signal or a lost lease.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{EXIT_LEASE_LOST, EXIT_OK, EXIT_USAGE};
use crate::controller::{OnDelete, Options};
use crate::leader::{Election, Leadership};
use crate::recipe::scope::DEFAULT_OPERATOR_NAMESPACE;
use crate::storage::ConfigRef;
use crate::telemetry::{LogFormat, Metrics};
use crate::webhook::serve as webhook;

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
    #[command(flatten)]
    policy: super::policy::PolicyArgs,
    /// Reconcile only the VRGs of this namespace (default: all namespaces).
    #[arg(long, value_name = "NS")]
    watch_namespace: Option<String>,
    /// What deleting a VRG does to the captures this cluster wrote: `keep-captures` (so deleting a
    /// VRG, or its namespace by accident, loses nothing) or `delete-own-captures`. Captures
    /// another cluster wrote are never deleted.
    #[arg(long, value_enum, default_value_t = DeletePolicyArg::KeepCaptures)]
    on_delete: DeletePolicyArg,
    /// This cluster's identity, recorded on every capture it writes so that no two clusters
    /// write the same Backup (default: the uid of the kube-system namespace).
    #[arg(long, env = "CLUSTER_ID", value_name = "ID")]
    cluster_id: Option<String>,
    /// Log filter (`RUST_LOG` syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
    /// Log lines as text or as JSON objects.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Address of `/metrics`, `/healthz` and `/readyz` (port 0: any free port, logged).
    #[arg(long, default_value = "0.0.0.0:8080")]
    metrics_address: std::net::SocketAddr,
    /// Act only while holding a Lease, so that of several replicas exactly one acts.
    #[arg(long)]
    leader_elect: bool,
    /// Namespace of the Lease. Default: the operator's own (`POD_NAMESPACE`), else
    /// vrg-operator-system.
    #[arg(long, value_name = "NS")]
    leader_election_namespace: Option<String>,
    /// Name of the Lease; replicas that share it elect one leader.
    #[arg(long, value_name = "NAME", default_value = "vrg-operator")]
    leader_election_lease: String,
    /// How long the lease lasts unrenewed: the longest a standby waits after the leader dies.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    lease_duration: Duration,
    /// Ramen's operator ConfigMap (e.g. ramen-system/ramen-dr-cluster-operator-config): keep a
    /// BackupStorageLocation, and its credentials Secret, in the Velero namespace per entry of
    /// its `s3StoreProfiles`, named after the profile.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    ramen_config: Option<ConfigRef>,
    /// Serve the validating admission webhook (HTTPS) on this address, on every replica,
    /// leader or not, with the certificate of `--webhook-cert-dir` or `--webhook-cert-secret`.
    #[arg(long, value_name = "ADDR")]
    webhook_address: Option<std::net::SocketAddr>,
    /// The webhook's certificate and key: `tls.crt` and `tls.key` in this directory (a mounted
    /// TLS Secret, e.g. cert-manager's), loaded again when they change.
    #[arg(
        long,
        value_name = "DIR",
        requires = "webhook_address",
        conflicts_with = "webhook_cert_secret"
    )]
    webhook_cert_dir: Option<std::path::PathBuf>,
    /// Make the webhook's CA and serving certificate, keep them in this Secret (in the
    /// operator's own namespace unless NAMESPACE/ is given) and renew them before they expire.
    #[arg(long, value_name = "[NAMESPACE/]NAME", requires = "webhook_address")]
    webhook_cert_secret: Option<String>,
    /// The ValidatingWebhookConfiguration whose `caBundle` is kept current with that CA.
    #[arg(long, value_name = "NAME", requires = "webhook_cert_secret")]
    webhook_configuration: Option<String>,
    /// The Service (in the Secret's namespace) the API server calls the webhook through: its
    /// DNS names go into the serving certificate.
    #[arg(long, value_name = "NAME", requires = "webhook_cert_secret")]
    webhook_service: Option<String>,
    /// Another DNS name or IP address for the serving certificate (repeatable), e.g. for a
    /// registration by URL.
    #[arg(
        long = "webhook-host",
        value_name = "HOST",
        requires = "webhook_cert_secret"
    )]
    webhook_hosts: Vec<String>,
    /// How long a serving certificate lasts; it is renewed in the last third of that.
    #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = humantime::parse_duration)]
    webhook_cert_validity: Duration,
    /// How long the CA lasts; a new one joins the bundle beside it in the last third of that.
    #[arg(long, value_name = "DURATION", default_value = "3650d", value_parser = humantime::parse_duration)]
    webhook_ca_validity: Duration,
}

/// `--on-delete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeletePolicyArg {
    KeepCaptures,
    DeleteOwnCaptures,
}

/// The operator's own namespace, from the downward API.
fn own_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| DEFAULT_OPERATOR_NAMESPACE.to_owned())
}

pub fn run(args: RunArgs) -> u8 {
    crate::telemetry::init_logs(&args.log, args.log_format);
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
    runtime.block_on(serve(args))
}

async fn serve(args: RunArgs) -> u8 {
    let metrics = Arc::new(Metrics::default());
    let client = match crate::telemetry::client::client(&metrics).await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("error: cannot reach the cluster (kubeconfig or in-cluster config): {e}");
            return EXIT_USAGE;
        }
    };
    let listener = match crate::telemetry::bind(args.metrics_address).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.metrics_address);
            return EXIT_USAGE;
        }
    };
    tracing::info!(address = ?listener.local_addr().ok(), "serving /metrics, /healthz, /readyz");
    tokio::spawn(crate::telemetry::serve(listener, metrics.clone()));

    let election = args.leader_elect.then(|| Election {
        namespace: args
            .leader_election_namespace
            .clone()
            .unwrap_or_else(own_namespace),
        lease: args.leader_election_lease.clone(),
        identity: crate::leader::default_identity(),
        duration: args.lease_duration,
    });
    let ramen_config = args.ramen_config.clone();
    let webhook = match webhook_options(&args) {
        Ok(webhook) => webhook,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let options = options(args, metrics.clone());
    if let Some(webhook) = webhook {
        if let Err(e) = webhook::check(&webhook).await {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
        let (client, settings) = (client.clone(), options.settings.clone());
        tokio::spawn(async move {
            if let Err(e) = webhook::serve(client, settings, webhook).await {
                tracing::error!("{e}");
            }
        });
    }
    tracing::info!(?options, ?ramen_config, "vrg-operator starting");
    let Some(election) = election else {
        metrics.leader.set(1);
        return controller(client, options, ramen_config).await;
    };
    // A standby is healthy and ready: it is doing its job, which is to wait.
    metrics.set_ready();
    tracing::info!(?election, "waiting for the leader lease");
    let leadership = tokio::select! {
        acquired = election.acquire(client.clone()) => acquired,
        () = shutdown_signal() => return EXIT_OK,
    };
    let leadership = match leadership {
        Ok(leadership) => leadership,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    tracing::info!(identity = %election.identity, "acquired the leader lease; starting");
    metrics.leader.set(1);
    lead(client, options, ramen_config, leadership).await
}

/// Runs the controller while the lease is held; a lost lease ends the process at once.
async fn lead(
    client: kube::Client,
    options: Options,
    ramen_config: Option<ConfigRef>,
    mut leadership: Leadership,
) -> u8 {
    let ended = tokio::select! {
        code = controller(client, options, ramen_config) => Ok(code),
        lost = leadership.lost() => Err(lost),
    };
    match ended {
        Ok(code) => {
            leadership.release().await;
            code
        }
        Err(lost) => {
            tracing::error!(%lost, "lost the leader lease; stopping so that only the new leader acts");
            EXIT_LEASE_LOST
        }
    }
}

/// The webhook's settings, when it is to be served.
fn webhook_options(args: &RunArgs) -> Result<Option<webhook::Options>, String> {
    let Some(addr) = args.webhook_address else {
        return Ok(None);
    };
    let certificates = match (&args.webhook_cert_dir, &args.webhook_cert_secret) {
        (Some(dir), _) => webhook::Certificates::Files(dir.clone()),
        (None, Some(secret)) => {
            let secret: ConfigRef = if secret.contains('/') {
                secret.parse()?
            } else {
                format!("{}/{secret}", own_namespace()).parse()?
            };
            let mut hosts: std::collections::BTreeSet<String> =
                args.webhook_hosts.iter().cloned().collect();
            if let Some(service) = &args.webhook_service {
                hosts.extend(crate::webhook::certs::service_names(
                    service,
                    &secret.namespace,
                ));
            }
            if hosts.is_empty() {
                return Err(
                    "--webhook-cert-secret needs --webhook-service or --webhook-host: \
                            the names the serving certificate is for"
                        .to_owned(),
                );
            }
            let seconds = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            let lifetimes = crate::webhook::certs::Lifetimes {
                ca: seconds(args.webhook_ca_validity),
                serving: seconds(args.webhook_cert_validity),
            };
            if lifetimes.serving < 3 || lifetimes.serving > lifetimes.ca {
                return Err(format!(
                    "--webhook-cert-validity {} must be at least 3s and no longer than \
                     --webhook-ca-validity {}",
                    humantime::format_duration(args.webhook_cert_validity),
                    humantime::format_duration(args.webhook_ca_validity)
                ));
            }
            webhook::Certificates::Managed(crate::webhook::certs::Managed {
                secret,
                configuration: args.webhook_configuration.clone(),
                hosts,
                lifetimes,
            })
        }
        (None, None) => {
            return Err(
                "--webhook-address needs --webhook-cert-dir or --webhook-cert-secret".to_owned(),
            );
        }
    };
    Ok(Some(webhook::Options { addr, certificates }))
}

fn options(args: RunArgs, metrics: Arc<Metrics>) -> Options {
    let admin_namespaces = if args.admin_namespaces.is_empty() {
        vec![own_namespace()]
    } else {
        args.admin_namespaces
    };
    Options {
        settings: args.policy.settings(admin_namespaces),
        velero_namespace: args.velero_namespace,
        watch_namespace: args.watch_namespace,
        on_delete: match args.on_delete {
            DeletePolicyArg::KeepCaptures => OnDelete::KeepCaptures,
            DeletePolicyArg::DeleteOwnCaptures => OnDelete::DeleteOwnCaptures,
        },
        cluster_id: args.cluster_id,
        metrics,
    }
}

/// The controller and, with `--ramen-config`, the storage locations beside it: both write, so
/// both run only where the controller does (on the leader).
async fn controller(client: kube::Client, options: Options, ramen_config: Option<ConfigRef>) -> u8 {
    let _storage = ramen_config.map(|config| {
        let task = crate::controller::storage::run(
            client.clone(),
            config,
            options.velero_namespace.clone(),
        );
        AbortOnDrop(tokio::spawn(task))
    });
    match crate::controller::run(client, options).await {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

/// Stops a task when its owner ends (a lost lease ends the controller's future, and this with it).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
