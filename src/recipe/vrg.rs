//! Reading a VRG manifest: the fields the operator acts on, every problem with its path.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use super::labels::selector;
use super::names::check_dns_label;
use super::params::Parameters;
use super::problem::{Problems, index};
use super::reader::{Obj, check_bounds, parse_duration, string_list, type_name};

/// Default time between capture starts.
pub const DEFAULT_CAPTURE_INTERVAL: Duration = Duration::from_secs(5 * 60);

const SPEC_KEYS: &[&str] = &[
    "replicationState",
    "s3Profiles",
    "action",
    "protectedNamespaces",
    "kubeObjectProtection",
    "pvcSelector",
    "async",
    "sync",
    "volSync",
    "prepareForFinalSync",
    "runFinalSync",
    "dryRun",
    "staticIPTranslationSpec",
];
const KOP_KEYS: &[&str] = &[
    "captureInterval",
    "recipeRef",
    "recipeParameters",
    "kubeObjectSelector",
    "recipe",
    "captureOrder",
    "recoverOrder",
];

/// The VRG fields that decide what its recipe may do.
#[derive(Debug, Clone, Default)]
pub struct VrgView {
    pub name: String,
    pub namespace: String,
    pub protected_namespaces: Option<Vec<String>>,
    pub s3_profiles: Vec<String>,
    /// `None` when protection is off (no `kubeObjectProtection`).
    pub protection: Option<Protection>,
}

#[derive(Debug, Clone)]
pub struct Protection {
    pub capture_interval: Duration,
    pub parameters: Parameters,
    pub source: Source,
}

/// Where the VRG's recipe comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// No recipe: the default one, with `kubeObjectSelector`.
    Default(Option<LabelSelector>),
    Ref {
        namespace: String,
        name: String,
    },
    Inline(Value),
    Orders {
        capture: Option<Value>,
        recover: Option<Value>,
    },
}

pub const KOP_PATH: &str = "spec.kubeObjectProtection";

/// Reads a VRG document. `namespace` is used when the manifest names none.
pub fn read(doc: &Value, default_namespace: &str, p: &mut Problems) -> Option<VrgView> {
    let top = Obj::new(
        doc,
        "",
        &["apiVersion", "kind", "metadata", "spec", "status"],
        p,
    )?;
    match top.string("apiVersion", p).as_deref() {
        Some("ramendr.openshift.io/v1alpha1") => {}
        Some(other) => p.add(
            "apiVersion",
            format!("\"{other}\" is not ramendr.openshift.io/v1alpha1"),
        ),
        None => p.add(
            "apiVersion",
            "missing: set apiVersion: ramendr.openshift.io/v1alpha1",
        ),
    }
    let meta = top.get("metadata").cloned().unwrap_or(Value::Null);
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if name.is_empty() {
        p.add("metadata.name", "missing: every VRG needs a name");
    }
    let namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(default_namespace)
        .to_owned();
    let Some(spec_value) = top.get("spec") else {
        p.add("spec", "missing: a VRG needs a spec with replicationState");
        return None;
    };
    let spec = Obj::new(spec_value, "spec", SPEC_KEYS, p)?;
    match spec.string("replicationState", p).as_deref() {
        Some("primary" | "secondary") => {}
        Some(other) => {
            let hint = super::problem::suggestion(other, ["primary", "secondary"]);
            p.add(
                "spec.replicationState",
                format!("\"{other}\" is not primary or secondary{hint}"),
            );
        }
        None if spec.has("replicationState") => {}
        None => p.add(
            "spec",
            "missing required field \"replicationState\" (primary or secondary)",
        ),
    }
    match spec.string("action", p).as_deref() {
        None | Some("" | "Failover" | "Relocate") => {}
        Some(other) => p.add(
            "spec.action",
            format!("\"{other}\" is not Failover or Relocate"),
        ),
    }
    let s3_profiles = spec
        .get("s3Profiles")
        .map(|v| string_list(v, "spec.s3Profiles", p))
        .unwrap_or_default();
    let protected_namespaces = spec.get("protectedNamespaces").map(|v| {
        let list = string_list(v, "spec.protectedNamespaces", p);
        for (i, ns) in list.iter().enumerate() {
            check_dns_label(ns, "namespace", &index("spec.protectedNamespaces", i), p);
        }
        list
    });
    let protection = spec
        .get("kubeObjectProtection")
        .and_then(|kop| protection(kop, p));
    if protection.is_some() && s3_profiles.is_empty() {
        p.add(
            "spec.s3Profiles",
            "at least one s3 profile (a Velero BackupStorageLocation name) is needed to capture",
        );
    }
    Some(VrgView {
        name,
        namespace,
        protected_namespaces,
        s3_profiles,
        protection,
    })
}

fn protection(value: &Value, p: &mut Problems) -> Option<Protection> {
    let kop = Obj::new(value, KOP_PATH, KOP_KEYS, p)?;
    let capture_interval = match kop.get("captureInterval") {
        None => DEFAULT_CAPTURE_INTERVAL,
        Some(Value::String(s)) => {
            let path = kop.path_of("captureInterval");
            match parse_duration(s) {
                Ok(d) => check_bounds(d, &path, p).unwrap_or(DEFAULT_CAPTURE_INTERVAL),
                Err(e) => {
                    p.add(path, e);
                    DEFAULT_CAPTURE_INTERVAL
                }
            }
        }
        Some(other) => {
            p.add(
                kop.path_of("captureInterval"),
                format!(
                    "expected a duration such as \"5m\", found {}",
                    type_name(other)
                ),
            );
            DEFAULT_CAPTURE_INTERVAL
        }
    };
    let parameters = kop
        .get("recipeParameters")
        .map(|v| parameters(v, &kop.path_of("recipeParameters"), p))
        .unwrap_or_default();
    let sources: Vec<&str> = ["recipeRef", "recipe", "captureOrder"]
        .into_iter()
        .filter(|k| kop.has(k) || (*k == "captureOrder" && kop.has("recoverOrder")))
        .collect();
    if sources.len() > 1 {
        let names: Vec<String> = sources
            .iter()
            .map(|s| {
                if *s == "captureOrder" {
                    "captureOrder/recoverOrder".to_owned()
                } else {
                    (*s).to_owned()
                }
            })
            .collect();
        p.add(
            KOP_PATH,
            format!(
                "set at most one recipe source; found {}",
                names.join(" and ")
            ),
        );
    }
    let source = if let Some(r) = kop.get("recipeRef") {
        let path = kop.path_of("recipeRef");
        let r = Obj::new(r, &path, &["name", "namespace"], p)?;
        let name = r.required_string("name", p)?;
        Source::Ref {
            namespace: r.string("namespace", p).unwrap_or_default(),
            name,
        }
    } else if let Some(recipe) = kop.get("recipe") {
        Source::Inline(recipe.clone())
    } else if kop.has("captureOrder") || kop.has("recoverOrder") {
        Source::Orders {
            capture: kop.get("captureOrder").cloned(),
            recover: kop.get("recoverOrder").cloned(),
        }
    } else {
        let sel = kop
            .get("kubeObjectSelector")
            .and_then(|v| selector(v, &kop.path_of("kubeObjectSelector"), p));
        Source::Default(sel)
    };
    if kop.has("kubeObjectSelector") && !matches!(source, Source::Default(_)) {
        p.add(
            kop.path_of("kubeObjectSelector"),
            "applies only to the default recipe; select objects in the recipe's groups instead",
        );
    }
    Some(Protection {
        capture_interval,
        parameters,
        source,
    })
}

fn parameters(value: &Value, path: &str, p: &mut Problems) -> Parameters {
    let Value::Object(map) = value else {
        p.add(
            path,
            format!(
                "expected a mapping of name to a list of values, found {}",
                type_name(value)
            ),
        );
        return Parameters::new();
    };
    map.iter()
        .map(|(k, v)| {
            let item = format!("{path}.{k}");
            if !k
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                p.add(
                    &item,
                    format!("\"{k}\" is not a parameter name (letters, digits and '_')"),
                );
            }
            (k.clone(), string_list(v, &item, p))
        })
        .collect()
}
