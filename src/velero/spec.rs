//! Full Velero objects from a plan's spec template and an object identity.

use std::collections::BTreeMap;

use crate::api::velero::{
    Backup, BackupSpec, DeleteBackupRequest, DeleteBackupRequestSpec, Restore, RestoreSpec,
};

use super::names::{
    ObjectIdentity, Workflow, annotations, delete_request_name_attempt, is_label_value, labels,
};

/// Velero's label naming the Backup a DeleteBackupRequest deletes; Velero selects on it to remove
/// older requests for the same Backup.
pub const VELERO_BACKUP_NAME_LABEL: &str = "velero.io/backup-name";

/// How long Velero keeps a capture: ten years, i.e. until rotation deletes it. Velero's own
/// default (30 days) would let its garbage collector delete the last good capture of a VRG
/// whose captures stall for a month; here only rotation, which keeps the newest restorable
/// capture, ever deletes one.
pub const CAPTURE_TTL: &str = "87600h0m0s";

/// The Backup of `identity` to storage location `profile` (which overrides `identity.profile`).
pub fn backup(
    template: &BackupSpec,
    identity: &ObjectIdentity,
    profile: &str,
    velero_namespace: &str,
) -> Backup {
    let id = ObjectIdentity {
        workflow: Workflow::Backup,
        profile: Some(profile.to_owned()),
        ..identity.clone()
    };
    let mut spec = template.clone();
    spec.storage_location = Some(profile.to_owned());
    spec.ttl = Some(CAPTURE_TTL.to_owned());
    let mut backup = Backup::new(&id.name(), spec);
    backup.metadata.namespace = Some(velero_namespace.to_owned());
    backup.metadata.labels = Some(labels(&id));
    backup.metadata.annotations = Some(annotations(&id));
    backup
}

/// The Restore of `identity` from Backup `backup_name`.
pub fn restore(
    template: &RestoreSpec,
    backup_name: &str,
    identity: &ObjectIdentity,
    velero_namespace: &str,
) -> Restore {
    let id = ObjectIdentity {
        workflow: Workflow::Restore,
        ..identity.clone()
    };
    let mut spec = template.clone();
    spec.backup_name = backup_name.to_owned();
    let mut restore = Restore::new(&id.name(), spec);
    restore.metadata.namespace = Some(velero_namespace.to_owned());
    restore.metadata.labels = Some(labels(&id));
    restore.metadata.annotations = Some(annotations(&id));
    restore
}

/// A request to delete Backup `backup_name`, carrying `labels` (usually the Backup's own, so the
/// request maps back to its VRG).
pub fn delete_request(
    backup_name: &str,
    labels: &BTreeMap<String, String>,
    velero_namespace: &str,
) -> DeleteBackupRequest {
    delete_request_attempt(backup_name, labels, velero_namespace, 0)
}

/// [`delete_request`] of a later attempt (Velero keeps a processed request: a retry needs a new
/// name).
pub fn delete_request_attempt(
    backup_name: &str,
    labels: &BTreeMap<String, String>,
    velero_namespace: &str,
    attempt: u32,
) -> DeleteBackupRequest {
    let spec = DeleteBackupRequestSpec {
        backup_name: backup_name.to_owned(),
        extra: Default::default(),
    };
    let mut request =
        DeleteBackupRequest::new(&delete_request_name_attempt(backup_name, attempt), spec);
    request.metadata.namespace = Some(velero_namespace.to_owned());
    let mut labels = labels.clone();
    // Velero fills this in itself when empty (with its own hashing for long names), so only set it
    // when the name is usable verbatim, as Velero would.
    if is_label_value(backup_name) {
        labels.insert(VELERO_BACKUP_NAME_LABEL.to_owned(), backup_name.to_owned());
    }
    request.metadata.labels = Some(labels);
    request
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
