//! The real DR data path for tests and the local dev clusters: an S3 server (versitygw, serving
//! one bucket from a directory) and a real Velero server with its AWS object-store plugin per
//! control plane, each running out of cluster as a plain process. Two control planes whose
//! Velero servers share the bucket are two clusters: what one captures, the other's backup sync
//! brings in.
//!
//! Met on the way (and handled here): Velero refuses to start without its v2alpha1 CRDs
//! (testbin.sh copies them); a restore needs a Deployment named `velero` in the Velero namespace
//! (Velero reads its own image from it), so a 0-replica placeholder is created; restored pods lose
//! `spec.nodeName`, so the control plane runs kube-scheduler and lifts the kwok node's `not-ready`
//! taint; and controller-runtime's metrics listener, fixed to `:8080` with no flag, is turned off
//! at build time, so two Velero servers fit on one host.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::json;

use crate::process::{Process, free_port};
use crate::{Binaries, ControlPlane, Error, Options};

/// The bucket both clusters share.
pub const BUCKET: &str = "dr-captures";
/// Where Velero runs in each cluster, as in a default install.
pub const VELERO_NAMESPACE: &str = "velero";
/// The backup sync period and validation frequency of every location in tests. Velero v1.18
/// validates that often, but syncs at most once a minute whatever this says: its backup sync
/// controller is woken by a fixed one-minute timer (`backupSyncReconcilePeriod`), so a failover,
/// which waits for a sync after it was asked for, waits up to a minute.
pub const SYNC_PERIOD: &str = "3s";
/// Backups Velero runs at once (see [`Velero::start`]; the user guide recommends the same).
pub const CONCURRENT_BACKUPS: u32 = 4;
/// The store's credentials (also in [`ObjectStore::credentials`], as an AWS credentials file).
pub const ACCESS_KEY: &str = "vrgtestaccess";
pub const SECRET_KEY: &str = "vrgtestsecret0123456789";

/// versitygw serving [`BUCKET`] from a directory on loopback.
pub struct ObjectStore {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The directory versitygw serves; the bucket is its subdirectory [`BUCKET`].
    pub root: PathBuf,
    /// An AWS shared-credentials file for the store.
    pub credentials: PathBuf,
    _process: Process,
}

impl ObjectStore {
    pub fn start(binaries: &Binaries, dir: &Path) -> Result<Self, Error> {
        let program = Binaries::need(&binaries.versitygw, "VERSITYGW")?;
        let root = dir.join("s3");
        let bucket = root.join(BUCKET);
        std::fs::create_dir_all(&bucket).map_err(|e| Error::Io(bucket.clone(), e))?;
        let port = free_port()?;
        let args = vec![
            format!("--port=127.0.0.1:{port}"),
            format!("--access={ACCESS_KEY}"),
            format!("--secret={SECRET_KEY}"),
            "--region=us-east-1".to_owned(),
            "posix".to_owned(),
            root.display().to_string(),
        ];
        let mut process =
            Process::spawn("versitygw", &program, &args, dir.join("versitygw.log"), &[])?;
        crate::components::wait_for_port(&mut process, port, Duration::from_secs(30))?;
        let credentials = dir.join("s3-credentials");
        let text = format!(
            "[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        );
        std::fs::write(&credentials, text).map_err(|e| Error::Io(credentials.clone(), e))?;
        Ok(Self {
            url: format!("http://127.0.0.1:{port}"),
            root,
            credentials,
            _process: process,
        })
    }

    /// Every object key in the bucket that starts with `prefix`, sorted (the posix backend keeps
    /// each object as a file at its key).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let bucket = self.root.join(BUCKET);
        let mut keys = vec![];
        let mut dirs = vec![bucket.clone()];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(key) = path.strip_prefix(&bucket) {
                    let key = key.display().to_string();
                    if key.starts_with(prefix) {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        keys
    }

    /// Deletes every object whose key starts with `prefix`, as a broken or emptied bucket would.
    pub fn remove(&self, prefix: &str) {
        for key in self.keys(prefix) {
            let _ = std::fs::remove_file(self.root.join(BUCKET).join(key));
        }
    }
}

/// A real Velero server for one control plane.
pub struct Velero {
    pub namespace: String,
    /// The server's log (each restart appends a new file and this names the current one).
    log_dir: PathBuf,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    program: PathBuf,
    process: Mutex<Option<Process>>,
    starts: Mutex<u32>,
    kubeconfig: PathBuf,
}

fn dynamic(
    client: &kube::Client,
    ns: &str,
    kind: &str,
    group: &str,
    version: &str,
) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(client.clone(), ns, &resource)
}

async fn apply(api: &Api<DynamicObject>, object: serde_json::Value) -> Result<(), Error> {
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let object: DynamicObject =
        serde_json::from_value(object).map_err(|e| Error::Kubeconfig(e.to_string()))?;
    api.patch(
        &name,
        &PatchParams::apply("vrg-testenv").force(),
        &Patch::Apply(&object),
    )
    .await?;
    Ok(())
}

/// The BackupStorageLocation `name` in the bucket of `store`.
pub fn location(name: &str, store: &ObjectStore, default: bool) -> serde_json::Value {
    json!({
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": {"name": name, "namespace": VELERO_NAMESPACE},
        "spec": {
            "provider": "aws",
            "default": default,
            "accessMode": "ReadWrite",
            "objectStorage": {"bucket": BUCKET},
            "backupSyncPeriod": SYNC_PERIOD,
            "validationFrequency": SYNC_PERIOD,
            // versitygw speaks path-style S3 and no request checksums.
            "config": {
                "region": "us-east-1",
                "s3ForcePathStyle": "true",
                "s3Url": store.url,
                "checksumAlgorithm": "",
            },
        },
    })
}

impl Velero {
    /// Installs what Velero needs in `plane` (its namespace, the `velero` Deployment it reads its
    /// own image from, a BackupStorageLocation per name in `locations`) and starts the server;
    /// returns once every location is `Available`.
    pub async fn start(
        plane: &ControlPlane,
        store: &ObjectStore,
        locations: &[&str],
    ) -> Result<Self, Error> {
        let client = plane.client().await?;
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": VELERO_NAMESPACE}}))
            .map_err(|e| Error::Kubeconfig(e.to_string()))?;
        Api::<Namespace>::all(client.clone())
            .patch(
                VELERO_NAMESPACE,
                &PatchParams::apply("vrg-testenv").force(),
                &Patch::Apply(&ns),
            )
            .await?;
        apply(
            &dynamic(&client, VELERO_NAMESPACE, "Deployment", "apps", "v1"),
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "velero", "namespace": VELERO_NAMESPACE, "labels": {"component": "velero"}},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"deploy": "velero"}},
                    "template": {
                        "metadata": {"labels": {"deploy": "velero"}},
                        "spec": {"containers": [{"name": "velero", "image": "velero/velero:v1.18.3"}]},
                    },
                },
            }),
        )
        .await?;
        let bsl = dynamic(
            &client,
            VELERO_NAMESPACE,
            "BackupStorageLocation",
            "velero.io",
            "v1",
        );
        for (i, name) in locations.iter().enumerate() {
            apply(&bsl, location(name, store, i == 0)).await?;
        }
        let binaries = &plane.binaries;
        let program = Binaries::need(&binaries.velero, "VELERO")?;
        let plugins = Binaries::need(&binaries.velero_plugins, "VELERO_PLUGINS")?;
        let home = plane.dir.join("velero-home");
        std::fs::create_dir_all(&home).map_err(|e| Error::Io(home.clone(), e))?;
        let args = vec![
            "server".to_owned(),
            format!("--kubeconfig={}", plane.kubeconfig.display()),
            format!("--namespace={VELERO_NAMESPACE}"),
            format!("--plugin-dir={}", plugins.display()),
            format!("--metrics-address=127.0.0.1:{}", free_port()?),
            format!("--profiler-address=127.0.0.1:{}", free_port()?),
            format!("--backup-sync-period={SYNC_PERIOD}"),
            format!("--store-validation-frequency={SYNC_PERIOD}"),
            // With the default of one, Velero v1.18's backup queue can leave a queued Backup for
            // a minute: a Backup leaving InProgress wakes the queue before the server stops
            // counting it as running, and the queue looks again only on its one-minute timer.
            format!("--concurrent-backups={CONCURRENT_BACKUPS}"),
            "--log-level=info".to_owned(),
        ];
        let env = vec![
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                store.credentials.display().to_string(),
            ),
            ("HOME", home.display().to_string()),
        ];
        let velero = Self {
            namespace: VELERO_NAMESPACE.to_owned(),
            log_dir: plane.dir.clone(),
            args,
            env,
            program,
            process: Mutex::new(None),
            starts: Mutex::new(0),
            kubeconfig: plane.kubeconfig.clone(),
        };
        velero.spawn()?;
        velero
            .wait_available(&client, locations, Duration::from_secs(90))
            .await?;
        Ok(velero)
    }

    fn spawn(&self) -> Result<(), Error> {
        let n = {
            let mut starts = self.starts.lock().unwrap_or_else(|e| e.into_inner());
            *starts += 1;
            *starts
        };
        let env: Vec<(&str, String)> = self.env.iter().map(|(k, v)| (*k, v.clone())).collect();
        let process = Process::spawn_group(
            "velero",
            &self.program,
            &self.args,
            self.log_dir.join(format!("velero-{n}.log")),
            &env,
        )?;
        *self.process.lock().unwrap_or_else(|e| e.into_inner()) = Some(process);
        Ok(())
    }

    /// Kills the server and its plugins at once, as a crash or an evicted pod would.
    pub fn kill(&self) {
        if let Some(mut p) = self
            .process
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            p.kill();
        }
    }

    /// Starts the server again after [`Velero::kill`] (or kills and starts it).
    pub async fn restart(&self, locations: &[&str]) -> Result<(), Error> {
        self.kill();
        self.spawn()?;
        let client = self.client().await?;
        self.wait_available(&client, locations, Duration::from_secs(90))
            .await
    }

    /// The server's process ID while it runs (its plugins are processes of their own).
    pub fn pid(&self) -> Option<u32> {
        self.process
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(Process::pid)
    }

    /// The current server log.
    pub fn log(&self) -> PathBuf {
        let n = *self.starts.lock().unwrap_or_else(|e| e.into_inner());
        self.log_dir.join(format!("velero-{n}.log"))
    }

    async fn client(&self) -> Result<kube::Client, Error> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)
            .map_err(|e| Error::Kubeconfig(e.to_string()))?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|e| Error::Kubeconfig(e.to_string()))?;
        Ok(kube::Client::try_from(config)?)
    }

    /// Waits until Velero reports every location `Available`.
    pub async fn wait_available(
        &self,
        client: &kube::Client,
        locations: &[&str],
        timeout: Duration,
    ) -> Result<(), Error> {
        let api = dynamic(
            client,
            &self.namespace,
            "BackupStorageLocation",
            "velero.io",
            "v1",
        );
        let deadline = Instant::now() + timeout;
        for name in locations {
            loop {
                let phase = api
                    .get_opt(name)
                    .await?
                    .and_then(|o| o.data["status"]["phase"].as_str().map(str::to_owned));
                if phase.as_deref() == Some("Available") {
                    break;
                }
                let exited = self
                    .process
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_mut()
                    .and_then(Process::exited);
                if exited.is_some() || Instant::now() > deadline {
                    let log = std::fs::read_to_string(self.log()).unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(30).collect();
                    return Err(Error::NotReady {
                        component: format!("velero (BackupStorageLocation {name}: {phase:?})"),
                        seconds: timeout.as_secs(),
                        log: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
                    });
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }
}

/// One cluster of a [`Pair`]: a control plane with its Velero server.
pub struct Site {
    pub plane: ControlPlane,
    pub velero: Velero,
}

/// Two clusters, `east` and `west`, whose Velero servers share one bucket.
pub struct Pair {
    pub store: ObjectStore,
    pub east: Site,
    pub west: Site,
    /// The storage locations (s3 profiles) each cluster has, all in the shared bucket.
    pub locations: Vec<String>,
}

impl Pair {
    /// Starts the store and both clusters, each with a location per name in `locations` and the
    /// CRDs of `crds` (installed before Velero starts: Velero learns the API's resource types
    /// when it starts, and only every few minutes after).
    pub async fn start(locations: &[&str], crds: &[PathBuf]) -> Result<Self, Error> {
        let east = ControlPlane::start(Options::default()).await?;
        let store = ObjectStore::start(&east.binaries, &east.dir)?;
        let west = ControlPlane::start(Options::default()).await?;
        for plane in [&east, &west] {
            crate::crds::install(&plane.client().await?, crds).await?;
        }
        let east_velero = Velero::start(&east, &store, locations).await?;
        let west_velero = Velero::start(&west, &store, locations).await?;
        Ok(Self {
            store,
            east: Site {
                plane: east,
                velero: east_velero,
            },
            west: Site {
                plane: west,
                velero: west_velero,
            },
            locations: locations.iter().map(|l| (*l).to_owned()).collect(),
        })
    }
}

/// The two clusters shared by every test of this test binary, started on first use, each with
/// the locations `default` and `secondary` and the CRDs of `crds` (those of the first call).
pub fn pair(crds: &[PathBuf]) -> &'static Pair {
    let crds = crds.to_vec();
    static PAIR: OnceLock<Result<Pair, String>> = OnceLock::new();
    let result = PAIR.get_or_init(|| {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let started = Instant::now();
            let pair = runtime
                .block_on(Pair::start(&["default", "secondary"], &crds))
                .map_err(|e| e.to_string())?;
            eprintln!(
                "vrg-testenv: two clusters with real Velero up in {:.1}s (east {}, west {}, bucket {})",
                started.elapsed().as_secs_f64(),
                pair.east.plane.server,
                pair.west.plane.server,
                pair.store.root.join(BUCKET).display()
            );
            Ok(pair)
        })
        .join()
        .unwrap_or_else(|_| Err("starting the two clusters panicked".into()))
    });
    match result {
        Ok(pair) => pair,
        Err(e) => panic!("the two test clusters did not start: {e}"),
    }
}

/// The object store and real Velero server of this test binary's shared control plane
/// ([`crate::shared`]), serving a location per name in [`crate::velero::LOCATIONS`].
pub struct SharedVelero {
    pub store: ObjectStore,
    pub velero: Velero,
}

/// Starts, on first use, versitygw and a real Velero server for [`crate::shared`]'s control plane.
/// Tests on it share Velero's namespace, [`VELERO_NAMESPACE`], and tell their objects apart by
/// their VRG's labels, as VRGs in one real cluster do.
pub fn shared_velero() -> &'static SharedVelero {
    static VELERO: OnceLock<Result<SharedVelero, String>> = OnceLock::new();
    let plane = crate::shared();
    let result = VELERO.get_or_init(|| {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let started = Instant::now();
            let store =
                ObjectStore::start(&plane.binaries, &plane.dir).map_err(|e| e.to_string())?;
            let velero = runtime
                .block_on(Velero::start(plane, &store, &crate::velero::LOCATIONS))
                .map_err(|e| e.to_string())?;
            eprintln!(
                "vrg-testenv: real Velero up in {:.1}s (bucket {})",
                started.elapsed().as_secs_f64(),
                store.root.join(BUCKET).display()
            );
            Ok(SharedVelero { store, velero })
        })
        .join()
        .unwrap_or_else(|_| Err("starting Velero panicked".into()))
    });
    match result {
        Ok(velero) => velero,
        Err(e) => panic!("the test Velero server did not start: {e}"),
    }
}
