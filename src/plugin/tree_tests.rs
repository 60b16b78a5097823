//! Golden tests of `kubectl vrg get`, `list`, `captures` and `logs` output: a VRG's status as the
//! operator writes it, drawn at a fixed time.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;

use super::rows::{self, CAPTURES_HEADER, LIST_HEADER};
use super::tree::{self, VeleroObject};
use crate::api::VolumeReplicationGroup;
use crate::lifecycle::{BackupState, Capture, CaptureKey, SeenBackup};

fn now() -> Timestamp {
    "2026-12-04T10:05:00Z".parse().unwrap()
}

/// A primary VRG in the middle of capture 8: quiesce done, the first group's Backup running.
fn capturing() -> VolumeReplicationGroup {
    serde_saphyr::from_str(
        r#"
apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {name: shop, namespace: shop, generation: 3}
spec:
  replicationState: primary
  s3Profiles: [east]
  kubeObjectProtection: {recipeRef: {name: shop}}
status:
  conditions:
  - {type: RecipeReady, status: "True", reason: Valid, message: Recipe shop/shop is valid, lastTransitionTime: "2026-12-04T09:00:00Z"}
  - {type: ClusterDataProtected, status: "True", reason: Protected, message: "capture 7 is complete", lastTransitionTime: "2026-12-04T10:00:40Z"}
  kubeObjectProtection:
    captureToRecoverFrom: {number: 7, cluster: east, epoch: 1, endTime: "2026-12-04T10:00:40Z"}
    currentStep: "backup/2: group config"
    run:
      id: backup-8
      workflow: backup
      capture: 8
      phase: Running
      startTime: "2026-12-04T10:04:50Z"
      steps:
      - name: hook db/flush
        phase: Succeeded
        attempt: 1
        startTime: "2026-12-04T10:04:50Z"
        endTime: "2026-12-04T10:04:50.400Z"
        results:
        - {target: pod/db-0, container: mysql, exitCode: 0, stdout: "flushed\n"}
        - {target: pod/db-1, container: mysql, exitCode: 0}
      - name: group config
        phase: Running
        attempt: 2
        startTime: "2026-12-04T10:04:51Z"
        objects: [shop-config-8-east-a2]
      - name: group data
        phase: Pending
      - name: hook db/unflush
        phase: Pending
"#,
    )
    .unwrap()
}

fn objects() -> BTreeMap<String, VeleroObject> {
    BTreeMap::from([(
        "shop-config-8-east-a2".to_owned(),
        VeleroObject {
            kind: "Backup".into(),
            phase: "InProgress".into(),
            items_done: Some(3),
            items_total: Some(10),
            errors: None,
            warnings: Some(1),
        },
    )])
}

#[test]
fn a_running_capture_is_drawn_as_a_tree() {
    let text = tree::render(&capturing(), &objects(), now());
    let want = "\
VolumeReplicationGroup shop/shop: primary
Restorable:  capture 7 by east, ended 2026-12-04T10:00:40Z (4m20s ago)
Conditions:
  ✓ RecipeReady           Valid: Recipe shop/shop is valid
  ✓ ClusterDataProtected  Protected: capture 7 is complete
Run backup-8 (backup workflow, capture 8): Running, 10s, started 2026-12-04T10:04:50Z
├─ ✓ hook db/flush    attempt 1  0.4s
│  ├─ pod/db-0 [mysql]  exit 0
│  └─ pod/db-1 [mysql]  exit 0
├─ ⟳ group config     attempt 2  9.0s
│  └─ Backup shop-config-8-east-a2  InProgress  3/10 items  1 warnings
├─ · group data
└─ · hook db/unflush
";
    assert_eq!(text, want, "got:\n{text}");
}

#[test]
fn a_failed_recovery_shows_why_and_the_missing_objects() {
    let mut vrg = capturing();
    let status = vrg.status.as_mut().unwrap();
    status.conditions.clear();
    let kop = status.kube_object_protection.as_mut().unwrap();
    kop.capture_to_recover_from = None;
    kop.recovery = Some(crate::api::vrg::RecoveryStatus {
        action: "Failover".into(),
        phase: crate::api::vrg::RecoveryPhase::Failed,
        message: Some("restore of capture 7 failed: group config: PartiallyFailed".into()),
        ..Default::default()
    });
    let run = kop.run.as_mut().unwrap();
    run.id = "restore-7".into();
    run.workflow = "restore".into();
    run.capture = 7;
    run.phase = crate::api::progress::RunPhase::Failed;
    run.end_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2026-12-04T10:05:00Z".parse().unwrap(),
    ));
    run.message = Some("stopped: group config failed".into());
    run.steps.truncate(2);
    run.steps[1].phase = crate::api::progress::StepPhase::Failed;
    run.steps[1].message = Some("Restore PartiallyFailed: 2 errors".into());
    run.steps[1].end_time = run.end_time.clone();
    let text = tree::render(&vrg, &BTreeMap::new(), now());
    let want = "\
VolumeReplicationGroup shop/shop: primary
Restorable:  none yet
Recovery:    Failover Failed: restore of capture 7 failed: group config: PartiallyFailed
Conditions:  none yet (is the operator running?)
Run restore-7 (restore workflow, restoring capture 7): Failed, 10s, started 2026-12-04T10:04:50Z
  stopped: group config failed
├─ ✓ hook db/flush  attempt 1  0.4s
│  ├─ pod/db-0 [mysql]  exit 0
│  └─ pod/db-1 [mysql]  exit 0
└─ ✗ group config   attempt 2  9.0s  Restore PartiallyFailed: 2 errors
   └─ shop-config-8-east-a2  (not found)
";
    assert_eq!(text, want, "got:\n{text}");
}

#[test]
fn list_shows_state_protection_rpo_and_step() {
    let mut standby = capturing();
    standby.metadata.name = Some("web".into());
    standby.spec.replication_state = crate::api::vrg::ReplicationState::Secondary;
    standby.status = None;
    let rows = [
        rows::list_row(&capturing(), now()),
        rows::list_row(&standby, now()),
    ];
    let text = rows::table(&LIST_HEADER, &rows);
    let want = "\
NAMESPACE   NAME   STATE       PROTECTED   RPO     STEP
shop        shop   primary     yes         4m20s   backup/2: group config
shop        web    secondary   unknown     none    -
";
    assert_eq!(text, want, "got:\n{text}");
}

#[test]
fn captures_are_listed_newest_first_with_their_backups() {
    let backup = |name: &str, group: &str, state| SeenBackup {
        name: name.into(),
        group: group.into(),
        profile: "east".into(),
        state,
    };
    let capture = |number, cluster: &str, backups| Capture {
        key: CaptureKey {
            epoch: 1,
            number,
            cluster: cluster.into(),
        },
        final_capture: number == 8,
        backups,
        start_time: None,
        end_time: Some("2026-12-04T10:00:40Z".parse().unwrap()),
    };
    let captures = [
        capture(
            7,
            "east",
            vec![
                backup("a", "data", BackupState::Completed),
                backup("b", "config", BackupState::Completed),
            ],
        ),
        capture(8, "east", vec![backup("c", "config", BackupState::Running)]),
    ];
    let needed = ["config".to_owned(), "data".to_owned()];
    let rows = rows::capture_rows(&captures, &needed, &["east".into()], now());
    let text = rows::table(&CAPTURES_HEADER, &rows);
    let want = "\
CAPTURE     CLUSTER   LINEAGE   ENDED                              SLOT   COMPLETE   BACKUPS
8 (final)   east      1         2026-12-04T10:00:40Z (4m20s ago)   0      no         config@east=Running
7           east      1         2026-12-04T10:00:40Z (4m20s ago)   1      yes        config@east=Completed, data@east=Completed
";
    assert_eq!(text, want, "got:\n{text}");
}

#[test]
fn logs_print_each_steps_output_by_stream() {
    let vrg = capturing();
    let run = vrg
        .status
        .unwrap()
        .kube_object_protection
        .unwrap()
        .run
        .unwrap();
    let want = "\
step 1 hook db/flush (Succeeded, attempt 1)
  pod/db-0 [mysql]  exit 0
    stdout| flushed
  pod/db-1 [mysql]  exit 0
";
    assert_eq!(tree::logs(&run, Some(1)), want);
    assert!(
        tree::logs(&run, None)
            .contains("step 3 group data (Pending, attempt 0)\n  (no hook output)\n")
    );
}
