//! Where the control plane's binaries are: `hack/testbin.sh` builds them and writes an env file
//! naming each one; `VRG_TESTBIN_ENV` points at another env file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::Error;

/// Absolute paths of every binary and data directory the control plane needs.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub etcd: PathBuf,
    pub kube_apiserver: PathBuf,
    pub kube_controller_manager: PathBuf,
    pub kubectl: PathBuf,
    pub kwok: PathBuf,
    /// kwok's stage configs (node and pod lifecycles).
    pub kwok_stages: PathBuf,
    /// Velero's CRD files (`config/crd/v1/bases/` of its module).
    pub velero_crds: PathBuf,
    /// helm (v3), for the tests that lint, render and install the chart; not part of the control
    /// plane, so an env file written before testbin.sh built helm still starts it.
    pub helm: Option<PathBuf>,
    /// kube-scheduler: Velero clears `spec.nodeName` of the pods it restores.
    pub kube_scheduler: Option<PathBuf>,
    /// The real DR data path ([`crate::dr`]): the Velero server, the directory holding its AWS
    /// object-store plugin, and versitygw, the S3 server.
    pub velero: Option<PathBuf>,
    pub velero_plugins: Option<PathBuf>,
    pub versitygw: Option<PathBuf>,
}

/// The env file `hack/testbin.sh` writes.
pub fn env_file() -> PathBuf {
    if let Some(path) = std::env::var_os("VRG_TESTBIN_ENV") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("VRG_TESTBIN_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vrg-operator/testbin"))
        })
        .unwrap_or_else(|| PathBuf::from("/tmp/vrg-operator-testbin"));
    cache.join("env")
}

impl Binaries {
    /// A binary the env file may lack (written by an older testbin.sh), or an error saying how
    /// to get it.
    pub fn need(path: &Option<PathBuf>, key: &str) -> Result<PathBuf, Error> {
        path.clone().ok_or_else(|| {
            Error::Binaries(format!(
                "{} names no {key}: rerun ./hack/testbin.sh",
                env_file().display()
            ))
        })
    }

    /// Reads the env file; a missing file or binary is an error that says how to build them.
    pub fn locate() -> Result<Self, Error> {
        let path = env_file();
        let text = std::fs::read_to_string(&path).map_err(|_| {
            Error::Binaries(format!(
                "{} not found: run ./hack/testbin.sh to build the test control plane",
                path.display()
            ))
        })?;
        let vars: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        let get = |key: &str| -> Result<PathBuf, Error> {
            let value = vars.get(key).ok_or_else(|| {
                Error::Binaries(format!(
                    "{} names no {key}: rerun ./hack/testbin.sh",
                    path.display()
                ))
            })?;
            let p = PathBuf::from(value);
            if p.exists() {
                Ok(p)
            } else {
                Err(Error::Binaries(format!(
                    "{key}={value} does not exist: rerun ./hack/testbin.sh"
                )))
            }
        };
        let optional = |key: &str| vars.contains_key(key).then(|| get(key)).transpose();
        Ok(Self {
            etcd: get("ETCD")?,
            kube_apiserver: get("KUBE_APISERVER")?,
            kube_controller_manager: get("KUBE_CONTROLLER_MANAGER")?,
            kubectl: get("KUBECTL")?,
            kwok: get("KWOK")?,
            kwok_stages: get("KWOK_STAGES")?,
            velero_crds: get("VELERO_CRDS")?,
            helm: optional("HELM")?,
            kube_scheduler: optional("KUBE_SCHEDULER")?,
            velero: optional("VELERO")?,
            velero_plugins: optional("VELERO_PLUGINS")?,
            versitygw: optional("VERSITYGW")?,
        })
    }
}
