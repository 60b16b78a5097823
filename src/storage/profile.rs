//! Reading `s3StoreProfiles` from Ramen's operator ConfigMap.
//!
//! Only the fields a BackupStorageLocation needs are read; every other key of Ramen's document
//! is ignored, so a Ramen ConfigMap is read as it is. A profile that cannot be used is refused
//! alone, with its reason: the others are still synced.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::recipe::names::is_dns_subdomain;

/// The ConfigMap key Ramen reads its configuration from.
pub const CONFIG_KEY: &str = "ramen_manager_config.yaml";

/// `--ramen-config NAMESPACE/NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigRef {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ConfigRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl std::str::FromStr for ConfigRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (namespace, name) = s.split_once('/').ok_or_else(|| {
            format!(
                "\"{s}\" is not NAMESPACE/NAME (e.g. ramen-system/ramen-dr-cluster-operator-config)"
            )
        })?;
        for (what, part) in [("namespace", namespace), ("name", name)] {
            if !is_dns_subdomain(part) {
                return Err(format!(
                    "\"{s}\": the {what} \"{part}\" is not a valid Kubernetes name"
                ));
            }
        }
        Ok(Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }
}

/// Why the ConfigMap as a whole cannot be read; nothing is changed then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("has no key {CONFIG_KEY}, where Ramen keeps its configuration")]
    MissingKey,
    #[error("{CONFIG_KEY} is not valid YAML: {0}")]
    Yaml(String),
    #[error("{CONFIG_KEY}: {0}")]
    Shape(String),
}

/// Why one profile is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("s3 profile {profile}: {reason}")]
pub struct ProfileError {
    /// The profile's name, or `s3StoreProfiles[i]` when it has none.
    pub profile: String,
    pub reason: String,
}

/// A Secret in some namespace (`s3SecretRef`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct SecretRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
}

/// A key of a Secret in Velero's namespace (`veleroNamespaceSecretKeyRef`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct KeyRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub key: String,
}

/// One usable s3 profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The BackupStorageLocation's name: what a VRG's `spec.s3Profiles` names.
    pub name: String,
    pub bucket: String,
    pub endpoint: String,
    pub region: String,
    /// Where the access keys are; its namespace is filled (the ConfigMap's when Ramen's is empty).
    pub secret: SecretRef,
    /// A user-managed credentials Secret in Velero's namespace, used as it is.
    pub velero_secret: Option<KeyRef>,
    /// PEM bundle, base64 as in the document (a BackupStorageLocation's `caCert` is too).
    pub ca_certificates: Option<String>,
}

/// What the document yields: the usable profiles, the refused ones, and every name it mentions
/// (so that a refused profile's BackupStorageLocation is kept rather than deleted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub profiles: Vec<Profile>,
    pub refused: Vec<ProfileError>,
    pub mentioned: Vec<String>,
}

/// A profile as written; every field optional so that a missing one is reported by name.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(default)]
    s3_profile_name: String,
    #[serde(default)]
    s3_bucket: String,
    #[serde(default)]
    s3_compatible_endpoint: String,
    #[serde(default)]
    s3_region: String,
    #[serde(default)]
    s3_secret_ref: SecretRef,
    #[serde(default)]
    velero_namespace_secret_key_ref: Option<KeyRef>,
    #[serde(default)]
    ca_certificates: Option<String>,
}

/// Reads the profiles from the ConfigMap's `data`; `namespace` is the ConfigMap's.
pub fn parse(data: &BTreeMap<String, String>, namespace: &str) -> Result<Parsed, ConfigError> {
    let text = data.get(CONFIG_KEY).ok_or(ConfigError::MissingKey)?;
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| ConfigError::Yaml(e.to_string()))?;
    let profiles = match &doc {
        Value::Object(map) => match map.get("s3StoreProfiles") {
            None | Some(Value::Null) => return Ok(Parsed::default()),
            Some(Value::Array(list)) => list,
            Some(_) => return Err(ConfigError::Shape("s3StoreProfiles is not a list".into())),
        },
        // An empty document configures nothing, as an empty ConfigMap key would.
        Value::Null => return Ok(Parsed::default()),
        _ => return Err(ConfigError::Shape("the document is not a mapping".into())),
    };
    let mut parsed = Parsed::default();
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for value in profiles {
        if let Some(name) = value.get("s3ProfileName").and_then(Value::as_str) {
            *count.entry(name).or_default() += 1;
        }
    }
    for (i, value) in profiles.iter().enumerate() {
        let label = value
            .get("s3ProfileName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map_or_else(|| format!("s3StoreProfiles[{i}]"), str::to_owned);
        let refuse = |reason: String| ProfileError {
            profile: label.clone(),
            reason,
        };
        if count.get(label.as_str()).copied().unwrap_or(0) > 1 {
            // Which one is meant cannot be told; an existing location is kept as it is.
            parsed.mentioned.push(label.clone());
            if !parsed.refused.iter().any(|r| r.profile == label) {
                parsed.refused.push(refuse(format!(
                    "defined {} times; rename or remove all but one",
                    count[label.as_str()]
                )));
            }
            continue;
        }
        match profile(value, namespace) {
            Ok(p) => {
                parsed.mentioned.push(p.name.clone());
                parsed.profiles.push(p);
            }
            Err(reason) => {
                if is_dns_subdomain(&label) {
                    parsed.mentioned.push(label.clone());
                }
                parsed.refused.push(refuse(reason));
            }
        }
    }
    Ok(parsed)
}

fn profile(value: &Value, namespace: &str) -> Result<Profile, String> {
    let raw: Raw = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    let name = raw.s3_profile_name;
    if name.is_empty() {
        return Err("s3ProfileName is missing".into());
    }
    if !is_dns_subdomain(&name) {
        return Err(format!(
            "s3ProfileName \"{name}\" cannot name a BackupStorageLocation: use lowercase \
             letters, digits, '-' and '.' (a DNS-1123 subdomain, at most 253 characters)"
        ));
    }
    for (field, v) in [
        ("s3Bucket", &raw.s3_bucket),
        ("s3CompatibleEndpoint", &raw.s3_compatible_endpoint),
    ] {
        if v.is_empty() {
            return Err(format!("{field} is missing"));
        }
    }
    let mut secret = raw.s3_secret_ref;
    if secret.namespace.is_empty() {
        secret.namespace = namespace.to_owned();
    }
    let velero_secret = match raw.velero_namespace_secret_key_ref {
        Some(k) if k.name.is_empty() || k.key.is_empty() => {
            return Err("veleroNamespaceSecretKeyRef needs both name and key".into());
        }
        other => other,
    };
    if velero_secret.is_none() {
        if secret.name.is_empty() {
            return Err("s3SecretRef.name is missing".into());
        }
        // The generated Secret is named `v` + this name, in Velero's namespace.
        if !is_dns_subdomain(&secret.name) || secret.name.len() > 252 {
            return Err(format!(
                "s3SecretRef.name \"{}\" is not a valid Secret name",
                secret.name
            ));
        }
    }
    Ok(Profile {
        name,
        bucket: raw.s3_bucket,
        endpoint: raw.s3_compatible_endpoint,
        region: raw.s3_region,
        secret,
        velero_secret,
        ca_certificates: raw.ca_certificates.filter(|c| !c.is_empty()),
    })
}
