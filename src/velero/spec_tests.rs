use super::*;
use crate::api::velero::ResourceFilter;
use crate::velero::names::{backup_name, delete_request_name, owner_from, restore_name_attempt};

fn template() -> BackupSpec {
    BackupSpec {
        filter: ResourceFilter {
            included_namespaces: vec!["app".into()],
            ..Default::default()
        },
        ttl: Some("720h0m0s".into()),
        storage_location: Some("from-template".into()),
        ..Default::default()
    }
}

#[test]
fn backup_object() {
    let id = ObjectIdentity::backup("app", "db", 7, "config", "ignored");
    let b = backup(&template(), &id, "s3-east", "velero");
    assert_eq!(
        b.metadata.name.as_deref(),
        Some(backup_name("app", "db", 7, "config", "s3-east").as_str())
    );
    assert_eq!(b.metadata.namespace.as_deref(), Some("velero"));
    assert_eq!(b.spec.storage_location.as_deref(), Some("s3-east"));
    assert_eq!(b.spec.filter, template().filter);
    assert_eq!(
        b.spec.ttl.as_deref(),
        Some(CAPTURE_TTL),
        "rotation, not Velero's garbage collector, decides when a capture goes"
    );
    let labels = b.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("vrg.ramendr.openshift.io/s3-profile")
            .map(String::as_str),
        Some("s3-east")
    );
    let annotations = b.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        owner_from(&labels, &annotations),
        Some(("app".into(), "db".into()))
    );
    assert!(b.status.is_none());
    let json = serde_json::to_value(&b).unwrap_or_default();
    assert_eq!(json["apiVersion"], "velero.io/v1");
    assert_eq!(json["kind"], "Backup");
    assert_eq!(json["spec"]["storageLocation"], "s3-east");
    assert_eq!(json["spec"]["includedNamespaces"][0], "app");
}

#[test]
fn backup_object_of_a_restore_identity_is_still_a_backup() {
    let id = ObjectIdentity::restore("app", "db", "restore-1", 7, "config");
    let b = backup(&template(), &id, "p", "velero");
    let labels = b.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("vrg.ramendr.openshift.io/workflow")
            .map(String::as_str),
        Some("backup")
    );
}

#[test]
fn restore_object() {
    let template = RestoreSpec {
        backup_name: "placeholder".into(),
        existing_resource_policy: Some("update".into()),
        ..Default::default()
    };
    let id = ObjectIdentity::restore("app", "db", "restore-2", 7, "config").with_attempt(1);
    let r = restore(
        &template,
        "app-db-7-config-s3-east-0123456789",
        &id,
        "velero",
    );
    assert_eq!(
        r.metadata.name,
        Some(restore_name_attempt("app", "db", "restore-2", "config", 1))
    );
    assert_eq!(r.metadata.namespace.as_deref(), Some("velero"));
    assert_eq!(r.spec.backup_name, "app-db-7-config-s3-east-0123456789");
    assert_eq!(r.spec.existing_resource_policy.as_deref(), Some("update"));
    let labels = r.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("vrg.ramendr.openshift.io/workflow")
            .map(String::as_str),
        Some("restore")
    );
    assert_eq!(
        labels
            .get("vrg.ramendr.openshift.io/attempt")
            .map(String::as_str),
        Some("1")
    );
    let json = serde_json::to_value(Restore::new("x", RestoreSpec::default())).unwrap_or_default();
    assert_eq!(json["kind"], "Restore");
}

#[test]
fn delete_request_object() {
    let id = ObjectIdentity::backup("app", "db", 7, "config", "s3-east");
    let b = backup(&template(), &id, "s3-east", "velero");
    let name = b.metadata.name.clone().unwrap_or_default();
    let d = delete_request(
        &name,
        &b.metadata.labels.clone().unwrap_or_default(),
        "velero",
    );
    assert_eq!(d.metadata.name, Some(delete_request_name(&name)));
    assert_eq!(d.metadata.namespace.as_deref(), Some("velero"));
    assert_eq!(d.spec.backup_name, name);
    let labels = d.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get(VELERO_BACKUP_NAME_LABEL), Some(&name));
    assert_eq!(
        labels
            .get("vrg.ramendr.openshift.io/capture")
            .map(String::as_str),
        Some("7")
    );
    // A name unusable as a label value is left for Velero to label.
    let d = delete_request(&"b".repeat(64), &BTreeMap::new(), "velero");
    assert!(
        !d.metadata
            .labels
            .unwrap_or_default()
            .contains_key(VELERO_BACKUP_NAME_LABEL)
    );
    assert_eq!(d.spec.backup_name, "b".repeat(64));
}
