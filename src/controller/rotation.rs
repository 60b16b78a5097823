//! Carrying out rotation: one Velero DeleteBackupRequest per Backup the lifecycle lets go, read
//! back until the Backup is gone. A request Velero processed with errors, or left unprocessed
//! for too long (Velero restarted under it), is replaced by a new attempt; the Backups still
//! being deleted, and why a deletion failed, are kept in `status.kubeObjectProtection.deletions`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;

use super::drive::Owner;
use super::{Context, Error};
use crate::api::velero::{Backup, DeleteBackupRequest, DeleteBackupRequestPhase};
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

/// Backups of one VRG being deleted at once; the others wait for these to go (each going wakes
/// the VRG, and the lifecycle names the rest again on every pass). Velero deletes one Backup at a
/// time anyway, and a rotation after its sync can let go of many captures together: asked all at
/// once, they loaded the API server and held the reconcile, and any step transition waiting
/// behind it, for hundreds of milliseconds (BENCHMARKS.md, step latency).
const OUTSTANDING: usize = 8;

/// Asks Velero to delete `names` (and keeps after those asked before), updating `kop.deletions`.
pub async fn rotate(
    ctx: &Context,
    owner: &Owner<'_>,
    kop: &mut KubeObjectProtectionStatus,
    names: &[String],
    now: Timestamp,
) -> Result<(), Error> {
    if names.is_empty() && kop.deletions.is_empty() {
        return Ok(());
    }
    let backups = ctx.velero.backups_of(owner.namespace, owner.name);
    let requests = ctx.velero.delete_requests_of(owner.namespace, owner.name);
    let (deletions, to_send) = plan(&kop.deletions, names, &backups, &requests, now);
    let to_send: Vec<DeleteBackupRequest> = to_send
        .into_iter()
        .map(|(backup, attempt)| {
            velero::spec::delete_request_attempt(
                &backup.name_any(),
                backup.labels(),
                &ctx.velero_namespace,
                attempt,
            )
        })
        .collect();
    let api = Api::<DeleteBackupRequest>::namespaced(ctx.client.clone(), &ctx.velero_namespace);
    let in_flight = ctx.velero.delete_requests_in_flight();
    futures::future::try_join_all(
        to_send
            .iter()
            .map(|request| super::drive::create(&api, request, in_flight)),
    )
    .await?;
    kop.deletions = deletions;
    Ok(())
}

/// The deletions to keep in status, and the Backups to send a request for (with its attempt):
/// those under way, then new ones from `names` while fewer than [`OUTSTANDING`] are under way.
fn plan<'b>(
    under_way: &[DeletionStatus],
    names: &[String],
    backups: &'b BTreeMap<String, Arc<Backup>>,
    requests: &BTreeMap<String, Arc<DeleteBackupRequest>>,
    now: Timestamp,
) -> (Vec<DeletionStatus>, Vec<(&'b Backup, u32)>) {
    // Deletions under way first, so that new ones never crowd them out.
    let asked: BTreeSet<&str> = under_way.iter().map(|d| d.backup.as_str()).collect();
    let new: BTreeSet<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !asked.contains(n))
        .collect();
    let wanted = under_way.iter().map(|d| d.backup.as_str()).chain(new);
    let (mut deletions, mut to_send, mut outstanding) = (vec![], vec![], 0);
    for name in wanted {
        let Some(backup) = backups.get(name) else {
            continue; // Deleted.
        };
        let before = under_way.iter().find(|d| d.backup == name);
        if before.is_none() && outstanding >= OUTSTANDING {
            break; // A later pass asks for the rest.
        }
        let mut entry = before.cloned().unwrap_or_else(|| DeletionStatus {
            backup: name.to_owned(),
            attempt: 0,
            requested_at: Time(now),
            message: None,
        });
        let request_of =
            |attempt| requests.get(&velero::names::delete_request_name_attempt(name, attempt));
        let retry = retry(
            request_of(entry.attempt).map(AsRef::as_ref),
            entry.requested_at.0,
            now,
        );
        if let Some(why) = retry {
            if entry.attempt + 1 >= MAX_ATTEMPTS {
                // Kept in status for a person; it no longer holds a place among the outstanding.
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
        if request_of(entry.attempt).is_none() {
            to_send.push((backup.as_ref(), entry.attempt));
        }
        outstanding += 1;
        deletions.push(entry);
    }
    (deletions, to_send)
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

    fn backups(names: &[String]) -> BTreeMap<String, Arc<Backup>> {
        names
            .iter()
            .map(|n| {
                let b = Backup::new(n, crate::api::velero::BackupSpec::default());
                (n.clone(), Arc::new(b))
            })
            .collect()
    }

    fn names(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("b{i:02}")).collect()
    }

    fn under_way(name: &str, attempt: u32) -> DeletionStatus {
        DeletionStatus {
            backup: name.to_owned(),
            attempt,
            requested_at: Time(Timestamp::from_second(0).unwrap()),
            message: None,
        }
    }

    fn requested(
        names: &[&str],
        r: DeleteBackupRequest,
    ) -> BTreeMap<String, Arc<DeleteBackupRequest>> {
        names
            .iter()
            .map(|n| {
                (
                    velero::names::delete_request_name_attempt(n, 0),
                    Arc::new(r.clone()),
                )
            })
            .collect()
    }

    #[test]
    fn at_most_eight_backups_of_a_vrg_are_being_deleted_at_once_and_those_under_way_come_first() {
        let now = Timestamp::from_second(10).unwrap();
        let all = names(0..20);
        let stored = backups(&all);
        let (deletions, send) = plan(&[], &all, &stored, &BTreeMap::new(), now);
        assert_eq!(deletions.len(), OUTSTANDING);
        let sent: Vec<String> = send.iter().map(|(b, _)| b.name_any()).collect();
        assert_eq!(sent, names(0..8), "new ones in name order");

        // Three asked before (their requests exist): kept first, and only five new ones start.
        let before = [
            under_way("b17", 0),
            under_way("b18", 0),
            under_way("b19", 0),
        ];
        let waiting = request(Some(DeleteBackupRequestPhase::InProgress), &[]);
        let requests = requested(&["b17", "b18", "b19"], waiting);
        let (deletions, send) = plan(&before, &all, &stored, &requests, now);
        let kept: Vec<&str> = deletions.iter().map(|d| d.backup.as_str()).collect();
        assert_eq!(
            kept,
            ["b17", "b18", "b19", "b00", "b01", "b02", "b03", "b04"]
        );
        let sent: Vec<String> = send.iter().map(|(b, _)| b.name_any()).collect();
        assert_eq!(sent, names(0..5), "no request is sent twice");

        // A Backup that went is dropped, and its place is free.
        let left = names(1..20);
        let (deletions, _) = plan(&deletions, &left, &backups(&left), &requests, now);
        assert_eq!(deletions.len(), OUTSTANDING);
        assert!(deletions.iter().all(|d| d.backup != "b00"));
    }

    #[test]
    fn a_deletion_given_up_on_stays_in_status_but_holds_no_place() {
        let now = Timestamp::from_second(10).unwrap();
        let all = names(0..20);
        let stored = backups(&all);
        let stuck: Vec<String> = names(0..8);
        let before: Vec<DeletionStatus> = stuck
            .iter()
            .map(|n| under_way(n, MAX_ATTEMPTS - 1))
            .collect();
        let failed = request(Some(DeleteBackupRequestPhase::Processed), &["AccessDenied"]);
        let requests: BTreeMap<_, _> = stuck
            .iter()
            .map(|n| {
                (
                    velero::names::delete_request_name_attempt(n, MAX_ATTEMPTS - 1),
                    Arc::new(failed.clone()),
                )
            })
            .collect();
        let (deletions, send) = plan(&before, &all, &stored, &requests, now);
        assert_eq!(deletions.len(), 16, "eight given up, eight under way");
        assert!(
            deletions[..8]
                .iter()
                .all(|d| d.message.as_deref().is_some_and(|m| m.contains("gave up")))
        );
        let sent: Vec<String> = send.iter().map(|(b, _)| b.name_any()).collect();
        assert_eq!(sent, names(8..16));
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
