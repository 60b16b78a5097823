//! The webhook's own certificate authority: making a CA and a serving certificate, and reading
//! back what a Secret holds. No I/O; what to make and when is `renew`'s decision.

use std::collections::BTreeSet;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::OffsetDateTime;

/// The Secret's keys: `tls.crt` and `tls.key` as a `kubernetes.io/tls` Secret has them, the CA
/// bundle (newest CA first) as the API server is given it, and the newest CA's key.
pub const SERVING_CERT: &str = "tls.crt";
pub const SERVING_KEY: &str = "tls.key";
pub const CA_BUNDLE: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";

/// Certificates are dated back a little (a minute, or a tenth of a short lifetime), so a replica
/// or API server whose clock is a little behind still accepts them.
fn backdate(validity: i64) -> i64 {
    (validity / 10).min(60)
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the Secret has no {0}")]
    Missing(&'static str),
    #[error("{0} is not a PEM certificate")]
    NotPem(&'static str),
    #[error("{0} holds no certificate")]
    Empty(&'static str),
    #[error("cannot make a certificate: {0}")]
    Make(#[from] rcgen::Error),
    #[error("cannot date a certificate: {0}")]
    Date(#[from] time::error::ComponentRange),
}

/// One certificate as the decisions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cert {
    pub pem: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// Raw DER of the subject and issuer names: a serving certificate was issued by the CA
    /// whose subject is its issuer (each CA's name carries its creation time, so names differ).
    pub subject: Vec<u8>,
    pub issuer: Vec<u8>,
    /// DNS names and IP addresses.
    pub hosts: BTreeSet<String>,
}

impl Cert {
    /// Whether the last third of its lifetime has begun: renewing then leaves every replica and
    /// the API server a third of the lifetime to pick the new one up.
    pub fn due(&self, now: i64) -> bool {
        now >= self.not_after - (self.not_after - self.not_before) / 3
    }

    pub fn expired(&self, now: i64) -> bool {
        now >= self.not_after
    }
}

/// What the Secret holds, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Newest first; the first signs serving certificates.
    pub cas: Vec<Cert>,
    pub ca_key: String,
    pub serving: Cert,
    pub serving_key: String,
}

impl Stored {
    pub fn newest_ca(&self) -> &Cert {
        &self.cas[0]
    }

    /// The bundle the API server trusts, as PEM.
    pub fn bundle(&self) -> String {
        self.cas.iter().map(|c| c.pem.as_str()).collect()
    }
}

const END: &str = "-----END CERTIFICATE-----";

/// Every certificate in `pem`, in order, each with its own PEM text.
pub fn parse(pem: &str, key: &'static str) -> Result<Vec<Cert>, Error> {
    let mut certs = Vec::new();
    for block in pem.split_inclusive(END).filter(|b| b.contains(END)) {
        let text = format!("{}\n", block.trim_start());
        let (_, parsed) =
            x509_parser::pem::parse_x509_pem(text.as_bytes()).map_err(|_| Error::NotPem(key))?;
        let x509 = parsed.parse_x509().map_err(|_| Error::NotPem(key))?;
        let hosts = x509
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| {
                san.value
                    .general_names
                    .iter()
                    .filter_map(|name| match name {
                        x509_parser::extensions::GeneralName::DNSName(d) => Some((*d).to_owned()),
                        x509_parser::extensions::GeneralName::IPAddress(ip) => ip_string(ip),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        certs.push(Cert {
            not_before: x509.validity().not_before.timestamp(),
            not_after: x509.validity().not_after.timestamp(),
            subject: x509.subject().as_raw().to_vec(),
            issuer: x509.issuer().as_raw().to_vec(),
            hosts,
            pem: text,
        });
    }
    if certs.is_empty() {
        return Err(Error::Empty(key));
    }
    Ok(certs)
}

fn ip_string(octets: &[u8]) -> Option<String> {
    let ip: std::net::IpAddr = match octets.len() {
        4 => <[u8; 4]>::try_from(octets).ok()?.into(),
        16 => <[u8; 16]>::try_from(octets).ok()?.into(),
        _ => return None,
    };
    Some(ip.to_string())
}

/// Reads the Secret's data back; an error names what is missing or broken.
pub fn read(data: &std::collections::BTreeMap<String, Vec<u8>>) -> Result<Stored, Error> {
    let text = |key: &'static str| -> Result<String, Error> {
        let bytes = data.get(key).ok_or(Error::Missing(key))?;
        String::from_utf8(bytes.clone()).map_err(|_| Error::NotPem(key))
    };
    let serving = parse(&text(SERVING_CERT)?, SERVING_CERT)?.remove(0);
    Ok(Stored {
        cas: parse(&text(CA_BUNDLE)?, CA_BUNDLE)?,
        ca_key: text(CA_KEY)?,
        serving,
        serving_key: text(SERVING_KEY)?,
    })
}

/// The Secret's data for `stored`.
pub fn data(stored: &Stored) -> std::collections::BTreeMap<String, Vec<u8>> {
    [
        (SERVING_CERT, stored.serving.pem.clone()),
        (SERVING_KEY, stored.serving_key.clone()),
        (CA_BUNDLE, stored.bundle()),
        (CA_KEY, stored.ca_key.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_bytes()))
    .collect()
}

fn date(unix: i64) -> Result<OffsetDateTime, Error> {
    Ok(OffsetDateTime::from_unix_timestamp(unix)?)
}

/// A new CA valid for `validity` seconds from `now`, and its key.
pub fn new_ca(now: i64, validity: i64) -> Result<(Cert, String), Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "vrg-operator");
    name.push(DnType::CommonName, format!("vrg-operator webhook CA {now}"));
    params.distinguished_name = name;
    params.not_before = date(now - backdate(validity))?;
    params.not_after = date(now + validity)?;
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let parsed = parse(&cert.pem(), CA_BUNDLE)?.remove(0);
    Ok((parsed, key.serialize_pem()))
}

/// A serving certificate for `hosts`, issued by `ca` (whose key is `ca_key`), valid for
/// `validity` seconds from `now` but never past the CA itself.
pub fn issue(
    ca: &Cert,
    ca_key: &str,
    hosts: &BTreeSet<String>,
    now: i64,
    validity: i64,
) -> Result<(Cert, String), Error> {
    let signer = KeyPair::from_pem(ca_key)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.pem, signer)?;
    let mut params = CertificateParams::new(hosts.iter().cloned().collect::<Vec<_>>())?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "vrg-operator");
    name.push(
        DnType::CommonName,
        hosts.iter().next().cloned().unwrap_or_default(),
    );
    params.distinguished_name = name;
    params.not_before = date(now - backdate(validity))?;
    params.not_after = date((now + validity).min(ca.not_after))?;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    let parsed = parse(&cert.pem(), SERVING_CERT)?.remove(0);
    Ok((parsed, key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> BTreeSet<String> {
        ["webhook.ops.svc".to_owned(), "127.0.0.1".to_owned()].into()
    }

    #[test]
    fn a_serving_certificate_names_its_ca_and_hosts_and_never_outlives_it() {
        let (ca, ca_key) = new_ca(1_000_000, 3600).unwrap();
        let (serving, key) = issue(&ca, &ca_key, &hosts(), 1_000_100, 100_000).unwrap();
        assert_eq!(serving.issuer, ca.subject);
        assert_eq!(serving.hosts, hosts());
        assert_eq!(serving.not_after, ca.not_after);
        assert_eq!(ca.not_before, 1_000_000 - 60);
        let stored = Stored {
            cas: vec![ca],
            ca_key,
            serving,
            serving_key: key,
        };
        assert_eq!(read(&data(&stored)).unwrap(), stored);
    }

    #[test]
    fn two_cas_made_apart_have_different_names() {
        let (a, _) = new_ca(1_000_000, 3600).unwrap();
        let (b, _) = new_ca(1_000_001, 3600).unwrap();
        assert_ne!(a.subject, b.subject);
    }

    #[test]
    fn broken_data_is_named() {
        let mut data = std::collections::BTreeMap::new();
        assert!(matches!(read(&data), Err(Error::Missing(SERVING_CERT))));
        data.insert(SERVING_CERT.to_owned(), b"not a certificate".to_vec());
        assert!(matches!(read(&data), Err(Error::Empty(SERVING_CERT))));
        data.insert(
            SERVING_CERT.to_owned(),
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
        );
        assert!(matches!(read(&data), Err(Error::NotPem(SERVING_CERT))));
    }

    #[test]
    fn the_last_third_of_a_lifetime_is_due() {
        let (ca, _) = new_ca(1000, 300).unwrap();
        // Valid from 970 to 1300: due from 1190.
        assert!(!ca.due(1189));
        assert!(ca.due(1190));
        assert!(!ca.expired(1299));
        assert!(ca.expired(1300));
    }
}
