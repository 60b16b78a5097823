//! How far a Velero object has got, from its `status`.
//!
//! Only phases known to be terminal end a step: a missing or unknown phase (a newer Velero) means
//! "still running" (SPEC 1.3), and the step's timeout bounds the wait.

use crate::api::velero::{
    Backup, BackupPhase, DeleteBackupRequest, DeleteBackupRequestPhase, Restore, RestorePhase,
};

/// Longest failure reason kept; it ends up in VRG status and events.
const MAX_REASON: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    Running,
    Completed,
    /// `retryable`: the failure says nothing about the data (Velero restarted under the object),
    /// so the same work may run again under a new name.
    Failed {
        reason: String,
        retryable: bool,
    },
}

pub fn backup_progress(backup: &Backup) -> Progress {
    let Some(status) = &backup.status else {
        return Progress::Running;
    };
    use BackupPhase as P;
    match &status.phase {
        Some(P::Completed) => Progress::Completed,
        Some(phase @ (P::PartiallyFailed | P::Failed | P::FailedValidation)) => failed(Failure {
            kind: "Backup",
            name: backup.metadata.name.as_deref(),
            phase: phase.as_str(),
            hard_failure: *phase == P::Failed,
            failure_reason: status.failure_reason.as_deref(),
            validation_errors: &status.validation_errors,
            errors: status.errors,
            warnings: status.warnings,
        }),
        _ => Progress::Running,
    }
}

pub fn restore_progress(restore: &Restore) -> Progress {
    let Some(status) = &restore.status else {
        return Progress::Running;
    };
    use RestorePhase as P;
    match &status.phase {
        Some(P::Completed) => Progress::Completed,
        Some(phase @ (P::PartiallyFailed | P::Failed | P::FailedValidation)) => failed(Failure {
            kind: "Restore",
            name: restore.metadata.name.as_deref(),
            phase: phase.as_str(),
            hard_failure: *phase == P::Failed,
            failure_reason: status.failure_reason.as_deref(),
            validation_errors: &status.validation_errors,
            errors: status.errors,
            warnings: status.warnings,
        }),
        _ => Progress::Running,
    }
}

/// A processed request without errors, or one whose Backup is already gone, is done. Velero
/// deletes the requests of a Backup it deleted, so the caller should also treat "request and
/// Backup both gone" as done.
pub fn delete_request_progress(request: &DeleteBackupRequest) -> Progress {
    let Some(status) = &request.status else {
        return Progress::Running;
    };
    if status.phase != Some(DeleteBackupRequestPhase::Processed) {
        return Progress::Running;
    }
    let gone = |e: &String| e.trim().eq_ignore_ascii_case("backup not found");
    if status.errors.iter().all(gone) {
        return Progress::Completed;
    }
    // Velero refuses to delete a Backup it is still writing; a later request will succeed.
    let busy = status
        .errors
        .iter()
        .any(|e| e.to_ascii_lowercase().contains("still in progress"));
    let name = request
        .metadata
        .name
        .as_deref()
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    let reason = format!(
        "Velero DeleteBackupRequest{name}: {}",
        status.errors.join("; ")
    );
    Progress::Failed {
        reason: truncate(reason),
        retryable: busy,
    }
}

/// Whether `reason` is Velero's note on an object it found in progress when its server started:
/// `found a backup with status "InProgress" during the server starting, mark it as "Failed"`
/// (older releases: `get a ... during the server starting`). Tolerant of rewording.
pub fn is_velero_restart(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("server") && (r.contains("starting") || r.contains("restart"))
}

struct Failure<'a> {
    kind: &'a str,
    name: Option<&'a str>,
    phase: &'a str,
    /// Only phase `Failed` is what Velero sets when it restarts; partial failures keep data.
    hard_failure: bool,
    failure_reason: Option<&'a str>,
    validation_errors: &'a [String],
    errors: Option<i64>,
    warnings: Option<i64>,
}

/// `Velero Backup NAME PHASE: REASON; validation errors: A; B; 2 errors, 1 warnings`.
fn failed(f: Failure) -> Progress {
    let name = f.name.map(|n| format!(" {n}")).unwrap_or_default();
    let mut reason = format!("Velero {}{name} {}", f.kind, f.phase);
    let mut details = vec![];
    if let Some(r) = f.failure_reason.filter(|r| !r.trim().is_empty()) {
        details.push(r.trim().to_owned());
    }
    if !f.validation_errors.is_empty() {
        details.push(format!(
            "validation errors: {}",
            f.validation_errors.join("; ")
        ));
    }
    let counts: Vec<String> = [(f.errors, "errors"), (f.warnings, "warnings")]
        .into_iter()
        .filter_map(|(n, what)| n.map(|n| format!("{n} {what}")))
        .collect();
    if !counts.is_empty() {
        details.push(counts.join(", "));
    }
    if !details.is_empty() {
        reason = format!("{reason}: {}", details.join("; "));
    }
    let retryable = f.hard_failure && f.failure_reason.is_some_and(is_velero_restart);
    Progress::Failed {
        reason: truncate(reason),
        retryable,
    }
}

/// Cuts at a char boundary at most [`MAX_REASON`] bytes in.
fn truncate(mut s: String) -> String {
    if s.len() > MAX_REASON {
        let mut end = MAX_REASON - 3;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

#[cfg(test)]
#[path = "phase_tests.rs"]
mod tests;
