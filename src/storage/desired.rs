//! The Velero objects a profile needs, as Ramen makes them, and what to apply and delete.
//!
//! Ownership is by label: an object is ours when it carries `managed-by: vrg-operator` and the
//! label of the ConfigMap it came from. Only ours are ever deleted, and a profile whose name is
//! taken by someone else's object is refused rather than taken over.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};

use super::profile::{ConfigRef, Profile};
use crate::velero::names::label_value;

pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "vrg-operator";
/// Which ConfigMap an object came from (a label value; the annotation says it in full).
pub const LABEL_RAMEN_CONFIG: &str = "vrg.ramendr.openshift.io/ramen-config";
/// The key of the credentials file in a generated Secret: Ramen's, so a Secret Ramen wrote and
/// one we write are interchangeable.
pub const CREDENTIALS_KEY: &str = "ramengenerated";
const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
const SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";

/// The label value of `config`.
pub fn config_label(config: &ConfigRef) -> String {
    label_value(&format!("{}.{}", config.namespace, config.name))
}

/// Selects the objects made from `config`.
pub fn selector(config: &ConfigRef) -> String {
    format!(
        "{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_RAMEN_CONFIG}={}",
        config_label(config)
    )
}

fn metadata(name: &str, namespace: &str, config: &ConfigRef) -> Value {
    json!({
        "name": name,
        "namespace": namespace,
        "labels": {LABEL_MANAGED_BY: MANAGED_BY, LABEL_RAMEN_CONFIG: config_label(config)},
        "annotations": {LABEL_RAMEN_CONFIG: config.to_string()},
    })
}

/// The Secret we write for `profile` in Velero's namespace: Ramen's name, `v` + the s3 Secret's
/// name; `None` when the profile names a Secret of its own there (`veleroNamespaceSecretKeyRef`).
pub fn generated_secret_name(profile: &Profile) -> Option<String> {
    profile
        .velero_secret
        .is_none()
        .then(|| format!("v{}", profile.secret.name))
}

/// The BackupStorageLocation for `profile`, as Ramen writes it (path-style S3, no request
/// checksums: what S3-compatible stores other than AWS need).
pub fn location(profile: &Profile, velero_namespace: &str, config: &ConfigRef) -> Value {
    let (secret, key) = match &profile.velero_secret {
        Some(k) => (k.name.clone(), k.key.clone()),
        None => (
            generated_secret_name(profile).unwrap_or_default(),
            CREDENTIALS_KEY.to_owned(),
        ),
    };
    let mut storage = json!({"bucket": profile.bucket});
    if let Some(ca) = &profile.ca_certificates {
        storage["caCert"] = json!(ca);
    }
    json!({
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": metadata(&profile.name, velero_namespace, config),
        "spec": {
            "provider": "aws",
            "objectStorage": storage,
            "config": {
                "region": profile.region,
                "s3ForcePathStyle": "true",
                "s3Url": profile.endpoint,
                "checksumAlgorithm": "",
            },
            "credential": {"name": secret, "key": key},
        },
    })
}

/// The generated credentials Secret for `profile`, from the data of its s3 Secret: an AWS
/// shared-credentials file, which is what Velero's AWS plugin reads.
pub fn credentials(
    profile: &Profile,
    source: &BTreeMap<String, ByteString>,
    velero_namespace: &str,
    config: &ConfigRef,
) -> Result<Secret, String> {
    let from = format!(
        "Secret {}/{}",
        profile.secret.namespace, profile.secret.name
    );
    let key = |k: &str| -> Result<String, String> {
        let bytes = source
            .get(k)
            .ok_or_else(|| format!("{from} has no key {k}"))?;
        let text =
            String::from_utf8(bytes.0.clone()).map_err(|_| format!("{from}: {k} is not text"))?;
        // A line break would end the credentials file's line; usually `echo` without `-n`.
        if text.is_empty() || text.chars().any(char::is_control) {
            return Err(format!(
                "{from}: {k} is empty or has a line break or other control character"
            ));
        }
        Ok(text)
    };
    let file = format!(
        "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        key(ACCESS_KEY_ID)?,
        key(SECRET_ACCESS_KEY)?
    );
    let name = generated_secret_name(profile)
        .ok_or_else(|| format!("s3 profile {} uses a Secret of its own", profile.name))?;
    let mut secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(&name, velero_namespace, config),
        "type": "Opaque",
    }))
    .map_err(|e| e.to_string())?;
    secret.data = Some(BTreeMap::from([(
        CREDENTIALS_KEY.to_owned(),
        ByteString(file.into_bytes()),
    )]));
    Ok(secret)
}

/// An object of one kind in Velero's namespace, by name and labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Existing {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Its `resourceVersion`, to tell whether an apply changed it.
    pub version: Option<String>,
}

/// What to do with the objects of one kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Ours to write (absent, or already ours).
    pub apply: Vec<String>,
    /// Wanted, but the name is taken by an object we did not make: left alone.
    pub foreign: Vec<String>,
    /// Ours, and no longer wanted.
    pub delete: Vec<String>,
}

/// Given the names wanted, the names to keep if present (wanted or refused for now), and what
/// exists.
pub fn plan(wanted: &[String], keep: &[String], existing: &[Existing], config: &ConfigRef) -> Plan {
    let label = config_label(config);
    let ours = |e: &Existing| {
        e.labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
            && e.labels.get(LABEL_RAMEN_CONFIG) == Some(&label)
    };
    let mut plan = Plan::default();
    for name in wanted {
        match existing.iter().find(|e| &e.name == name) {
            Some(e) if !ours(e) => plan.foreign.push(name.clone()),
            _ => plan.apply.push(name.clone()),
        }
    }
    plan.delete = existing
        .iter()
        .filter(|e| ours(e) && !wanted.contains(&e.name) && !keep.contains(&e.name))
        .map(|e| e.name.clone())
        .collect();
    plan
}
