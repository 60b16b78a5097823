//! A real Kubernetes control plane on loopback for vrg-operator's tests and local runs: etcd,
//! kube-apiserver, and optionally kube-controller-manager and kwok (fake nodes whose pods run and
//! whose `exec` runs commands on this machine).
//!
//! Every process listens on 127.0.0.1 on a free port, keeps its data and logs in a temporary
//! directory, and dies with the process that started it. Tests share one control plane per test
//! binary through [`shared`] and isolate themselves with a namespace each ([`ControlPlane::namespace`]).

mod binaries;
mod certs;
mod components;
pub mod crds;
pub mod dr;
pub mod process;
pub mod telemetry;
pub mod velero;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

pub use binaries::Binaries;
use process::Process;

/// Everything that can go wrong starting the control plane; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("test control plane binaries: {0}")]
    Binaries(String),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("cannot start {0} ({1}): {2}")]
    Spawn(String, PathBuf, std::io::Error),
    #[error("generating certificates: {0}")]
    Certs(String),
    #[error("{component} did not become ready within {seconds}s; last log lines:\n{log}")]
    NotReady {
        component: String,
        seconds: u64,
        log: String,
    },
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("installing CRDs: {0}")]
    Crds(String),
}

/// Which components to run beside etcd and kube-apiserver.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// kube-controller-manager: Deployments get ReplicaSets and Pods, namespaces get their
    /// default ServiceAccount, garbage collection follows owner references.
    pub controller_manager: bool,
    /// kwok: a fake node whose pods become Running and whose `pods/exec` runs locally.
    pub kwok: bool,
    /// kube-scheduler: pods without a node are scheduled to the kwok node.
    pub scheduler: bool,
    /// The API server's audit log ([`ControlPlane::audit_log`]): one JSON line per request, with
    /// the user (or the user impersonated) and the user agent, so a benchmark can count each
    /// client's requests by verb. Off in tests: it costs the API server a write per request.
    pub audit: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            controller_manager: true,
            kwok: true,
            scheduler: true,
            audit: false,
        }
    }
}

/// A running control plane. Dropping it stops every process.
pub struct ControlPlane {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub server: String,
    /// kwok's local exec runs commands in this directory.
    pub kwok_workdir: PathBuf,
    /// Name of the kwok node pods should be scheduled to (`spec.nodeName`).
    pub node_name: String,
    pub binaries: Binaries,
    /// How long [`ControlPlane::start`] took.
    pub startup: Duration,
    processes: Vec<Process>,
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver (and what `options` asks for), installs vrg-operator's and
    /// Velero's CRDs, and waits until everything is ready.
    pub async fn start(options: Options) -> Result<Self, Error> {
        let started = Instant::now();
        let binaries = Binaries::locate()?;
        let dir = components::run_dir()?;
        let certs = certs::generate(&dir)?;
        let mut processes = vec![];
        let etcd_url = components::etcd(&binaries, &dir, &mut processes)?;
        let (server, kubeconfig) = components::apiserver(
            &binaries,
            &dir,
            &certs,
            &etcd_url,
            options.audit,
            &mut processes,
        )?;
        let mut plane = Self {
            kwok_workdir: dir.join("kwok-work"),
            node_name: components::KWOK_NODE.to_owned(),
            dir,
            kubeconfig,
            server,
            binaries,
            startup: Duration::ZERO,
            processes,
        };
        let client = plane.client().await?;
        plane
            .wait_ready(
                &client,
                "kube-apiserver",
                "/readyz",
                Duration::from_secs(90),
            )
            .await?;
        if options.controller_manager {
            components::controller_manager(
                &plane.binaries,
                &plane.dir,
                &certs,
                &plane.kubeconfig,
                &mut plane.processes,
            )?;
        }
        if options.kwok {
            std::fs::create_dir_all(&plane.kwok_workdir)
                .map_err(|e| Error::Io(plane.kwok_workdir.clone(), e))?;
            components::kwok(
                &plane.binaries,
                &plane.dir,
                &plane.kubeconfig,
                &plane.kwok_workdir,
                &mut plane.processes,
            )?;
        }
        if options.scheduler {
            components::scheduler(
                &plane.binaries,
                &plane.dir,
                &plane.kubeconfig,
                &mut plane.processes,
            )?;
        }
        crds::install(&client, &crds::crd_files(&plane.binaries)?).await?;
        if options.kwok {
            components::create_node(&client).await?;
        }
        plane.startup = started.elapsed();
        Ok(plane)
    }

    /// A new admin client (one per test: a client belongs to the runtime that created it).
    pub async fn client(&self) -> Result<kube::Client, Error> {
        Ok(kube::Client::try_from(self.config().await?)?)
    }

    /// The admin client's configuration, for tests that build a client of their own (one that
    /// records its requests, say).
    pub async fn config(&self) -> Result<kube::Config, Error> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)
            .map_err(|e| Error::Kubeconfig(e.to_string()))?;
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| Error::Kubeconfig(e.to_string()))
    }

    /// A client that acts as `user` (and `groups`) through impersonation, so a test can prove
    /// what a ServiceAccount's RBAC allows: `system:serviceaccount:NS:NAME`.
    pub async fn client_as(&self, user: &str, groups: &[&str]) -> Result<kube::Client, Error> {
        let mut config = self.config().await?;
        config.auth_info.impersonate = Some(user.to_owned());
        config.auth_info.impersonate_groups =
            Some(groups.iter().map(|g| (*g).to_owned()).collect());
        Ok(kube::Client::try_from(config)?)
    }

    /// Creates a namespace with a random suffix, for one test.
    pub async fn namespace(&self, client: &kube::Client, prefix: &str) -> Result<String, Error> {
        let name = format!("{prefix}-{:08x}", random());
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        Ok(name)
    }

    /// The API server's audit log, if [`Options::audit`] asked for one: JSON lines, one per
    /// request at `ResponseComplete` (metadata only, no bodies).
    pub fn audit_log(&self) -> Option<PathBuf> {
        Some(self.dir.join(components::AUDIT_LOG)).filter(|p| p.exists())
    }

    /// Runs `kubectl` against this control plane.
    pub fn kubectl(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.binaries.kubectl);
        cmd.env("KUBECONFIG", &self.kubeconfig);
        cmd
    }

    /// The last lines of every component's log, for a failing test's message.
    pub fn logs(&self, lines: usize) -> String {
        self.processes
            .iter()
            .map(|p| {
                format!(
                    "---- {} ({})\n{}",
                    p.name,
                    p.log.display(),
                    p.log_tail(lines)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// PIDs of the running components, by name.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.processes
            .iter()
            .map(|p| (p.name.clone(), p.pid()))
            .collect()
    }

    async fn wait_ready(
        &mut self,
        client: &kube::Client,
        component: &str,
        path: &str,
        timeout: Duration,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let request = http_get(path);
            if client
                .request_text(request)
                .await
                .is_ok_and(|body| body.trim() == "ok")
            {
                return Ok(());
            }
            let dead = self
                .processes
                .iter_mut()
                .find_map(|p| p.exited().map(|s| (p.name.clone(), s, p.log_tail(30))));
            if let Some((name, status, log)) = dead {
                return Err(Error::NotReady {
                    component: format!("{name} (exited: {status})"),
                    seconds: 0,
                    log,
                });
            }
            if Instant::now() > deadline {
                return Err(Error::NotReady {
                    component: component.to_owned(),
                    seconds: timeout.as_secs(),
                    log: self.logs(20),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn http_get(path: &str) -> http::Request<Vec<u8>> {
    http::Request::get(path)
        .body(Vec::new())
        .expect("a static request is valid")
}

/// A random number from the OS-seeded hasher (no extra crate for test namespace names).
fn random() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish() as u32
}

/// The control plane shared by every test of this test binary, started on first use.
///
/// Blocks while it starts; a start that failed fails every test that asks for it, with the reason.
pub fn shared() -> &'static ControlPlane {
    static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
    let result = SHARED.get_or_init(|| {
        // A runtime of its own: the caller may be inside a test's runtime.
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let plane = runtime
                .block_on(ControlPlane::start(Options::default()))
                .map_err(|e| e.to_string())?;
            eprintln!(
                "vrg-testenv: control plane up in {:.1}s at {} ({})",
                plane.startup.as_secs_f64(),
                plane.server,
                plane.dir.display()
            );
            Ok(plane)
        })
        .join()
        .unwrap_or_else(|_| Err("the control plane start panicked".into()))
    });
    match result {
        Ok(plane) => plane,
        Err(e) => panic!("the test control plane did not start: {e}"),
    }
}

/// The directory of vrg-operator's generated CRDs.
pub fn operator_crds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crds/crds.yaml")
}
