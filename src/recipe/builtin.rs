//! Ramen's built-in recipe for virtual machines, selected as Ramen selects it: a `recipeRef` to
//! `vm-recipe` in an admin namespace (Ramen's "ramen-ops" namespace) names it, whatever Recipe
//! objects exist there. It captures, as one group, the objects labelled for the protected VMs
//! (`ramendr.openshift.io/k8s-resource-selector` in `K8S_RESOURCE_SELECTOR`) in the VRG's
//! protected namespaces, cluster-scoped ones included, and restores them the same way; its
//! volumes (labelled by `PVC_RESOURCE_SELECTOR`) are Ramen's to replicate, kept but not acted on.

use std::sync::LazyLock;

use serde_json::Value;

use super::params::Parameters;

/// The name a `recipeRef` uses for it.
pub const VM_RECIPE: &str = "vm-recipe";

/// The parameter that lists the VMs' namespaces; the VRG's `protectedNamespaces` are added to it.
pub const VM_NAMESPACE: &str = "VM_NAMESPACE";

/// Written in this project's words after the shape Ramen's operator embeds (group `vm-backup`
/// restoring its own capture, failOn any-error, a `volumes` group for the PVCs).
const VM_RECIPE_YAML: &str = r#"
apiVersion: ramendr.openshift.io/v1alpha1
kind: Recipe
metadata:
  name: vm-recipe
spec:
  appType: vm-app
  groups:
    - name: vm-backup
      type: resource
      backupRef: vm-backup
      includedNamespaces: ["${VM_NAMESPACE}"]
      includeClusterResources: true
      excludedResourceTypes:
        - events
        - event.events.k8s.io
        - persistentvolumes
        - replicaset
        - persistentvolumeclaims
        - pods
      labelSelector:
        matchExpressions:
          - key: ramendr.openshift.io/k8s-resource-selector
            operator: In
            values: ["${K8S_RESOURCE_SELECTOR}"]
  volumes:
    name: vm-volumes
    type: volume
    includedNamespaces: ["${VM_NAMESPACE}"]
    labelSelector:
      matchExpressions:
        - key: ramendr.openshift.io/k8s-resource-selector
          operator: In
          values: ["${PVC_RESOURCE_SELECTOR}"]
  workflows:
    - name: backup
      failOn: any-error
      sequence: [{group: vm-backup}]
    - name: restore
      failOn: any-error
      sequence: [{group: vm-backup}]
"#;

/// Whether a `recipeRef` to `name` in `namespace` names the built-in VM recipe.
pub fn selects(admin_namespaces: &[String], namespace: &str, name: &str) -> bool {
    name == VM_RECIPE && admin_namespaces.iter().any(|a| a == namespace)
}

/// The VM recipe as a Recipe document in `namespace`.
pub fn vm_recipe(namespace: &str) -> Value {
    // Parsed once, not on every reconcile of every VM VRG.
    static PARSED: LazyLock<Value> =
        LazyLock::new(|| serde_saphyr::from_str(VM_RECIPE_YAML).unwrap_or_default());
    let mut doc = PARSED.clone();
    doc["metadata"]["namespace"] = Value::String(namespace.to_owned());
    doc
}

/// The VRG's parameters for the VM recipe: its `protectedNamespaces` appended to `VM_NAMESPACE`,
/// as Ramen fills them.
pub fn vm_parameters(params: &Parameters, protected_namespaces: &[String]) -> Parameters {
    let mut params = params.clone();
    params
        .entry(VM_NAMESPACE.to_owned())
        .or_default()
        .extend(protected_namespaces.iter().cloned());
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vm_recipe_parses_and_names_itself_in_its_namespace() {
        let doc = vm_recipe("ramen-ops");
        assert_eq!(doc["metadata"]["namespace"], "ramen-ops");
        assert_eq!(doc["spec"]["groups"][0]["name"], "vm-backup");
    }

    #[test]
    fn only_vm_recipe_in_an_admin_namespace_selects_it() {
        let admin = vec!["ramen-ops".to_owned()];
        assert!(selects(&admin, "ramen-ops", "vm-recipe"));
        assert!(!selects(&admin, "app", "vm-recipe"));
        assert!(!selects(&admin, "ramen-ops", "other"));
    }
}
