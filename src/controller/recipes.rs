//! Reading the Recipe a VRG references, and validating the VRG with it into a plan.

use std::collections::BTreeMap;

use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::Value;

use super::drive::Owner;
use super::{Context, Error, observe};
use crate::api::Recipe;
use crate::api::vrg::VolumeReplicationGroup;
use crate::recipe::{self, Loaded, Problem};

/// The Recipe a VRG references, as a document for the recipe loader; when no Recipe object of
/// that name exists on this cluster, the copy the VRG's newest capture carries (so a failover
/// works on a cluster where the Recipe was never applied).
pub(super) struct Recipes {
    pub found: BTreeMap<(String, String), Value>,
    /// The document each new capture carries.
    pub carried: Option<String>,
    /// Where it came from, in words.
    pub origin: Option<String>,
}

pub(super) async fn read(
    vrg: &VolumeReplicationGroup,
    ctx: &Context,
    owner: &Owner<'_>,
) -> Result<Recipes, Error> {
    let mut out = Recipes {
        found: BTreeMap::new(),
        carried: None,
        origin: None,
    };
    let reference = vrg
        .spec
        .kube_object_protection
        .as_ref()
        .and_then(|k| k.recipe_ref.as_ref());
    let Some(r) = reference else {
        return Ok(out);
    };
    let ns = r
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| owner.namespace.to_owned());
    let settings = ctx.settings().await;
    if !recipe::scope::recipe_ref_allowed(&settings.admin_namespaces, owner.namespace, &ns) {
        // Refused at validation; reading it first would tell its existence, or its problems.
        return Ok(out);
    }
    if recipe::builtin::selects(&settings.admin_namespaces, &ns, &r.name) {
        // Ramen's built-in VM recipe: never read from the cluster, as in Ramen.
        return Ok(out);
    }
    let key = (ns.clone(), r.name.clone());
    if let Some(recipe) = recipe_documents(&ctx.client, &ns).get_opt(&r.name).await? {
        let doc = serde_json::to_value(recipe)?;
        out.carried = Some(carried_form(&doc).to_string());
        out.origin = Some(format!("Recipe {ns}/{} on this cluster", r.name));
        out.found.insert(key, doc);
    } else if let Some((doc, capture)) = observe::carried_recipe(ctx, owner)
        && doc["metadata"]["name"] == r.name.as_str()
        && doc["metadata"]["namespace"] == ns.as_str()
    {
        out.carried = Some(doc.to_string());
        out.origin = Some(format!(
            "Recipe {ns}/{} as carried by {} (no Recipe object of that name on this cluster)",
            r.name,
            capture.describe()
        ));
        out.found.insert(key, doc);
    }
    Ok(out)
}

/// Recipes as documents, however they are written (even without a `spec`, which the typed
/// Recipe could not decode): the recipe loader reports what is wrong with them.
pub fn recipe_documents(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::erase::<Recipe>(&()),
    )
}

/// What a capture carries of a Recipe: what defines it, nothing the server added.
fn carried_form(doc: &Value) -> Value {
    serde_json::json!({
        "apiVersion": doc["apiVersion"],
        "kind": doc["kind"],
        "metadata": {"name": doc["metadata"]["name"], "namespace": doc["metadata"]["namespace"]},
        "spec": doc["spec"],
    })
}

/// The VRG's Recipe (as read) and what validating the VRG with it gave.
pub(super) async fn load(
    vrg: &VolumeReplicationGroup,
    ctx: &Context,
    owner: &Owner<'_>,
) -> Result<(Recipes, Result<Loaded, Vec<Problem>>), Error> {
    let doc = serde_json::to_value(vrg)?;
    let recipes = read(vrg, ctx, owner).await?;
    let settings = ctx.settings().await;
    let namespace = vrg.namespace().unwrap_or_default();
    let loaded = recipe::load_vrg(&doc, &namespace, &recipes.found, &settings);
    Ok((recipes, loaded))
}
