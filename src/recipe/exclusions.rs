//! What a group's Backup leaves out unless the group names it: the objects Ramen excludes from
//! every capture by default. Restored without their data or their controllers (volume
//! replication, VolSync, snapshots) they break the application, and Endpoints are rebuilt from
//! Services. Restores are not filtered: they restore what the capture holds.

/// Velero resource names (`plural.group`) with the kind a recipe may write instead.
const DEFAULT_EXCLUDED: &[(&str, &str)] = &[
    (
        "volumereplications.replication.storage.openshift.io",
        "volumereplication",
    ),
    (
        "volumegroupreplications.replication.storage.openshift.io",
        "volumegroupreplication",
    ),
    ("replicationsources.volsync.backube", "replicationsource"),
    (
        "replicationdestinations.volsync.backube",
        "replicationdestination",
    ),
    ("persistentvolumeclaims", "persistentvolumeclaim"),
    ("persistentvolumes", "persistentvolume"),
    ("endpointslices.discovery.k8s.io", "endpointslice"),
    ("endpoints", "endpoints"),
    ("volumesnapshots.snapshot.storage.k8s.io", "volumesnapshot"),
    (
        "volumegroupsnapshots.groupsnapshot.storage.k8s.io",
        "volumegroupsnapshot",
    ),
];

/// Whether `written` (a resource type as a recipe writes it: `persistentvolumeclaims`,
/// `PersistentVolumeClaim`, or the full `plural.group`) names `resource`.
fn names(written: &str, (resource, kind): (&str, &str)) -> bool {
    let written = written.to_ascii_lowercase();
    let plural = resource.split('.').next().unwrap_or(resource);
    written == resource || written == plural || written == kind
}

/// Whether `resource` (as the Backup lists it) is one of the default exclusions.
pub fn is_default(resource: &str) -> bool {
    DEFAULT_EXCLUDED.iter().any(|(r, _)| *r == resource)
}

/// The group's `excludedResources` for its Backup: its own, then each default exclusion that its
/// `includedResources` does not name (a wildcard names nothing).
pub fn backup_excluded(included: &[String], excluded: &[String]) -> Vec<String> {
    let mut out = excluded.to_vec();
    for &entry in DEFAULT_EXCLUDED {
        let named = included.iter().any(|i| names(i, entry));
        let listed = out.iter().any(|e| names(e, entry));
        if !named && !listed {
            out.push(entry.0.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_default_exclusion_applies_unless_the_group_names_it() {
        let all = backup_excluded(&[], &[]);
        assert_eq!(all.len(), DEFAULT_EXCLUDED.len());
        assert!(all.contains(&"persistentvolumeclaims".to_owned()));
        let named = backup_excluded(
            &strings(&[
                "configmaps",
                "PersistentVolumeClaim",
                "endpointslices.discovery.k8s.io",
            ]),
            &[],
        );
        assert!(!named.contains(&"persistentvolumeclaims".to_owned()));
        assert!(!named.contains(&"endpointslices.discovery.k8s.io".to_owned()));
        assert!(named.contains(&"persistentvolumes".to_owned()));
        assert_eq!(
            backup_excluded(&strings(&["*"]), &[]).len(),
            DEFAULT_EXCLUDED.len(),
            "a wildcard names nothing"
        );
    }

    #[test]
    fn the_groups_own_exclusions_come_first_and_are_not_repeated() {
        let out = backup_excluded(&[], &strings(&["secrets", "persistentvolumes"]));
        assert_eq!(&out[..2], ["secrets", "persistentvolumes"]);
        assert_eq!(
            out.iter()
                .filter(|e| e.contains("persistentvolume"))
                .count(),
            2
        );
        assert_eq!(out.len(), DEFAULT_EXCLUDED.len() + 1);
    }
}
