//! A certificate and key kept current by someone else (cert-manager, or a mounted Secret the
//! kubelet refreshes): `tls.crt` and `tls.key` in a directory, loaded again when they change.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;

/// How often the files are read again: the kubelet itself takes up to a minute or so to
/// refresh a mounted Secret.
const INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
#[error("cannot read the webhook's certificate {cert} and key {key}: {source}")]
pub struct Error {
    cert: PathBuf,
    key: PathBuf,
    #[source]
    source: std::io::Error,
}

fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("tls.crt"), dir.join("tls.key"))
}

/// The files' contents now.
fn read(dir: &Path) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let (cert, key) = paths(dir);
    let read = |path: &Path| std::fs::read(path);
    match (read(&cert), read(&key)) {
        (Ok(c), Ok(k)) => Ok((c, k)),
        (Err(source), _) | (_, Err(source)) => Err(Error { cert, key, source }),
    }
}

/// The certificate and key in `dir`, read now so a missing one stops the operator at start.
pub async fn load(dir: &Path) -> Result<RustlsConfig, Error> {
    let (cert, key) = read(dir)?;
    let (cert_path, key_path) = paths(dir);
    RustlsConfig::from_pem(cert, key)
        .await
        .map_err(|source| Error {
            cert: cert_path,
            key: key_path,
            source,
        })
}

/// Loads the files again whenever they change, for as long as the webhook serves.
pub async fn keep(dir: PathBuf, tls: RustlsConfig) {
    let mut loaded = read(&dir).ok();
    loop {
        tokio::time::sleep(INTERVAL).await;
        match read(&dir) {
            Ok(now) if Some(&now) != loaded.as_ref() => {
                match tls.reload_from_pem(now.0.clone(), now.1.clone()).await {
                    Ok(()) => {
                        tracing::info!(dir = %dir.display(), "loaded the webhook's renewed certificate");
                        loaded = Some(now);
                    }
                    Err(e) => {
                        tracing::error!(dir = %dir.display(), "cannot load the webhook's certificate: {e}")
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!("{e}"),
        }
    }
}
