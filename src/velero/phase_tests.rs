use super::*;
use crate::api::velero::{
    BackupStatus, DeleteBackupRequestSpec, DeleteBackupRequestStatus, RestoreStatus,
};

fn backup(status: Option<BackupStatus>) -> Backup {
    let mut b = Backup::new("b1", Default::default());
    b.status = status;
    b
}

fn backup_in(phase: &str) -> Backup {
    backup(Some(BackupStatus {
        phase: Some(BackupPhase::from(phase)),
        ..Default::default()
    }))
}

fn restore_in(phase: &str) -> Restore {
    let mut r = Restore::new("r1", Default::default());
    r.status = Some(RestoreStatus {
        phase: Some(RestorePhase::from(phase)),
        ..Default::default()
    });
    r
}

fn failure(p: Progress) -> (String, bool) {
    match p {
        Progress::Failed { reason, retryable } => (reason, retryable),
        other => panic!("expected a failure, got {other:?}"),
    }
}

const RESTART: &str =
    r#"found a backup with status "InProgress" during the server starting, mark it as "Failed""#;

#[test]
fn backup_phases() {
    assert_eq!(
        backup_progress(&backup_in("Completed")),
        Progress::Completed
    );
    for p in ["PartiallyFailed", "Failed", "FailedValidation"] {
        assert!(
            matches!(
                backup_progress(&backup_in(p)),
                Progress::Failed {
                    retryable: false,
                    ..
                }
            ),
            "{p}"
        );
    }
    for p in [
        "New",
        "Queued",
        "ReadyToStart",
        "InProgress",
        "WaitingForPluginOperations",
        "WaitingForPluginOperationsPartiallyFailed",
        "Finalizing",
        "FinalizingPartiallyFailed",
        "Deleting",
        "SomethingNewer",
        "",
        "completed",
    ] {
        assert_eq!(backup_progress(&backup_in(p)), Progress::Running, "{p:?}");
    }
}

#[test]
fn backup_without_status_or_phase_is_running() {
    assert_eq!(backup_progress(&backup(None)), Progress::Running);
    assert_eq!(
        backup_progress(&backup(Some(BackupStatus::default()))),
        Progress::Running
    );
}

#[test]
fn backup_failure_reason_has_all_details() {
    let b = backup(Some(BackupStatus {
        phase: Some(BackupPhase::PartiallyFailed),
        failure_reason: Some("disk full".into()),
        validation_errors: vec!["bad selector".into(), "no BSL".into()],
        errors: Some(2),
        warnings: Some(1),
        ..Default::default()
    }));
    let (reason, retryable) = failure(backup_progress(&b));
    assert_eq!(
        reason,
        "Velero Backup b1 PartiallyFailed: disk full; validation errors: bad selector; no BSL; 2 errors, 1 warnings"
    );
    assert!(!retryable);
    let (reason, _) = self::failure(backup_progress(&backup_in("FailedValidation")));
    assert_eq!(reason, "Velero Backup b1 FailedValidation");
}

#[test]
fn backup_failed_by_velero_restart_is_retryable() {
    let failed = |phase: BackupPhase, why: &str| {
        backup_progress(&backup(Some(BackupStatus {
            phase: Some(phase),
            failure_reason: Some(why.into()),
            ..Default::default()
        })))
    };
    assert!(failure(failed(BackupPhase::Failed, RESTART)).1);
    // Older wording, and rewordings.
    assert!(
        failure(failed(
            BackupPhase::Failed,
            "get a backup with status \"InProgress\" during the server starting"
        ))
        .1
    );
    assert!(failure(failed(BackupPhase::Failed, "Velero server restarted")).1);
    // Only a hard failure: a partial failure kept data.
    assert!(!failure(failed(BackupPhase::PartiallyFailed, RESTART)).1);
    assert!(!failure(failed(BackupPhase::Failed, "rpc error: connection refused")).1);
}

#[test]
fn restore_phases() {
    assert_eq!(
        restore_progress(&restore_in("Completed")),
        Progress::Completed
    );
    for p in ["PartiallyFailed", "Failed", "FailedValidation"] {
        assert!(
            matches!(restore_progress(&restore_in(p)), Progress::Failed { .. }),
            "{p}"
        );
    }
    for p in [
        "New",
        "InProgress",
        "WaitingForPluginOperations",
        "WaitingForPluginOperationsPartiallyFailed",
        "Finalizing",
        "FinalizingPartiallyFailed",
        "Queued",
        "Brand-New-Phase",
    ] {
        assert_eq!(restore_progress(&restore_in(p)), Progress::Running, "{p}");
    }
    assert_eq!(
        restore_progress(&Restore::new("r", Default::default())),
        Progress::Running
    );
}

#[test]
fn restore_failure_details_and_restart() {
    let mut r = Restore::new("r1", Default::default());
    r.status = Some(RestoreStatus {
        phase: Some(RestorePhase::Failed),
        failure_reason: Some(r#"found a restore with status "InProgress" during the server starting, mark it as "Failed""#.into()),
        errors: Some(0),
        ..Default::default()
    });
    let (reason, retryable) = failure(restore_progress(&r));
    assert!(retryable);
    assert!(
        reason.starts_with("Velero Restore r1 Failed: found a restore"),
        "{reason}"
    );
    assert!(reason.ends_with("; 0 errors"), "{reason}");
}

#[test]
fn long_reasons_are_truncated_on_a_char_boundary() {
    let b = backup(Some(BackupStatus {
        phase: Some(BackupPhase::Failed),
        failure_reason: Some("é".repeat(2000)),
        ..Default::default()
    }));
    let (reason, _) = failure(backup_progress(&b));
    assert!(reason.len() <= 1024 && reason.ends_with("..."));
}

fn request(phase: Option<&str>, errors: &[&str]) -> DeleteBackupRequest {
    let spec = DeleteBackupRequestSpec {
        backup_name: "b".into(),
        extra: Default::default(),
    };
    let mut r = DeleteBackupRequest::new("d1", spec);
    r.status = Some(DeleteBackupRequestStatus {
        phase: phase.map(DeleteBackupRequestPhase::from),
        errors: errors.iter().map(|e| e.to_string()).collect(),
        ..Default::default()
    });
    r
}

#[test]
fn delete_request_phases() {
    let spec = DeleteBackupRequestSpec {
        backup_name: "b".into(),
        extra: Default::default(),
    };
    assert_eq!(
        delete_request_progress(&DeleteBackupRequest::new("d", spec)),
        Progress::Running
    );
    for phase in [None, Some("New"), Some("InProgress"), Some("Later")] {
        assert_eq!(
            delete_request_progress(&request(phase, &[])),
            Progress::Running,
            "{phase:?}"
        );
    }
    assert_eq!(
        delete_request_progress(&request(Some("Processed"), &[])),
        Progress::Completed
    );
    // Already gone is what we wanted.
    assert_eq!(
        delete_request_progress(&request(Some("Processed"), &["backup not found"])),
        Progress::Completed
    );
    let (reason, retryable) = failure(delete_request_progress(&request(
        Some("Processed"),
        &["backup is still in progress"],
    )));
    assert!(retryable);
    assert_eq!(
        reason,
        "Velero DeleteBackupRequest d1: backup is still in progress"
    );
    let (reason, retryable) = failure(delete_request_progress(&request(
        Some("Processed"),
        &["backup storage location s3 not found"],
    )));
    assert!(!retryable);
    assert!(reason.contains("s3 not found"));
}

#[test]
fn restart_matcher() {
    assert!(is_velero_restart(RESTART));
    assert!(is_velero_restart(
        "FOUND A RESTORE ... DURING THE SERVER STARTING"
    ));
    assert!(!is_velero_restart(""));
    assert!(!is_velero_restart("error getting backup storage location"));
}
