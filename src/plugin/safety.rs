//! Whether `kubectl vrg failover` or `relocate` may set the VRG's fields now, and if not, why.
//! Pure: decided from the VRG and the captures visible in this cluster.

use crate::api::VolumeReplicationGroup;
use crate::api::vrg::RecoveryPhase;
use crate::api::vrg::{ReplicationState, VrgAction};
use crate::lifecycle::{Capture, captures::newest_restorable};

/// The reason a move is refused, in words a user can act on; `None` when it is safe.
pub fn refusal(
    vrg: &VolumeReplicationGroup,
    action: VrgAction,
    captures: &[Capture],
    needed: &[String],
    profiles: &[String],
) -> Option<String> {
    let name = vrg.metadata.name.as_deref().unwrap_or_default();
    let verb = crate::lifecycle::action_name(action);
    let kop = vrg
        .status
        .as_ref()
        .and_then(|s| s.kube_object_protection.as_ref());
    let primary = vrg.spec.replication_state == ReplicationState::Primary;
    if primary && let Some(asked) = vrg.spec.action {
        let asked = crate::lifecycle::action_name(asked);
        let recovery = kop.and_then(|k| k.recovery.as_ref());
        return Some(match recovery.map(|r| (r.phase, r.message.as_deref())) {
            // Asked, and not yet seen by the operator; or waiting, or restoring.
            None | Some((RecoveryPhase::Pending | RecoveryPhase::Restoring, _)) => format!(
                "a {asked} is already running here: follow it with `kubectl vrg get {name} --watch`"
            ),
            Some((RecoveryPhase::Failed, message)) => format!(
                "the {asked} here failed ({}); asking again changes nothing: fix the cause, then \
                 change the VRG to retry, or set action \"\" to give up and capture (user guide, \
                 \"When recovery fails\")",
                message.unwrap_or("see `kubectl vrg get`")
            ),
            // Another request would restore over the running application.
            Some((RecoveryPhase::Recovered, _)) => format!(
                "this cluster already recovered with {asked}: it is primary and protecting the \
                 application; to move it, start from the other cluster's side"
            ),
        });
    }
    let active = kop.is_some_and(|k| k.run.is_some() || k.capture_to_recover_from.is_some());
    if primary && vrg.spec.action.is_none() && active {
        return Some(format!(
            "{name} is already primary on this cluster and protecting the application: a \
             {verb} here would restore a capture over the running application (move it from \
             the other cluster's side)"
        ));
    }
    if needed.is_empty() {
        return Some(format!(
            "{name}'s recipe names no group to restore: there is nothing to recover from"
        ));
    }
    let Some(newest) = newest_restorable(captures, needed, profiles) else {
        return Some(format!(
            "no restorable capture of {name} is visible on this cluster (Velero's backup sync \
             may not have brought the other cluster's Backups yet): `kubectl vrg captures {name}` \
             lists what is visible"
        ));
    };
    if action == VrgAction::Relocate && !newest.capture.final_capture {
        return Some(format!(
            "the other cluster still looks primary: its final capture is not visible here (the \
             newest restorable is {}); set its VRG to secondary with action Relocate first, or \
             fail over if it is lost",
            newest.capture.key.describe()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::vrg::VolumeReplicationGroupSpec;
    use crate::api::vrg::{
        KubeObjectProtectionStatus, RecoveryStatus, VolumeReplicationGroupStatus,
    };
    use crate::lifecycle::{BackupState, CaptureKey, SeenBackup};

    fn vrg(role: ReplicationState, action: Option<VrgAction>) -> VolumeReplicationGroup {
        let mut vrg = VolumeReplicationGroup::new(
            "shop",
            VolumeReplicationGroupSpec {
                replication_state: role,
                action,
                ..Default::default()
            },
        );
        vrg.metadata.namespace = Some("shop".into());
        vrg
    }

    fn capture(number: i64, final_capture: bool, state: BackupState) -> Capture {
        Capture {
            key: CaptureKey {
                epoch: 1,
                number,
                cluster: "east".into(),
            },
            final_capture,
            backups: vec![SeenBackup {
                name: format!("b{number}"),
                group: "data".into(),
                profile: "s3".into(),
                state,
            }],
            start_time: None,
            end_time: None,
        }
    }

    fn check(
        vrg: &VolumeReplicationGroup,
        action: VrgAction,
        captures: &[Capture],
    ) -> Option<String> {
        refusal(vrg, action, captures, &["data".into()], &["s3".into()])
    }

    #[test]
    fn a_secondary_with_a_complete_capture_may_fail_over() {
        let standby = vrg(ReplicationState::Secondary, None);
        assert_eq!(
            check(
                &standby,
                VrgAction::Failover,
                &[capture(3, false, BackupState::Completed)]
            ),
            None
        );
    }

    #[test]
    fn no_restorable_capture_refuses_and_says_where_to_look() {
        let standby = vrg(ReplicationState::Secondary, None);
        let why = check(
            &standby,
            VrgAction::Failover,
            &[capture(3, false, BackupState::Running)],
        )
        .unwrap();
        assert!(why.contains("no restorable capture of shop"), "{why}");
        assert!(why.contains("kubectl vrg captures shop"), "{why}");
        assert!(check(&standby, VrgAction::Failover, &[]).is_some());
    }

    #[test]
    fn relocate_waits_for_the_peers_final_capture() {
        let standby = vrg(ReplicationState::Secondary, None);
        let why = check(
            &standby,
            VrgAction::Relocate,
            &[capture(3, false, BackupState::Completed)],
        )
        .unwrap();
        assert!(why.contains("still looks primary"), "{why}");
        assert!(why.contains("capture 3 (cluster east, lineage 1)"), "{why}");
        let finals = [
            capture(3, false, BackupState::Completed),
            capture(4, true, BackupState::Completed),
        ];
        assert_eq!(check(&standby, VrgAction::Relocate, &finals), None);
    }

    #[test]
    fn a_recovery_already_running_refuses() {
        let mut moving = vrg(ReplicationState::Primary, Some(VrgAction::Failover));
        let done = [capture(3, false, BackupState::Completed)];
        assert!(
            check(&moving, VrgAction::Failover, &done)
                .unwrap()
                .contains("already running")
        );
        moving.status = Some(VolumeReplicationGroupStatus {
            kube_object_protection: Some(KubeObjectProtectionStatus {
                recovery: Some(RecoveryStatus {
                    action: "Failover".into(),
                    phase: RecoveryPhase::Restoring,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert!(
            check(&moving, VrgAction::Relocate, &done)
                .unwrap()
                .contains("a Failover is already running")
        );
        let recovery = |phase, message: Option<&str>| {
            let mut v = moving.clone();
            let kop = v
                .status
                .as_mut()
                .unwrap()
                .kube_object_protection
                .as_mut()
                .unwrap();
            let r = kop.recovery.as_mut().unwrap();
            r.phase = phase;
            r.message = message.map(str::to_owned);
            v
        };
        let failed = recovery(
            RecoveryPhase::Failed,
            Some("Restore of group config failed"),
        );
        let why = check(&failed, VrgAction::Failover, &done).unwrap();
        assert!(
            why.contains("the Failover here failed (Restore of group config failed)")
                && why.contains("change the VRG to retry"),
            "{why}"
        );
        let why = check(
            &recovery(RecoveryPhase::Recovered, None),
            VrgAction::Failover,
            &done,
        )
        .unwrap();
        assert!(why.contains("already recovered with Failover"), "{why}");
    }

    #[test]
    fn the_protecting_primary_refuses_to_restore_over_itself() {
        let mut primary = vrg(ReplicationState::Primary, None);
        primary.status = Some(VolumeReplicationGroupStatus {
            kube_object_protection: Some(KubeObjectProtectionStatus {
                capture_to_recover_from: Some(Default::default()),
                ..Default::default()
            }),
            ..Default::default()
        });
        let why = check(
            &primary,
            VrgAction::Failover,
            &[capture(3, false, BackupState::Completed)],
        )
        .unwrap();
        assert!(why.contains("already primary on this cluster"), "{why}");
    }
}
