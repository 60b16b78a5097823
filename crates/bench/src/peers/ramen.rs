//! RamenDR's dr-cluster operator (`ramen-manager` v0.1.0-rc1, built by `hack/ramen-peer.sh`) as a
//! benchmark peer: run out of cluster, hub-less, against a test control plane, the real Velero
//! server and versitygw, protecting an application's kube objects with a Recipe.
//!
//! Nothing of Ramen is in this repository: its CRDs are read from the Go module cache
//! (`$RAMEN_MODULE`) at run time. What it took to make it run, and why:
//! - **Its CRDs replace vrg-operator's.** Both define `volumereplicationgroups` and `recipes` in
//!   `ramendr.openshift.io`; Ramen's are applied over ours (server-side apply, forced, same field
//!   manager as the control plane's install, so our extra fields go). Ramen also watches ~15 other
//!   kinds (csi-addons, snapshots, VolSync, its DRClusterConfig...); a missing one makes its
//!   manager exit after the 2-minute cache-sync timeout, so every CRD of `config/crd/bases` and
//!   `hack/test` is installed as Ramen's envtest suite does, except `hack/test/velero.io_*`: the
//!   control plane has Velero's own, complete CRDs (and Ramen only sets up its Backup/Restore/Recipe
//!   watches if Velero's CRDs exist when it starts).
//! - **Configuration twice.** rc1 crashes without `--config` (a nil config), and reads the S3
//!   profiles from ConfigMap `ramen-dr-cluster-operator-config` in `$POD_NAMESPACE` on every
//!   reconcile: the same text is written to a file and the ConfigMap, and `POD_NAMESPACE` is set.
//!   `leaderElect: false` (out of cluster it would need a namespace Ramen never passes), metrics
//!   off (`"0"`; anything else is TLS with TokenReviews), VolSync off (no storage here).
//! - **A bucket of its own** ([`S3_BUCKET`]): Velero marks a prefix-less location (the `default`
//!   one) `Unavailable` once its bucket holds Ramen's `<namespace>/...` keys.
//! - **Secrets a hub would make.** The S3 Secret (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`)
//!   in Ramen's namespace, and the Velero credential Ramen's per-capture BackupStorageLocations
//!   name by default, Secret `v<s3 secret>` key `ramengenerated` (an AWS credentials file) in
//!   Velero's namespace, which an OCM policy on the hub would otherwise deliver.
//! - **The VRG shape.** `sync: {}` (rc1 marks a VRG with neither `sync` nor `async` invalid), and
//!   a `pvcSelector` that matches nothing: an empty selector selects every PVC, which without a
//!   storage driver never becomes ready and blocks kube-object protection.
//! - **Recovery** is a fresh VRG of the same namespace and name with `action: Failover` on a
//!   cluster sharing the bucket: rc1 restores only then, from the source VRG it finds in S3.
//!   (Deleting a primary VRG wipes its S3 prefix, so the capturing VRG must not be deleted first.)
//!
//! Ramen's own behaviour, which shows in the figures (seen with rc1 and Velero v1.18.3):
//! - Each reconcile of a capture in progress walks the backup workflow from its start, so a
//!   pre-capture exec hook runs again on every reconcile until the last group's Backup completes
//!   (about 20 `quiesce` runs for one `unquiesce` per capture of three groups).
//! - Ramen creates a BackupStorageLocation per group and capture (and per restore group) and waits
//!   for it to be `Available`; BSLs are not watched, so it polls on its failure backoff (1 s
//!   doubling to 60 s). A restore of three groups took 4–6 s, or 2 minutes when the backoff had
//!   already reached its cap.
//! - The restore goes through a dummy Backup named like the capture, which Velero fails ("already
//!   exists in object storage") and Ramen accepts; that works with Velero v1.18.3.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};
use vrg_testenv::ControlPlane;
use vrg_testenv::dr::{ACCESS_KEY, ObjectStore, SECRET_KEY, VELERO_NAMESPACE};
use vrg_testenv::process::{Process, free_port};

/// The s3 profile name in Ramen's config (the VRG's `s3Profiles`).
pub const S3_PROFILE: &str = "versitygw";
/// Ramen's own namespace (`POD_NAMESPACE`), where its ConfigMap and S3 Secret live.
pub const NAMESPACE: &str = "ramen-system";
/// The S3 Secret in [`NAMESPACE`].
pub const S3_SECRET: &str = "ramen-s3-secret";
/// The bucket Ramen captures into, a second bucket of the test store (created by
/// [`Ramen::start`]). Not the store's own bucket: Ramen's keys start with `<vrg namespace>/`, and
/// Velero marks a location without a prefix `Unavailable` when its bucket has top-level
/// directories of its own ("Backup store contains invalid top-level directories"), which would
/// take down the `default` location vrg-operator and `Velero::start` use.
pub const S3_BUCKET: &str = "ramen";
const CONFIG_MAP: &str = "ramen-dr-cluster-operator-config";
const CONFIG_KEY: &str = "ramen_manager_config.yaml";
const MANAGER: &str = "vrg-bench-ramen";

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Where `ramen-manager` and Ramen's module (its CRDs) are: `$RAMEN_MANAGER` and `$RAMEN_MODULE`,
/// or what `hack/ramen-peer.sh --print-env` prints.
pub fn locate() -> Result<(PathBuf, PathBuf), String> {
    let from_env = (
        std::env::var_os("RAMEN_MANAGER").map(PathBuf::from),
        std::env::var_os("RAMEN_MODULE").map(PathBuf::from),
    );
    let (manager, module) = match from_env {
        (Some(m), Some(d)) => (m, d),
        _ => {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/ramen-peer.sh");
            let out = std::process::Command::new(&script)
                .arg("--print-env")
                .output()
                .map_err(|e| format!("ramen: running {}: {e}", script.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "ramen: RAMEN_MANAGER/RAMEN_MODULE unset and `{} --print-env` failed (run it \
                     without arguments to build Ramen): {}",
                    script.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let get = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                    .map(PathBuf::from)
                    .ok_or_else(|| format!("ramen: {} printed no {key}", script.display()))
            };
            (get("RAMEN_MANAGER")?, get("RAMEN_MODULE")?)
        }
    };
    if !manager.is_file() {
        return Err(format!("ramen: no manager binary at {}", manager.display()));
    }
    if !module.join("config/crd/bases").is_dir() {
        return Err(format!("ramen: {} is not Ramen's module", module.display()));
    }
    Ok((manager, module))
}

/// Ramen's CRD files in `module`: `config/crd/bases` and `hack/test`, without the latter's
/// three-kind Velero CRDs (the control plane has Velero's own).
pub fn crd_files(module: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = vec![];
    for dir in ["config/crd/bases", "hack/test"] {
        let dir = module.join(dir);
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut these: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .filter(|p| {
                !p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("velero.io_"))
            })
            .collect();
        these.sort();
        files.extend(these);
    }
    Ok(files)
}

/// Ramen's configuration (the file and the ConfigMap hold the same text; JSON is YAML).
fn config(store: &ObjectStore, health_port: u16) -> Value {
    json!({
        "apiVersion": "ramendr.openshift.io/v1alpha1",
        "kind": "RamenConfig",
        "ramenControllerType": "dr-cluster",
        "leaderElection": {"leaderElect": false},
        "metrics": {"bindAddress": "0"},
        "health": {"healthProbeBindAddress": format!("127.0.0.1:{health_port}")},
        "maxConcurrentReconciles": 1,
        "volSync": {"disabled": true},
        "kubeObjectProtection": {"veleroNamespaceName": VELERO_NAMESPACE},
        "s3StoreProfiles": [{
            "s3ProfileName": S3_PROFILE,
            "s3Bucket": S3_BUCKET,
            "s3CompatibleEndpoint": store.url,
            "s3Region": "us-east-1",
            "s3SecretRef": {"name": S3_SECRET, "namespace": NAMESPACE},
        }],
    })
}

/// Applies `object` (server-side, forced) through the dynamic API of its apiVersion and kind.
async fn apply(client: &kube::Client, object: Value) -> Result<(), String> {
    let (group, version) = match object["apiVersion"].as_str().unwrap_or_default() {
        v if v.contains('/') => v.split_once('/').unwrap_or_default(),
        v => ("", v),
    };
    let gvk = GroupVersionKind::gvk(group, version, object["kind"].as_str().unwrap_or_default());
    let resource = ApiResource::from_gvk(&gvk);
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let api: Api<DynamicObject> = match object["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let typed: DynamicObject = serde_json::from_value(object).map_err(err)?;
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&typed),
    )
    .await
    .map_err(|e| format!("apply {} {name}: {e}", gvk.kind))?;
    Ok(())
}

/// A running `ramen-manager`. Dropping it kills the manager.
pub struct Ramen {
    process: Process,
    /// `127.0.0.1:PORT` of the health probe (`/readyz`, `/healthz`).
    pub health: String,
}

impl Ramen {
    /// Installs what Ramen needs in `plane` (its CRDs in place of vrg-operator's VRG/Recipe ones,
    /// namespace, S3 secret, Velero-namespace credential secret, config file + ConfigMap) and
    /// starts `ramen-manager` with `kubeconfig` (a kubeconfig file path; the caller may pass one
    /// that impersonates a user, so the API server's audit log tells Ramen's requests apart),
    /// logging to a file in `plane.dir`. Returns once the manager is up: its health probe answers
    /// and its VolumeReplicationGroup controller has started its workers (caches synced).
    pub async fn start(
        plane: &ControlPlane,
        store: &ObjectStore,
        kubeconfig: &Path,
    ) -> Result<Self, String> {
        let (manager, module) = locate()?;
        let client = plane
            .client()
            .await
            .map_err(|e| format!("ramen: client: {e}"))?;

        // versitygw's posix backend serves each directory of its root as a bucket.
        let bucket = store.root.join(S3_BUCKET);
        std::fs::create_dir_all(&bucket)
            .map_err(|e| format!("ramen: bucket {}: {e}", bucket.display()))?;

        // CRDs first: Ramen decides at start-up which watches to set up.
        install_crds(&client, &crd_files(&module)?).await?;

        for ns in [NAMESPACE, VELERO_NAMESPACE] {
            apply(
                &client,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            )
            .await
            .map_err(|e| format!("ramen: namespace: {e}"))?;
        }
        apply(
            &client,
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": S3_SECRET, "namespace": NAMESPACE},
                "stringData": {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY},
            }),
        )
        .await
        .map_err(|e| format!("ramen: S3 secret: {e}"))?;
        // What the hub's policy would deliver: Velero's credential for Ramen's locations.
        let velero_secret = format!("v{S3_SECRET}");
        apply(
            &client,
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": velero_secret, "namespace": VELERO_NAMESPACE},
                "stringData": {"ramengenerated": format!(
                    "[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")},
            }),
        )
        .await
        .map_err(|e| format!("ramen: Velero credential secret: {e}"))?;

        let health_port = free_port().map_err(|e| format!("ramen: {e}"))?;
        let text = serde_json::to_string_pretty(&config(store, health_port)).map_err(err)?;
        let config_path = plane.dir.join("ramen-config.yaml");
        std::fs::write(&config_path, &text)
            .map_err(|e| format!("ramen: {}: {e}", config_path.display()))?;
        apply(
            &client,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": CONFIG_MAP, "namespace": NAMESPACE},
                "data": {CONFIG_KEY: text},
            }),
        )
        .await
        .map_err(|e| format!("ramen: ConfigMap: {e}"))?;

        let args = vec![
            format!("--config={}", config_path.display()),
            format!("--kubeconfig={}", kubeconfig.display()),
            "--zap-log-level=info".to_owned(),
            "--zap-time-encoding=rfc3339nano".to_owned(),
        ];
        let log = plane.dir.join("ramen-manager.log");
        let process = Process::spawn(
            "ramen-manager",
            &manager,
            &args,
            log,
            &[("POD_NAMESPACE", NAMESPACE.to_owned())],
        )
        .map_err(|e| format!("ramen: {e}"))?;
        let mut ramen = Self {
            process,
            health: format!("127.0.0.1:{health_port}"),
        };
        ramen.wait_up(Duration::from_secs(150)).await?;
        Ok(ramen)
    }

    async fn wait_up(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.process.exited() {
                return Err(format!(
                    "ramen-manager exited ({status}); last log lines:\n{}",
                    self.process.log_tail(30)
                ));
            }
            let log = std::fs::read_to_string(&self.process.log).unwrap_or_default();
            if log.contains("Kubernetes object protection won't work") {
                return Err(format!(
                    "ramen-manager saw no Velero CRDs, so it will not protect kube objects; log:\n{}",
                    self.process.log_tail(30)
                ));
            }
            let workers = log.lines().any(|l| {
                l.contains("Starting workers") && l.contains("\"VolumeReplicationGroup\"")
            });
            let health = self.health.clone();
            let ready = tokio::task::spawn_blocking(move || probe(&health))
                .await
                .unwrap_or(false);
            if ready && workers {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "ramen-manager not up within {}s (readyz {ready}, VRG workers {workers}); \
                     last log lines:\n{}",
                    timeout.as_secs(),
                    self.process.log_tail(30)
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn log(&self) -> PathBuf {
        self.process.log.clone()
    }

    /// The last `lines` lines of the manager's log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }
}

/// `GET /readyz` on `addr` answers 200.
fn probe(addr: &str) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
}

/// `vrg_testenv::crds::install`: server-side apply, forced, as the field manager that installed
/// vrg-operator's CRDs, so Ramen's VRG and Recipe CRDs replace ours and drop the fields only ours
/// had.
async fn install_crds(client: &kube::Client, files: &[PathBuf]) -> Result<(), String> {
    vrg_testenv::crds::install(client, files)
        .await
        .map_err(|e| format!("ramen: installing Ramen's CRDs: {e}"))
}

/// The API of Ramen's VRGs in `namespace`.
pub fn vrg_api(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("ramendr.openshift.io", "v1alpha1", "VolumeReplicationGroup");
    Api::namespaced_with(client.clone(), namespace, &ApiResource::from_gvk(&gvk))
}

/// Ramen's VRG `name` in `namespace`, protecting that namespace's kube objects with the Recipe
/// `recipe` (in the same namespace), capturing every `interval` (e.g. "1m"); `action`:
/// Some("Failover") for a VRG that recovers.
pub fn vrg(
    name: &str,
    namespace: &str,
    recipe: &str,
    interval: &str,
    action: Option<&str>,
) -> Value {
    let mut spec = json!({
        "replicationState": "primary",
        // rc1 refuses a VRG with neither; `sync` with no peer classes checks nothing.
        "sync": {},
        "s3Profiles": [S3_PROFILE],
        // An empty selector would select every PVC (and wait for storage that never comes).
        "pvcSelector": {"matchLabels": {"ramen-bench/no-pvcs": "none"}},
        "kubeObjectProtection": {
            "captureInterval": interval,
            "recipeRef": {"namespace": namespace, "name": recipe},
        },
    });
    if let Some(action) = action {
        spec["action"] = json!(action);
    }
    json!({
        "apiVersion": "ramendr.openshift.io/v1alpha1",
        "kind": "VolumeReplicationGroup",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}

/// The number of the last complete capture (status.kubeObjectProtection.captureToRecoverFrom), if any.
pub fn last_capture(vrg: &Value) -> Option<i64> {
    vrg["status"]["kubeObjectProtection"]["captureToRecoverFrom"]["number"].as_i64()
}

/// The VRG recovered its kube objects (the condition Ramen sets when the restore finished):
/// `KubeObjectsReady` True with reason `KubeObjectsRestored`. Ramen sets the same condition,
/// without restoring anything, on a VRG without `spec.action` ("fresh deployment"), so this is
/// false for those.
pub fn recovered(vrg: &Value) -> bool {
    let acts = vrg["spec"]["action"]
        .as_str()
        .is_some_and(|a| !a.is_empty());
    acts && vrg["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| {
            c["type"] == "KubeObjectsReady"
                && c["status"] == "True"
                && c["reason"] == "KubeObjectsRestored"
        })
}
