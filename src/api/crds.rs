//! The CRDs generated from the Rust types, as `vrg-operator crds` prints them and `crds/` holds them.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::{Recipe, VolumeReplicationGroup};

/// Failure to render the CRDs (only possible if a type's schema cannot be serialised).
#[derive(Debug, thiserror::Error)]
#[error("cannot render the CRDs as YAML: {0}")]
pub struct CrdError(#[from] serde_saphyr::SerializeError);

/// Every CRD this operator owns.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![VolumeReplicationGroup::crd(), spec_optional(Recipe::crd())]
}

/// `crd` without `spec` among its required fields: Ramen's Recipe CRD lets a Recipe have none
/// (or `spec: null`, which the API server prunes), and Ramen reads it as empty; so do we.
fn spec_optional(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        let root = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut());
        if let Some(root) = root {
            root.required = root
                .required
                .take()
                .map(|r| {
                    r.into_iter()
                        .filter(|field| field != "spec")
                        .collect::<Vec<_>>()
                })
                .filter(|r| !r.is_empty());
        }
    }
    crd
}

/// The CRDs as one multi-document YAML stream.
pub fn crds_yaml() -> Result<String, CrdError> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `crds/crds.yaml` is what users install; it must be exactly what the types generate.
    #[test]
    fn committed_crds_match_the_types() {
        let committed = include_str!("../../crds/crds.yaml");
        let generated = crds_yaml().unwrap();
        assert!(
            committed == generated,
            "crds/crds.yaml is stale: run `cargo run -- crds > crds/crds.yaml`"
        );
    }
}
