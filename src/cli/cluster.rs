//! `validate --cluster`: the Recipes that VRGs reference and the files do not hold, read from
//! the cluster of the current kubeconfig, as the controller reads them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::documents::{Document, kind, namespace};
use crate::recipe::{Settings, referenced_recipe};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start the client: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot reach the cluster of the current kubeconfig: {0}")]
    Connect(#[source] kube::Error),
    #[error("cannot read Recipe {namespace}/{name} from the cluster: {source}")]
    Read {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("Recipe {0} from the cluster: {1}")]
    Decode(String, #[source] serde_json::Error),
}

/// The referenced Recipes that exist on the cluster and are not in `given`. A reference the
/// VRG may not make is never read (validation refuses it without looking).
pub fn referenced_recipes(
    docs: &[Document],
    given: &BTreeMap<(String, String), Value>,
    default_namespace: &str,
    settings: &Settings,
) -> Result<BTreeMap<(String, String), Value>, Error> {
    let mut wanted = vec![];
    for doc in docs
        .iter()
        .filter(|d| kind(&d.value) == Some("VolumeReplicationGroup"))
    {
        let vrg_namespace = namespace(&doc.value, default_namespace);
        if let Some(key) = referenced_recipe(&doc.value, vrg_namespace, settings)
            && !given.contains_key(&key)
            && !wanted.contains(&key)
        {
            wanted.push(key);
        }
    }
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async {
        let client = kube::Client::try_default().await.map_err(Error::Connect)?;
        let mut found = BTreeMap::new();
        for (ns, name) in wanted {
            let recipe = crate::controller::recipe_documents(&client, &ns)
                .get_opt(&name)
                .await
                .map_err(|source| Error::Read {
                    namespace: ns.clone(),
                    name: name.clone(),
                    source,
                })?;
            if let Some(recipe) = recipe {
                let doc = serde_json::to_value(recipe)
                    .map_err(|e| Error::Decode(format!("{ns}/{name}"), e))?;
                found.insert((ns, name), doc);
            }
        }
        Ok(found)
    })
}
