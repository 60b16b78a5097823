//! Installing CRDs (vrg-operator's generated ones and Velero's own files) and waiting until the
//! API server serves them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};

use crate::{Binaries, Error};

/// vrg-operator's CRDs and every Velero CRD file.
pub fn crd_files(binaries: &Binaries) -> Result<Vec<PathBuf>, Error> {
    let mut files = vec![crate::operator_crds()];
    let dir = &binaries.velero_crds;
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Io(dir.clone(), e))?;
    let mut velero: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    velero.sort();
    files.extend(velero);
    Ok(files)
}

/// Applies every CRD in `files` (server-side apply) and waits for each to be Established.
pub async fn install(client: &kube::Client, files: &[PathBuf]) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = vec![];
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| Error::Io(file.clone(), e))?;
        let crds: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(&text)
            .map_err(|e| Error::Crds(format!("{}: {e}", file.display())))?;
        for crd in crds {
            let name =
                crd.metadata.name.clone().ok_or_else(|| {
                    Error::Crds(format!("{}: a CRD without a name", file.display()))
                })?;
            api.patch(
                &name,
                &PatchParams::apply("vrg-testenv").force(),
                &Patch::Apply(&crd),
            )
            .await?;
            names.push(name);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for name in names {
        loop {
            let crd = api.get(&name).await?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            if Instant::now() > deadline {
                return Err(Error::Crds(format!("{name} not Established after 30s")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}
