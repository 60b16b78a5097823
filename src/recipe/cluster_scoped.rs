//! Which resource types are cluster-scoped, so that a VRG outside an admin namespace can be
//! refused a group that names one (SPEC 8): Velero runs as cluster-admin, and a Backup or Restore
//! of a ClusterRoleBinding would hand its author that power.
//!
//! Velero resolves a group's resource names the way kubectl does (plural, singular, short name or
//! kind, each optionally qualified by its API group), so every spelling is matched. Built-in types
//! are known here; the controller adds the cluster-scoped types its API server's discovery lists
//! (custom resources), through [`super::Settings::cluster_scoped`].

/// Built-in cluster-scoped types: (plural, singular, API group, short names).
const BUILT_IN: &[(&str, &str, &str, &[&str])] = &[
    ("namespaces", "namespace", "", &["ns"]),
    ("nodes", "node", "", &["no"]),
    ("persistentvolumes", "persistentvolume", "", &["pv"]),
    ("componentstatuses", "componentstatus", "", &["cs"]),
    (
        "clusterroles",
        "clusterrole",
        "rbac.authorization.k8s.io",
        &[],
    ),
    (
        "clusterrolebindings",
        "clusterrolebinding",
        "rbac.authorization.k8s.io",
        &[],
    ),
    (
        "customresourcedefinitions",
        "customresourcedefinition",
        "apiextensions.k8s.io",
        &["crd", "crds"],
    ),
    ("apiservices", "apiservice", "apiregistration.k8s.io", &[]),
    (
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        "admissionregistration.k8s.io",
        &[],
    ),
    (
        "validatingwebhookconfigurations",
        "validatingwebhookconfiguration",
        "admissionregistration.k8s.io",
        &[],
    ),
    (
        "validatingadmissionpolicies",
        "validatingadmissionpolicy",
        "admissionregistration.k8s.io",
        &[],
    ),
    (
        "validatingadmissionpolicybindings",
        "validatingadmissionpolicybinding",
        "admissionregistration.k8s.io",
        &[],
    ),
    (
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicy",
        "admissionregistration.k8s.io",
        &[],
    ),
    (
        "mutatingadmissionpolicybindings",
        "mutatingadmissionpolicybinding",
        "admissionregistration.k8s.io",
        &[],
    ),
    (
        "certificatesigningrequests",
        "certificatesigningrequest",
        "certificates.k8s.io",
        &["csr"],
    ),
    (
        "clustertrustbundles",
        "clustertrustbundle",
        "certificates.k8s.io",
        &[],
    ),
    (
        "flowschemas",
        "flowschema",
        "flowcontrol.apiserver.k8s.io",
        &[],
    ),
    (
        "prioritylevelconfigurations",
        "prioritylevelconfiguration",
        "flowcontrol.apiserver.k8s.io",
        &[],
    ),
    ("ingressclasses", "ingressclass", "networking.k8s.io", &[]),
    ("ipaddresses", "ipaddress", "networking.k8s.io", &["ip"]),
    ("servicecidrs", "servicecidr", "networking.k8s.io", &[]),
    ("runtimeclasses", "runtimeclass", "node.k8s.io", &[]),
    (
        "priorityclasses",
        "priorityclass",
        "scheduling.k8s.io",
        &["pc"],
    ),
    ("storageclasses", "storageclass", "storage.k8s.io", &["sc"]),
    ("csidrivers", "csidriver", "storage.k8s.io", &[]),
    ("csinodes", "csinode", "storage.k8s.io", &[]),
    (
        "volumeattachments",
        "volumeattachment",
        "storage.k8s.io",
        &[],
    ),
    (
        "volumeattributesclasses",
        "volumeattributesclass",
        "storage.k8s.io",
        &["vac"],
    ),
    ("deviceclasses", "deviceclass", "resource.k8s.io", &[]),
    ("resourceslices", "resourceslice", "resource.k8s.io", &[]),
    (
        "volumesnapshotclasses",
        "volumesnapshotclass",
        "snapshot.storage.k8s.io",
        &["vsclass", "vsclasses"],
    ),
    (
        "volumesnapshotcontents",
        "volumesnapshotcontent",
        "snapshot.storage.k8s.io",
        &["vsc", "vscs"],
    ),
];

/// One cluster-scoped type as discovery reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterScoped {
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub group: String,
    pub short_names: Vec<String>,
}

impl ClusterScoped {
    fn matches(&self, name: &str) -> bool {
        names_match(
            name,
            &self.plural,
            &self.singular,
            &self.kind,
            &self.group,
            &self.short_names,
        )
    }
}

/// Whether a resource name as a group writes it (`clusterrolebindings`,
/// `ClusterRoleBinding.rbac.authorization.k8s.io`, `ns`, ...) names a cluster-scoped type, built
/// in or in `discovered`. Returns the type's plural with its group, for the message.
pub fn lookup(name: &str, discovered: &[ClusterScoped]) -> Option<String> {
    let qualified = |plural: &str, group: &str| {
        if group.is_empty() {
            plural.to_owned()
        } else {
            format!("{plural}.{group}")
        }
    };
    BUILT_IN
        .iter()
        .find(|(plural, singular, group, short)| {
            names_match(name, plural, singular, singular, group, short)
        })
        .map(|(plural, _, group, _)| qualified(plural, group))
        .or_else(|| {
            discovered
                .iter()
                .find(|t| t.matches(name))
                .map(|t| qualified(&t.plural, &t.group))
        })
}

fn names_match(
    name: &str,
    plural: &str,
    singular: &str,
    kind: &str,
    group: &str,
    short: &[impl AsRef<str>],
) -> bool {
    let name = name.to_ascii_lowercase();
    let (resource, qualifier) = match name.split_once('.') {
        Some((resource, qualifier)) => (resource, Some(qualifier)),
        None => (name.as_str(), None),
    };
    // `plural.group`, or `plural.version.group` as kubectl also accepts.
    let group_ok = match qualifier {
        None => true,
        Some(q) => q == group || q.split_once('.').is_some_and(|(_, g)| g == group),
    };
    group_ok
        && (resource == plural
            || resource == singular
            || resource == kind.to_ascii_lowercase()
            || short.iter().any(|s| s.as_ref() == resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_built_in_type_is_known() {
        for name in [
            "clusterrolebindings",
            "ClusterRoleBinding",
            "clusterrolebindings.rbac.authorization.k8s.io",
            "clusterrolebinding.v1.rbac.authorization.k8s.io",
            "namespaces",
            "ns",
            "Namespace",
            "crd",
            "pv",
        ] {
            assert!(lookup(name, &[]).is_some(), "{name}");
        }
        assert_eq!(
            lookup("ClusterRoleBinding", &[]).as_deref(),
            Some("clusterrolebindings.rbac.authorization.k8s.io")
        );
    }

    #[test]
    fn namespaced_types_and_other_groups_are_not() {
        for name in [
            "configmaps",
            "rolebindings",
            "deployments.apps",
            "pods",
            "persistentvolumeclaims",
            "*",
            // Same plural, another group: whatever it is, it is not the built-in one.
            "clusterroles.example.com",
        ] {
            assert_eq!(lookup(name, &[]), None, "{name}");
        }
    }

    #[test]
    fn discovered_custom_types_count() {
        let widgets = ClusterScoped {
            plural: "clusterwidgets".into(),
            singular: "clusterwidget".into(),
            kind: "ClusterWidget".into(),
            group: "example.com".into(),
            short_names: vec!["cw".into()],
        };
        let discovered = [widgets];
        for name in ["clusterwidgets", "cw", "ClusterWidget.example.com"] {
            assert_eq!(
                lookup(name, &discovered).as_deref(),
                Some("clusterwidgets.example.com"),
                "{name}"
            );
        }
        assert_eq!(lookup("clusterwidgets.other.io", &discovered), None);
    }
}
