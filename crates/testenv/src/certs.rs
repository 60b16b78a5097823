//! Certificates for a loopback control plane: one CA, the API server's serving certificate, an
//! admin client certificate, and the service-account signing key.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

use crate::Error;

/// Paths of the PEM files written by [`generate`].
#[derive(Debug, Clone)]
pub struct Certs {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub admin_cert: PathBuf,
    pub admin_key: PathBuf,
    pub sa_public: PathBuf,
    pub sa_private: PathBuf,
}

fn params(
    common_name: &str,
    organisation: Option<&str>,
    sans: &[&str],
) -> Result<CertificateParams, Error> {
    let mut p = CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        .map_err(|e| Error::Certs(e.to_string()))?;
    p.distinguished_name.push(DnType::CommonName, common_name);
    if let Some(o) = organisation {
        p.distinguished_name.push(DnType::OrganizationName, o);
    }
    Ok(p)
}

/// Writes every certificate and key into `dir`.
pub fn generate(dir: &Path) -> Result<Certs, Error> {
    let cert_err = |e: rcgen::Error| Error::Certs(e.to_string());
    let mut ca_params = params("vrg-testenv-ca", None, &[])?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().map_err(cert_err)?;
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(cert_err)?;

    let sans = [
        "127.0.0.1",
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "10.0.0.1",
    ];
    let mut serving = params("kube-apiserver", None, &sans)?;
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_key = KeyPair::generate().map_err(cert_err)?;
    let serving_cert = serving.signed_by(&serving_key, &ca).map_err(cert_err)?;

    let mut admin = params("vrg-testenv-admin", Some("system:masters"), &[])?;
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_key = KeyPair::generate().map_err(cert_err)?;
    let admin_cert = admin.signed_by(&admin_key, &ca).map_err(cert_err)?;

    let sa_key = KeyPair::generate().map_err(cert_err)?;

    let write = |name: &str, contents: String| -> Result<PathBuf, Error> {
        let path = dir.join(name);
        std::fs::write(&path, contents).map_err(|e| Error::Io(path.clone(), e))?;
        Ok(path)
    };
    Ok(Certs {
        ca_cert: write("ca.crt", ca.pem())?,
        ca_key: write("ca.key", ca_key_pem)?,
        serving_cert: write("apiserver.crt", serving_cert.pem())?,
        serving_key: write("apiserver.key", serving_key.serialize_pem())?,
        admin_cert: write("admin.crt", admin_cert.pem())?,
        admin_key: write("admin.key", admin_key.serialize_pem())?,
        sa_public: write("sa.pub", sa_key.public_key_pem())?,
        sa_private: write("sa.key", sa_key.serialize_pem())?,
    })
}
