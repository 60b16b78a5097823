//! Scenarios of the lifecycle, one decision at a time (the model tests in `model.rs` run whole
//! histories over two clusters).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::api::progress::{RunPhase, WorkflowRun};
use crate::api::vrg::{KubeObjectProtectionStatus, RecoveryPhase, ReplicationState, VrgAction};
use crate::engine::tests::at;

pub(super) fn vrg(role: ReplicationState, action: Option<VrgAction>) -> Vrg {
    Vrg {
        role,
        action,
        generation: 1,
        profiles: vec!["east".into(), "west".into()],
        backup_groups: vec!["config".into(), "app".into()],
        needed: vec!["config".into(), "app".into()],
        has_backup: true,
        has_restore: true,
        capture_interval: Duration::from_secs(300),
        capture_now: false,
    }
}

fn primary() -> Vrg {
    vrg(ReplicationState::Primary, None)
}

fn location(name: &str, synced: Option<i64>) -> Location {
    Location {
        name: name.into(),
        exists: true,
        available: true,
        message: None,
        last_synced: synced.map(at),
    }
}

fn world(cluster: &str, captures: Vec<Capture>, now: i64) -> World {
    World {
        cluster: cluster.into(),
        captures,
        locations: vec![location("east", Some(now)), location("west", Some(now))],
        now: at(now),
    }
}

/// A capture whose Backups of every group completed in `profiles`.
fn capture(cluster: &str, epoch: i64, number: i64, profiles: &[&str]) -> Capture {
    let mut backups = vec![];
    for group in ["config", "app"] {
        for profile in ["east", "west"] {
            backups.push(SeenBackup {
                name: format!("{cluster}-{number}-{group}-{profile}"),
                group: group.into(),
                profile: profile.into(),
                state: if profiles.contains(&profile) {
                    BackupState::Completed
                } else {
                    BackupState::Failed
                },
            });
        }
    }
    Capture {
        key: CaptureKey {
            epoch,
            number,
            cluster: cluster.into(),
        },
        final_capture: false,
        backups,
        start_time: Some(at(number * 10)),
        end_time: Some(at(number * 10 + 5)),
    }
}

fn both(cluster: &str, epoch: i64, number: i64) -> Capture {
    capture(cluster, epoch, number, &["east", "west"])
}

fn finished(workflow: &str, capture: i64, phase: RunPhase, started: i64) -> WorkflowRun {
    WorkflowRun {
        id: format!("{workflow}-{capture}"),
        workflow: workflow.into(),
        capture,
        phase,
        start_time: Time(at(started)),
        end_time: Some(Time(at(started + 1))),
        steps: vec![],
        message: None,
        start_generation: Some(1),
        epoch: None,
        final_capture: false,
        source: None,
        sources: Default::default(),
        plan: None,
        plan_changed: false,
    }
}

#[test]
fn a_first_primary_starts_lineage_one_with_capture_one() {
    let mut kop = KubeObjectProtectionStatus::default();
    let d = decide(&primary(), &world("east", vec![], 0), &mut kop);
    assert_eq!(
        d.step,
        Step::Capture {
            number: 1,
            epoch: 1,
            final_capture: false
        }
    );
    assert_eq!(kop.epoch, Some(1));
}

#[test]
fn numbers_continue_above_every_capture_seen_and_the_interval_is_kept() {
    let mut kop = KubeObjectProtectionStatus {
        epoch: Some(2),
        run: Some(finished("backup", 8, RunPhase::Succeeded, 1000)),
        ..Default::default()
    };
    let captures = vec![both("west", 1, 7), both("east", 2, 8)];
    let d = decide(&primary(), &world("east", captures.clone(), 1100), &mut kop);
    assert_eq!(
        d.step,
        Step::Wait {
            why: Waiting::NextCapture,
            recheck: Some(Duration::from_secs(200))
        }
    );
    let d = decide(&primary(), &world("east", captures, 1300), &mut kop);
    assert_eq!(
        d.step,
        Step::Capture {
            number: 9,
            epoch: 2,
            final_capture: false
        }
    );
    assert_eq!(
        kop.capture_to_recover_from.as_ref().map(|c| c.number),
        Some(8)
    );
}

#[test]
fn a_failover_waits_for_a_sync_after_it_was_asked_then_restores_the_newest() {
    let failover = vrg(ReplicationState::Primary, Some(VrgAction::Failover));
    let captures = vec![both("east", 1, 4), both("east", 1, 5)];
    let mut kop = KubeObjectProtectionStatus::default();
    let mut w = world("west", captures.clone(), 100);
    w.locations = vec![location("east", Some(100)), location("west", Some(120))];
    let d = decide(&failover, &w, &mut kop);
    assert_eq!(
        d.step,
        Step::Wait {
            why: Waiting::Sync {
                location: "east".into()
            },
            recheck: Some(decide::SYNC_RECHECK)
        }
    );
    let rec = kop.recovery.clone().unwrap();
    assert_eq!(
        (rec.phase, rec.requested_at.0),
        (RecoveryPhase::Pending, at(100))
    );
    // The sync after the request brought capture 6.
    let mut captures = captures;
    captures.push(both("east", 1, 6));
    let mut w = world("west", captures, 130);
    w.locations = vec![location("east", Some(125)), location("west", Some(125))];
    let d = decide(&failover, &w, &mut kop);
    let Step::Recover(source) = d.step else {
        panic!("{d:?}")
    };
    assert_eq!(source.capture.key.number, 6);
    assert_eq!(source.backups["config"], "east-6-config-east");
    assert_eq!(
        kop.recovery.as_ref().unwrap().phase,
        RecoveryPhase::Restoring
    );
    assert!(d.rotate.is_empty(), "nothing is rotated while recovering");
}

fn restore_run(source: &Capture, phase: RunPhase) -> WorkflowRun {
    WorkflowRun {
        source: Some(source.identifier()),
        ..finished("restore", source.key.number, phase, 200)
    }
}

#[test]
fn a_capture_velero_cannot_read_is_skipped_for_the_next_newest() {
    let failover = vrg(ReplicationState::Primary, Some(VrgAction::Failover));
    let captures = vec![both("east", 1, 5), both("east", 1, 6)];
    let w = world("west", captures.clone(), 300);
    let mut kop = KubeObjectProtectionStatus {
        recovery: Some(crate::api::vrg::RecoveryStatus {
            action: "Failover".into(),
            requested_at: Time(at(100)),
            requested_generation: 1,
            ..Default::default()
        }),
        ..Default::default()
    };
    let Step::Recover(first) = decide(&failover, &w, &mut kop).step else {
        panic!()
    };
    assert_eq!(first.capture.key.number, 6);
    kop.run = Some(restore_run(&first.capture, RunPhase::Failed));
    let unreadable = Outcome {
        unreadable: Some("NoSuchKey: the specified key does not exist".into()),
        warnings: 0,
    };
    conclude(&failover, &w, &mut kop, &unreadable);
    let rec = kop.recovery.as_ref().unwrap();
    assert_eq!(rec.phase, RecoveryPhase::Pending);
    assert_eq!(rec.unusable.len(), 1);
    let Step::Recover(second) = decide(&failover, &w, &mut kop).step else {
        panic!()
    };
    assert_eq!(second.capture.key.number, 5, "the next newest capture");
    // A failure that is not about the capture itself ends the recovery until the VRG changes.
    kop.run = Some(restore_run(&second.capture, RunPhase::Failed));
    conclude(&failover, &w, &mut kop, &Outcome::default());
    assert_eq!(kop.recovery.as_ref().unwrap().phase, RecoveryPhase::Failed);
    let d = decide(&failover, &w, &mut kop);
    assert_eq!(
        d.step,
        Step::Wait {
            why: Waiting::RecoveryFailed,
            recheck: None
        }
    );
    let changed = Vrg {
        generation: 2,
        ..failover
    };
    // A change asks anew: after the next sync, from the newest capture again.
    assert!(matches!(
        decide(&changed, &w, &mut kop).step,
        Step::Wait {
            why: Waiting::Sync { .. },
            ..
        }
    ));
    let Step::Recover(retry) = decide(&changed, &world("west", captures, 400), &mut kop).step
    else {
        panic!()
    };
    assert_eq!(
        retry.capture.key.number, 6,
        "a change retries from the newest again"
    );
}

#[test]
fn a_recovery_opens_a_new_lineage_and_keeps_its_source() {
    let failover = vrg(ReplicationState::Primary, Some(VrgAction::Failover));
    let source = both("east", 3, 6);
    let captures = vec![both("east", 3, 5), source.clone()];
    let w = world("west", captures.clone(), 300);
    let mut kop = KubeObjectProtectionStatus {
        recovery: Some(crate::api::vrg::RecoveryStatus {
            action: "Failover".into(),
            requested_at: Time(at(100)),
            requested_generation: 1,
            phase: RecoveryPhase::Restoring,
            source: Some(source.identifier()),
            ..Default::default()
        }),
        ..Default::default()
    };
    kop.run = Some(restore_run(&source, RunPhase::Succeeded));
    conclude(
        &failover,
        &w,
        &mut kop,
        &Outcome {
            unreadable: None,
            warnings: 3,
        },
    );
    assert_eq!(kop.epoch, Some(4));
    assert_eq!(kop.recovered_generation, Some(1));
    let rec = kop.recovery.clone().unwrap();
    assert_eq!(rec.phase, RecoveryPhase::Recovered);
    assert!(rec.message.unwrap().contains("3 warning(s)"));
    let d = decide(&failover, &w, &mut kop);
    assert_eq!(
        d.step,
        Step::Capture {
            number: 7,
            epoch: 4,
            final_capture: false
        },
        "capturing starts at once"
    );
    assert_eq!(
        kop.capture_to_recover_from.as_ref().map(|c| c.number),
        Some(6)
    );
    // West's first capture completes: its own older captures may go, east's never.
    let mut captures = captures;
    captures.push(both("west", 4, 7));
    captures.push(both("west", 4, 8));
    kop.run = Some(finished("backup", 8, RunPhase::Succeeded, 400));
    let d = decide(&failover, &world("west", captures, 401), &mut kop);
    assert_eq!(
        d.rotate,
        vec![
            "west-7-app-east",
            "west-7-app-west",
            "west-7-config-east",
            "west-7-config-west"
        ]
    );
}

#[test]
fn the_capture_a_recovery_restored_from_is_never_rotated() {
    // Failed over onto the cluster that wrote the capture: it is its own, and still the record
    // of the recovery (Velero deletes every Restore of a Backup it deletes).
    let failover = vrg(ReplicationState::Primary, Some(VrgAction::Failover));
    let source = both("east", 1, 5);
    let mut kop = KubeObjectProtectionStatus {
        epoch: Some(2),
        recovered_generation: Some(1),
        recovery: Some(crate::api::vrg::RecoveryStatus {
            action: "Failover".into(),
            requested_at: Time(at(0)),
            requested_generation: 1,
            phase: RecoveryPhase::Recovered,
            source: Some(source.identifier()),
            ..Default::default()
        }),
        run: Some(finished("backup", 7, RunPhase::Succeeded, 100)),
        ..Default::default()
    };
    let captures = vec![
        both("east", 1, 4),
        source,
        both("east", 2, 6),
        both("east", 2, 7),
    ];
    let d = decide(&failover, &world("east", captures, 101), &mut kop);
    assert!(
        d.rotate.iter().all(|n| !n.starts_with("east-5-")),
        "{:?}",
        d.rotate
    );
    assert!(d.rotate.iter().any(|n| n.starts_with("east-4-")));
    assert!(d.rotate.iter().any(|n| n.starts_with("east-6-")));
    assert!(d.rotate.iter().all(|n| !n.starts_with("east-7-")));
}

#[test]
fn rotation_waits_until_velero_has_listed_the_newer_capture_in_storage() {
    let mut kop = KubeObjectProtectionStatus {
        epoch: Some(1),
        run: Some(finished("backup", 5, RunPhase::Succeeded, 100)),
        ..Default::default()
    };
    let captures = vec![both("east", 1, 4), both("east", 1, 5)];
    // Capture 5 ended at 55; the last sync of west ran at 50, before it.
    let mut w = world("east", captures, 101);
    w.locations[1].last_synced = Some(at(50));
    let d = decide(&primary(), &w, &mut kop);
    assert_eq!(d.rotate, vec!["east-4-app-east", "east-4-config-east"]);
}

#[test]
fn rotation_keeps_the_newest_complete_copy_in_each_location() {
    let mut kop = KubeObjectProtectionStatus {
        epoch: Some(1),
        run: Some(finished("backup", 5, RunPhase::PartiallySucceeded, 100)),
        ..Default::default()
    };
    // Capture 5 reached only east; capture 4 is the newest complete copy in west.
    let captures = vec![both("east", 1, 4), capture("east", 1, 5, &["east"])];
    let d = decide(&primary(), &world("east", captures, 101), &mut kop);
    assert_eq!(d.rotate, vec!["east-4-app-east", "east-4-config-east"]);
}

#[test]
fn a_returning_old_primary_is_fenced_and_deletes_nothing() {
    let mut kop = KubeObjectProtectionStatus {
        epoch: Some(1),
        run: Some(finished("backup", 5, RunPhase::Succeeded, 0)),
        ..Default::default()
    };
    // West recovered from east's capture 5 and captured in lineage 2 while east was away.
    let captures = vec![both("east", 1, 4), both("east", 1, 5), both("west", 2, 6)];
    let d = decide(&primary(), &world("east", captures, 10_000), &mut kop);
    let Step::Fenced { by } = &d.step else {
        panic!("{d:?}")
    };
    assert_eq!((by.cluster.as_str(), by.number), ("west", 6));
    assert!(d.rotate.is_empty());
    let verdict =
        conditions::cluster_data_protected(&primary(), &world("east", vec![], 0), &kop, &d.step);
    assert_eq!((verdict.ok, verdict.reason), (false, "Fenced"));
    assert!(
        verdict.message.contains("make this VRG secondary"),
        "{}",
        verdict.message
    );
}

#[test]
fn an_old_lineage_never_outranks_a_new_one_whatever_its_numbers() {
    // East kept capturing while partitioned: its numbers are higher, its lineage older.
    let mut kop = KubeObjectProtectionStatus {
        epoch: Some(2),
        run: Some(finished("backup", 9, RunPhase::Succeeded, 0)),
        ..Default::default()
    };
    let captures = vec![both("east", 1, 12), both("west", 2, 8), both("west", 2, 9)];
    let d = decide(
        &primary(),
        &world("west", captures.clone(), 10_000),
        &mut kop,
    );
    assert_eq!(
        d.step,
        Step::Capture {
            number: 13,
            epoch: 2,
            final_capture: false
        }
    );
    let mut east = KubeObjectProtectionStatus {
        epoch: Some(1),
        ..Default::default()
    };
    let d = decide(&primary(), &world("east", captures, 10_000), &mut east);
    assert!(matches!(d.step, Step::Fenced { .. }), "{d:?}");
}

#[test]
fn a_fresh_primary_beside_another_clusters_captures_is_fenced() {
    let mut kop = KubeObjectProtectionStatus::default();
    let d = decide(
        &primary(),
        &world("west", vec![both("east", 1, 3)], 0),
        &mut kop,
    );
    assert!(matches!(d.step, Step::Fenced { .. }), "{d:?}");
    assert_eq!(kop.epoch, None);
}

#[test]
fn a_relocation_waits_for_the_final_capture_of_the_cluster_left() {
    let relocate = vrg(ReplicationState::Primary, Some(VrgAction::Relocate));
    let mut kop = KubeObjectProtectionStatus::default();
    let captures = vec![both("east", 1, 5)];
    let d = decide(&relocate, &world("west", captures.clone(), 100), &mut kop);
    assert!(
        matches!(
            &d.step,
            Step::Wait {
                why: Waiting::FinalCapture { newest: Some(k) },
                ..
            } if k.number == 5
        ),
        "{d:?}"
    );
    let verdict = conditions::kube_objects_ready(&relocate, &kop, &d.step);
    let conditions::Update::Set(v) = verdict else {
        panic!()
    };
    assert_eq!(v.reason, "AwaitingFinalCapture");
    let mut captures = captures;
    let mut last = both("east", 1, 6);
    last.final_capture = true;
    captures.push(last);
    let Step::Recover(source) = decide(&relocate, &world("west", captures, 200), &mut kop).step
    else {
        panic!()
    };
    assert_eq!(source.capture.key.number, 6);
}

#[test]
fn a_secondary_with_relocate_takes_one_final_capture_per_generation() {
    let leaving = vrg(ReplicationState::Secondary, Some(VrgAction::Relocate));
    let mut kop = KubeObjectProtectionStatus {
        epoch: Some(1),
        run: Some(finished("backup", 5, RunPhase::Succeeded, 0)),
        recovered_generation: Some(1),
        ..Default::default()
    };
    let captures = vec![both("east", 1, 5)];
    let d = decide(&leaving, &world("east", captures.clone(), 10), &mut kop);
    assert_eq!(
        d.step,
        Step::Capture {
            number: 6,
            epoch: 1,
            final_capture: true
        }
    );
    assert_eq!(
        kop.recovered_generation, None,
        "the next failover here recovers again"
    );
    kop.run = Some(WorkflowRun {
        final_capture: true,
        ..finished("backup", 6, RunPhase::Succeeded, 10)
    });
    conclude(
        &leaving,
        &world("east", captures.clone(), 20),
        &mut kop,
        &Outcome::default(),
    );
    assert_eq!(kop.final_capture_generation, Some(1));
    let d = decide(&leaving, &world("east", captures, 30), &mut kop);
    assert_eq!(d.step, Step::Secondary);
    let v = conditions::cluster_data_protected(&leaving, &world("east", vec![], 0), &kop, &d.step);
    assert!(v.ok && v.message.contains("final capture 6"), "{v:?}");
    let plain = vrg(ReplicationState::Secondary, None);
    let v = conditions::cluster_data_protected(
        &plain,
        &world("east", vec![], 0),
        &kop,
        &Step::Secondary,
    );
    assert_eq!((v.ok, v.reason), (false, "Secondary"));
}

#[test]
fn a_secondary_that_never_protected_the_application_takes_no_final_capture() {
    let leaving = vrg(ReplicationState::Secondary, Some(VrgAction::Relocate));
    // Not even when it has not synced the primary's captures yet.
    for captures in [vec![both("east", 1, 5)], vec![]] {
        let mut kop = KubeObjectProtectionStatus::default();
        let w = world("west", captures, 10);
        let d = decide(&leaving, &w, &mut kop);
        assert!(
            matches!(
                d.step,
                Step::Wait {
                    why: Waiting::NeverProtected,
                    ..
                }
            ),
            "{d:?}"
        );
        let v = conditions::cluster_data_protected(&leaving, &w, &kop, &d.step);
        assert_eq!((v.ok, v.reason), (false, "NoFinalCapture"));
    }
    // One that protected it but sees a newer lineage elsewhere is not the one it runs on.
    let mut kop = KubeObjectProtectionStatus {
        epoch: Some(1),
        ..Default::default()
    };
    let w = world("east", vec![both("east", 1, 5), both("west", 2, 6)], 10);
    assert!(matches!(
        decide(&leaving, &w, &mut kop).step,
        Step::Fenced { .. }
    ));
}

#[test]
fn without_a_restore_workflow_a_recovery_restores_nothing_and_capturing_starts() {
    let failover = Vrg {
        has_restore: false,
        needed: vec![],
        ..vrg(ReplicationState::Primary, Some(VrgAction::Failover))
    };
    let mut kop = KubeObjectProtectionStatus::default();
    let d = decide(
        &failover,
        &world("west", vec![both("east", 1, 5)], 10),
        &mut kop,
    );
    assert_eq!(
        d.step,
        Step::Capture {
            number: 6,
            epoch: 2,
            final_capture: false
        }
    );
    assert_eq!(
        kop.recovery.as_ref().unwrap().phase,
        RecoveryPhase::Recovered
    );
}

#[test]
fn a_running_restore_is_driven_to_its_end_whatever_the_spec_says() {
    let failover = vrg(ReplicationState::Primary, Some(VrgAction::Failover));
    let source = both("east", 1, 5);
    let mut kop = KubeObjectProtectionStatus {
        recovery: Some(crate::api::vrg::RecoveryStatus {
            action: "Failover".into(),
            requested_at: Time(at(0)),
            requested_generation: 1,
            phase: RecoveryPhase::Restoring,
            source: Some(source.identifier()),
            ..Default::default()
        }),
        run: Some(restore_run(&source, RunPhase::Running)),
        ..Default::default()
    };
    let edited = Vrg {
        generation: 5,
        ..failover
    };
    assert_eq!(
        decide(&edited, &world("west", vec![source], 10), &mut kop).step,
        Step::Drive
    );
}

#[test]
fn turning_secondary_stops_a_capture_or_recovery_but_drives_a_final_capture() {
    let demoted = vrg(ReplicationState::Secondary, Some(VrgAction::Relocate));
    let source = both("east", 1, 5);
    for (run, expected) in [
        (finished("backup", 6, RunPhase::Running, 0), Step::Stop),
        (restore_run(&source, RunPhase::Running), Step::Stop),
        (
            WorkflowRun {
                final_capture: true,
                ..finished("backup", 6, RunPhase::Running, 0)
            },
            Step::Drive,
        ),
    ] {
        let mut kop = KubeObjectProtectionStatus {
            epoch: Some(1),
            run: Some(run),
            ..Default::default()
        };
        let d = decide(&demoted, &world("east", vec![source.clone()], 10), &mut kop);
        assert_eq!(d.step, expected);
    }
}

#[test]
fn deleting_keeps_captures_unless_asked_and_never_touches_another_clusters() {
    let w = world(
        "east",
        vec![both("east", 1, 4), both("east", 1, 5), both("west", 2, 6)],
        100,
    );
    let groups = primary().needed_groups().to_vec();
    assert!(
        on_delete(
            DeletePolicy::KeepCaptures,
            ReplicationState::Primary,
            &w,
            &groups
        )
        .is_empty()
    );
    let all = on_delete(
        DeletePolicy::DeleteOwnCaptures,
        ReplicationState::Primary,
        &w,
        &groups,
    );
    assert_eq!(all.len(), 8);
    assert!(all.iter().all(|n| n.starts_with("east-")));
    let superseded = on_delete(
        DeletePolicy::DeleteOwnCaptures,
        ReplicationState::Secondary,
        &w,
        &groups,
    );
    assert!(superseded.iter().all(|n| n.starts_with("east-")));
    assert_eq!(superseded.len(), 8, "west's capture 6 supersedes both");
    let w = world("east", vec![both("east", 1, 4), both("east", 1, 5)], 100);
    let superseded = on_delete(
        DeletePolicy::DeleteOwnCaptures,
        ReplicationState::Secondary,
        &w,
        &groups,
    );
    assert!(
        superseded.iter().all(|n| n.starts_with("east-4-")),
        "a secondary keeps its newest restorable capture: {superseded:?}"
    );
}

#[test]
fn an_unavailable_location_stops_captures_with_a_clear_condition() {
    let mut kop = KubeObjectProtectionStatus {
        epoch: Some(1),
        ..Default::default()
    };
    let mut w = world("east", vec![], 0);
    w.locations[1].available = false;
    w.locations[1].message =
        Some("BackupStorageLocation \"west\" is unavailable: rpc error".into());
    let d = decide(&primary(), &w, &mut kop);
    let v = conditions::cluster_data_protected(&primary(), &w, &kop, &d.step);
    assert_eq!((v.ok, v.reason), (false, "StorageUnavailable"));
    assert!(
        v.message.contains("west") && v.message.contains("rpc error"),
        "{}",
        v.message
    );
}
