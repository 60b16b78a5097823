//! Carrying out rotation: one Velero DeleteBackupRequest per Backup the lifecycle lets go, read
//! back until the Backup is gone. A request Velero processed with errors, or left unprocessed
//! for too long (Velero restarted under it), is replaced by a new attempt; the Backups still
//! being deleted, and why a deletion failed, are kept in `status.kubeObjectProtection.deletions`.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, PostParams};

use super::drive::Owner;
use super::{Context, Error};
use crate::api::velero::{DeleteBackupRequest, DeleteBackupRequestPhase};
use crate::api::vrg::{DeletionStatus, KubeObjectProtectionStatus};
use crate::velero;

/// How long a request may stay unprocessed before it is asked again.
const UNPROCESSED_FOR: Duration = Duration::from_secs(120);
/// Attempts per Backup; after that the failure stays in status for a person to look at.
const MAX_ATTEMPTS: u32 = 5;

/// Why the current request for a Backup must be made again, if it must: Velero processed it with
/// errors, or has not processed it for [`UNPROCESSED_FOR`] (its server restarted under it).
fn retry(
    request: Option<&DeleteBackupRequest>,
    requested_at: Timestamp,
    now: Timestamp,
) -> Option<String> {
    let request = request?;
    match &request.status {
        Some(s) if s.phase == Some(DeleteBackupRequestPhase::Processed) => {
            let errors: Vec<&str> = s
                .errors
                .iter()
                .map(String::as_str)
                .filter(|e| !e.trim().eq_ignore_ascii_case("backup not found"))
                .collect();
            (!errors.is_empty())
                .then(|| format!("Velero could not delete it: {}", errors.join("; ")))
        }
        _ => {
            let waited = Duration::try_from(now.duration_since(requested_at)).unwrap_or_default();
            (waited > UNPROCESSED_FOR).then(|| {
                format!(
                    "Velero did not process the request within {}s (was it restarted?)",
                    UNPROCESSED_FOR.as_secs()
                )
            })
        }
    }
}

/// Asks Velero to delete `names` (and keeps after those asked before), updating `kop.deletions`.
pub async fn rotate(
    ctx: &Context,
    owner: &Owner<'_>,
    kop: &mut KubeObjectProtectionStatus,
    names: &[String],
    now: Timestamp,
) -> Result<(), Error> {
    let wanted: BTreeSet<&str> = names
        .iter()
        .map(String::as_str)
        .chain(kop.deletions.iter().map(|d| d.backup.as_str()))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let backups = ctx.velero.backups_of(owner.namespace, owner.name);
    let requests = ctx.velero.delete_requests_of(owner.namespace, owner.name);
    let api = Api::<DeleteBackupRequest>::namespaced(ctx.client.clone(), &ctx.velero_namespace);
    let mut deletions = vec![];
    for name in wanted {
        let Some(backup) = backups.get(name) else {
            continue; // Deleted.
        };
        let before = kop.deletions.iter().find(|d| d.backup == name);
        let mut entry = before.cloned().unwrap_or_else(|| DeletionStatus {
            backup: name.to_owned(),
            attempt: 0,
            requested_at: Time(now),
            message: None,
        });
        let request = requests.get(&velero::names::delete_request_name_attempt(
            name,
            entry.attempt,
        ));
        let retry = retry(request.map(AsRef::as_ref), entry.requested_at.0, now);
        if let Some(why) = retry {
            if entry.attempt + 1 >= MAX_ATTEMPTS {
                entry.message = Some(format!("{why}; gave up after {MAX_ATTEMPTS} attempts"));
                deletions.push(entry);
                continue;
            }
            entry.attempt += 1;
            entry.requested_at = Time(now);
            entry.message = Some(format!(
                "{why}; asked again (attempt {})",
                entry.attempt + 1
            ));
        }
        let exists = requests.contains_key(&velero::names::delete_request_name_attempt(
            name,
            entry.attempt,
        ));
        if !exists {
            let labels = backup.labels().clone();
            let request = velero::spec::delete_request_attempt(
                name,
                &labels,
                &ctx.velero_namespace,
                entry.attempt,
            );
            match api.create(&PostParams::default(), &request).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        deletions.push(entry);
    }
    kop.deletions = deletions;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::velero::{DeleteBackupRequestSpec, DeleteBackupRequestStatus};

    fn request(phase: Option<DeleteBackupRequestPhase>, errors: &[&str]) -> DeleteBackupRequest {
        let mut r = DeleteBackupRequest::new("r", DeleteBackupRequestSpec::default());
        r.status = Some(DeleteBackupRequestStatus {
            phase,
            errors: errors.iter().map(|e| (*e).to_owned()).collect(),
            extra: Default::default(),
        });
        r
    }

    #[test]
    fn failed_and_forgotten_requests_are_made_again() {
        let t = |s: i64| Timestamp::from_second(s).unwrap();
        let processed = Some(DeleteBackupRequestPhase::Processed);
        let failed = request(
            processed.clone(),
            &["error deleting backup from object storage: AccessDenied"],
        );
        assert!(
            retry(Some(&failed), t(0), t(1))
                .unwrap()
                .contains("AccessDenied")
        );
        assert_eq!(
            retry(Some(&request(processed.clone(), &[])), t(0), t(1000)),
            None
        );
        assert_eq!(
            retry(Some(&request(processed, &["backup not found"])), t(0), t(1)),
            None
        );
        let stuck = request(Some(DeleteBackupRequestPhase::InProgress), &[]);
        assert_eq!(
            retry(Some(&stuck), t(0), t(60)),
            None,
            "Velero may still be on it"
        );
        assert!(
            retry(Some(&stuck), t(0), t(121))
                .unwrap()
                .contains("restarted")
        );
        assert!(
            retry(Some(&request(None, &[])), t(0), t(121)).is_some(),
            "never picked up"
        );
        assert_eq!(
            retry(None, t(0), t(1000)),
            None,
            "no request yet: make the first"
        );
    }
}
