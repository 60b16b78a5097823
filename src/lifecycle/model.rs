//! Model-based tests of the lifecycle: two simulated clusters and one shared bucket, driven
//! through arbitrary histories of role changes, failovers, relocations, VRG deletions, Velero
//! syncs, Velero failures and operator restarts. After every step the properties the issue asks
//! for are checked:
//! - the newest restorable capture in the bucket is never deleted (nor the newest complete copy
//!   in any one location);
//! - a failover restores a capture at least as new as the newest in the bucket when it was asked
//!   for (the newest that had synced);
//! - no two clusters ever write the same Backup name;
//! - no cluster ever asks to delete another cluster's Backup (so neither a demoted nor a
//!   returning old primary deletes the new primary's captures).
//!
//! The model plays the shell: it observes (builds the `World` from the Backups a cluster can
//! see), calls `decide`, acts as the real shell does (starts runs, asks for deletions), lets
//! Velero finish or fail runs, and reports finished runs through `conclude`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use proptest::prelude::*;

use super::*;
use crate::api::progress::{RunPhase, WorkflowRun};
use crate::api::vrg::{KubeObjectProtectionStatus, ReplicationState, VrgAction};
use crate::engine::tests::at;
use crate::velero::ObjectIdentity;

const CLUSTERS: [&str; 2] = ["east", "west"];
const PROFILES: [&str; 2] = ["s3a", "s3b"];
const GROUPS: [&str; 2] = ["config", "app"];

/// A Backup as stored in the bucket (its metadata, as Velero's sync brings it to a cluster).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stored {
    key: CaptureKey,
    final_capture: bool,
    group: String,
    profile: String,
    /// When Velero completed it (the model's clock).
    completed_at: Option<i64>,
}

/// A Backup object in one cluster.
#[derive(Clone, Debug)]
struct Local {
    stored: Stored,
    state: BackupState,
}

#[derive(Clone, Debug)]
struct SimVrg {
    spec: Vrg,
    kop: KubeObjectProtectionStatus,
}

#[derive(Clone, Debug)]
struct Cluster {
    id: String,
    vrg: Option<SimVrg>,
    /// Backup objects by name: this cluster's own, and those Velero synced from the bucket.
    objects: BTreeMap<String, Local>,
    last_synced: Option<Timestamp>,
    /// DeleteBackupRequests Velero has not processed yet.
    deletions: BTreeSet<String>,
    /// Restore runs Velero fails (for a reason other than the capture) when they end.
    fail_restores: bool,
    /// Backups to this profile fail.
    failing_profile: Option<usize>,
    /// The newest restorable capture in the bucket when the current failover was asked for.
    failover_floor: Option<CaptureKey>,
}

struct Model {
    now: i64,
    bucket: BTreeMap<String, Stored>,
    clusters: Vec<Cluster>,
    /// Every Backup name ever written, with its writer.
    written: BTreeMap<String, String>,
    /// What the history reached, so a test can show the histories are not all trivial.
    stats: Stats,
}

#[derive(Clone, Debug, Default)]
struct Stats {
    recoveries: usize,
    fences: usize,
    deletions: usize,
    final_captures: usize,
    unreadable: usize,
}

#[derive(Clone, Debug)]
enum Op {
    Reconcile(usize),
    VeleroFinishes(usize),
    VeleroDeletes(usize),
    Sync(usize),
    Tick,
    Failover(usize),
    Relocate(usize),
    Demote {
        cluster: usize,
        relocate: bool,
    },
    ClearAction(usize),
    Delete(usize),
    Create {
        cluster: usize,
        primary: bool,
    },
    CaptureNow(usize),
    FailRestores {
        cluster: usize,
        on: bool,
    },
    FailProfile {
        cluster: usize,
        profile: Option<usize>,
    },
    /// Storage loses the data of the newest capture this cluster wrote that no Velero backup
    /// sync has listed yet: the writer still sees its Backup objects until its next sync.
    /// (A loss after a sync listed the data is beyond what any operator can observe.)
    StorageLoses(usize),
    /// The operator dies in a reconcile after acting, before its status write: the Velero
    /// objects and deletion requests it made exist, the status is as before.
    Crash(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..2usize;
    prop_oneof![
        12 => c.clone().prop_map(Op::Reconcile),
        4 => c.clone().prop_map(Op::VeleroFinishes),
        2 => c.clone().prop_map(Op::VeleroDeletes),
        4 => c.clone().prop_map(Op::Sync),
        3 => Just(Op::Tick),
        2 => c.clone().prop_map(Op::Failover),
        1 => c.clone().prop_map(Op::Relocate),
        1 => c.clone().prop_map(Op::StorageLoses),
        1 => (c.clone(), any::<bool>()).prop_map(|(cluster, relocate)| Op::Demote { cluster, relocate }),
        1 => c.clone().prop_map(Op::ClearAction),
        1 => c.clone().prop_map(Op::Delete),
        1 => (c.clone(), any::<bool>()).prop_map(|(cluster, primary)| Op::Create { cluster, primary }),
        1 => c.clone().prop_map(Op::CaptureNow),
        1 => (c.clone(), any::<bool>()).prop_map(|(cluster, on)| Op::FailRestores { cluster, on }),
        1 => (c.clone(), proptest::option::of(0..2usize))
            .prop_map(|(cluster, profile)| Op::FailProfile { cluster, profile }),
        1 => c.prop_map(Op::Crash),
    ]
}

fn spec(role: ReplicationState, action: Option<VrgAction>, generation: i64) -> Vrg {
    let groups: Vec<String> = GROUPS.iter().map(|g| (*g).to_owned()).collect();
    Vrg {
        role,
        action,
        generation,
        profiles: PROFILES.iter().map(|p| (*p).to_owned()).collect(),
        backup_groups: groups.clone(),
        needed: groups,
        has_backup: true,
        has_restore: true,
        capture_interval: Duration::from_secs(300),
        capture_now: false,
    }
}

fn groups() -> Vec<String> {
    GROUPS.iter().map(|g| (*g).to_owned()).collect()
}

fn profiles() -> Vec<String> {
    PROFILES.iter().map(|p| (*p).to_owned()).collect()
}

/// Captures from Backups (grouped by writer, lineage and number).
fn captures_of<'a>(
    backups: impl Iterator<Item = (&'a String, &'a Stored, BackupState)>,
) -> Vec<Capture> {
    let mut by_key: BTreeMap<CaptureKey, Capture> = BTreeMap::new();
    for (name, s, state) in backups {
        let c = by_key.entry(s.key.clone()).or_insert_with(|| Capture {
            key: s.key.clone(),
            final_capture: s.final_capture,
            backups: vec![],
            start_time: None,
            end_time: None,
        });
        if state == BackupState::Completed {
            c.end_time = c.end_time.max(s.completed_at.map(at));
        }
        c.backups.push(SeenBackup {
            name: name.clone(),
            group: s.group.clone(),
            profile: s.profile.clone(),
            state,
        });
    }
    by_key.into_values().collect()
}

impl Model {
    fn new() -> Self {
        let clusters = CLUSTERS
            .iter()
            .enumerate()
            .map(|(i, id)| Cluster {
                id: (*id).to_owned(),
                // East starts primary, west secondary: a usual first protection.
                vrg: Some(SimVrg {
                    spec: if i == 0 {
                        spec(ReplicationState::Primary, None, 1)
                    } else {
                        spec(ReplicationState::Secondary, None, 1)
                    },
                    kop: KubeObjectProtectionStatus::default(),
                }),
                objects: BTreeMap::new(),
                last_synced: None,
                deletions: BTreeSet::new(),
                fail_restores: false,
                failing_profile: None,
                failover_floor: None,
            })
            .collect();
        Self {
            now: 1_000,
            bucket: BTreeMap::new(),
            clusters,
            written: BTreeMap::new(),
            stats: Stats::default(),
        }
    }

    fn bucket_captures(&self) -> Vec<Capture> {
        captures_of(
            self.bucket
                .iter()
                .map(|(n, s)| (n, s, BackupState::Completed)),
        )
    }

    fn world(&self, c: usize) -> World {
        let cluster = &self.clusters[c];
        World {
            cluster: cluster.id.clone(),
            captures: captures_of(cluster.objects.iter().map(|(n, l)| (n, &l.stored, l.state))),
            locations: PROFILES
                .iter()
                .map(|p| Location {
                    name: (*p).to_owned(),
                    exists: true,
                    available: true,
                    message: None,
                    last_synced: cluster.last_synced,
                })
                .collect(),
            now: at(self.now),
        }
    }

    fn edit(&mut self, c: usize, f: impl FnOnce(&mut Vrg)) {
        if let Some(vrg) = self.clusters[c].vrg.as_mut() {
            f(&mut vrg.spec);
            vrg.spec.generation += 1;
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Reconcile(c) => self.reconcile(c)?,
            Op::VeleroFinishes(c) => self.velero_finishes(c),
            Op::VeleroDeletes(c) => self.velero_deletes(c)?,
            Op::Sync(c) => self.sync(c),
            Op::Tick => self.now += 120,
            Op::Failover(c) => {
                // The failover is asked for now, unless it already was (an edit that keeps it).
                let asked = self.clusters[c].vrg.as_ref().is_some_and(|v| {
                    v.spec.role == ReplicationState::Primary
                        && v.spec.action == Some(VrgAction::Failover)
                });
                if !asked {
                    self.clusters[c].failover_floor = newest_restorable(&self.bucket_captures());
                }
                self.edit(c, |s| {
                    s.role = ReplicationState::Primary;
                    s.action = Some(VrgAction::Failover);
                });
            }
            Op::Relocate(c) => self.edit(c, |s| {
                s.role = ReplicationState::Primary;
                s.action = Some(VrgAction::Relocate);
            }),
            Op::Demote { cluster, relocate } => self.edit(cluster, |s| {
                s.role = ReplicationState::Secondary;
                s.action = relocate.then_some(VrgAction::Relocate);
            }),
            Op::ClearAction(c) => self.edit(c, |s| s.action = None),
            Op::Delete(c) => {
                // Deleting with the default policy keeps every capture.
                let cluster = &mut self.clusters[c];
                if let Some(vrg) = cluster.vrg.take() {
                    let kept = on_delete(
                        DeletePolicy::KeepCaptures,
                        vrg.spec.role,
                        &self.world(c),
                        &groups(),
                    );
                    if !kept.is_empty() {
                        return Err(format!("deleting with KeepCaptures deleted {kept:?}"));
                    }
                }
            }
            Op::Create { cluster, primary } => {
                if self.clusters[cluster].vrg.is_none() {
                    let role = if primary {
                        ReplicationState::Primary
                    } else {
                        ReplicationState::Secondary
                    };
                    self.clusters[cluster].vrg = Some(SimVrg {
                        spec: spec(role, None, 1),
                        kop: KubeObjectProtectionStatus::default(),
                    });
                }
            }
            Op::CaptureNow(c) => {
                if let Some(vrg) = self.clusters[c].vrg.as_mut() {
                    vrg.spec.capture_now = true;
                }
            }
            Op::FailRestores { cluster, on } => self.clusters[cluster].fail_restores = on,
            Op::FailProfile { cluster, profile } => {
                self.clusters[cluster].failing_profile = profile
            }
            Op::StorageLoses(c) => {
                let id = &self.clusters[c].id;
                let listed = |s: &Stored| {
                    self.clusters.iter().any(|other| {
                        matches!((other.last_synced, s.completed_at), (Some(t), Some(c)) if t > at(c))
                    })
                };
                let newest = self
                    .bucket
                    .values()
                    .filter(|s| s.key.cluster == *id && !listed(s))
                    .map(|s| s.key.clone())
                    .max();
                self.bucket.retain(|_, s| Some(&s.key) != newest.as_ref());
            }
            Op::Crash(c) => {
                let before = self.clusters[c].vrg.clone();
                self.reconcile(c)?;
                if let (Some(vrg), Some(before)) = (self.clusters[c].vrg.as_mut(), before) {
                    vrg.kop = before.kop;
                }
            }
        }
        Ok(())
    }

    fn reconcile(&mut self, c: usize) -> Result<(), String> {
        let world = self.world(c);
        let Some(mut vrg) = self.clusters[c].vrg.clone() else {
            return Ok(());
        };
        let decision = decide(&vrg.spec, &world, &mut vrg.kop);
        for name in &decision.rotate {
            let writer = self.clusters[c]
                .objects
                .get(name)
                .map(|l| l.stored.key.cluster.clone());
            if writer.as_deref() != Some(&self.clusters[c].id) {
                return Err(format!(
                    "{} asked to delete {name}, written by {writer:?}",
                    self.clusters[c].id
                ));
            }
            self.clusters[c].deletions.insert(name.clone());
        }
        match decision.step {
            Step::Drive => self.drive(c, &mut vrg, &world, false),
            Step::Stop => self.drive(c, &mut vrg, &world, true),
            Step::Recover(source) => {
                if vrg.spec.action == Some(VrgAction::Failover)
                    && let Some(floor) = &self.clusters[c].failover_floor
                    && source.capture.key < *floor
                    && self.still_restorable(floor)
                {
                    return Err(format!(
                        "{} failed over to {:?}, older than {floor:?}, the newest in storage when asked",
                        self.clusters[c].id, source.capture.key
                    ));
                }
                vrg.kop.run = Some(run(
                    "restore",
                    source.capture.key.number,
                    self.now,
                    &vrg.spec,
                    Some(&source),
                    false,
                ));
            }
            Step::Capture {
                number,
                epoch,
                final_capture,
            } => {
                if vrg.spec.capture_now {
                    vrg.spec.capture_now = false;
                }
                let id = self.clusters[c].id.clone();
                for group in GROUPS {
                    for profile in PROFILES {
                        let name = ObjectIdentity::backup("app", "vrg", number, group, profile)
                            .written_by(&id, epoch)
                            .name();
                        if let Some(other) = self.written.get(&name)
                            && *other != id
                        {
                            return Err(format!("{id} wrote {name}, already written by {other}"));
                        }
                        self.written.insert(name.clone(), id.clone());
                        self.clusters[c].objects.entry(name).or_insert(Local {
                            stored: Stored {
                                key: CaptureKey {
                                    epoch,
                                    number,
                                    cluster: id.clone(),
                                },
                                final_capture,
                                group: group.into(),
                                profile: profile.into(),
                                completed_at: None,
                            },
                            state: BackupState::Running,
                        });
                    }
                }
                self.stats.final_captures += usize::from(final_capture);
                vrg.kop.run = Some(run(
                    "backup",
                    number,
                    self.now,
                    &vrg.spec,
                    None,
                    final_capture,
                ));
            }
            Step::Fenced { .. } => self.stats.fences += 1,
            Step::Wait { .. } | Step::Secondary => {}
        }
        self.clusters[c].vrg = Some(vrg);
        Ok(())
    }

    fn still_restorable(&self, key: &CaptureKey) -> bool {
        self.bucket_captures()
            .iter()
            .any(|c| c.key == *key && c.restore_sources(&groups(), &profiles()).is_some())
    }

    /// Advances the run in progress as the engine would, and concludes it once it ends.
    /// Drives the run; `stop`: it was halted, and ends `Failed` once nothing it started runs.
    fn drive(&mut self, c: usize, vrg: &mut SimVrg, world: &World, stop: bool) {
        let Some(run) = vrg.kop.run.as_mut() else {
            return;
        };
        let mut outcome = Outcome::default();
        if run.workflow == "backup" {
            let mine: Vec<&Local> = self.clusters[c]
                .objects
                .values()
                .filter(|l| {
                    l.stored.key.cluster == self.clusters[c].id
                        && l.stored.key.number == run.capture
                })
                .collect();
            if mine.iter().any(|l| l.state == BackupState::Running) {
                return;
            }
            let complete = |p: &str| {
                GROUPS.iter().all(|g| {
                    mine.iter().any(|l| {
                        l.stored.group == *g
                            && l.stored.profile == p
                            && l.state == BackupState::Completed
                    })
                })
            };
            run.phase = if PROFILES.iter().all(|p| complete(p)) {
                RunPhase::Succeeded
            } else if PROFILES.iter().any(|p| complete(p)) {
                RunPhase::PartiallySucceeded
            } else {
                RunPhase::Failed
            };
        } else {
            let missing = run
                .sources
                .values()
                .find(|name| !self.bucket.contains_key(*name));
            run.phase = match missing {
                Some(name) => {
                    outcome.unreadable = Some(format!("NoSuchKey: backups/{name}"));
                    RunPhase::Failed
                }
                None if self.clusters[c].fail_restores => RunPhase::Failed,
                None => RunPhase::Succeeded,
            };
        }
        if stop {
            run.phase = RunPhase::Failed;
        }
        run.end_time = Some(Time(at(self.now)));
        let restored = run.workflow == "restore" && run.phase == RunPhase::Succeeded;
        self.stats.recoveries += usize::from(restored);
        self.stats.unreadable += usize::from(outcome.unreadable.is_some());
        conclude(&vrg.spec, world, &mut vrg.kop, &outcome);
    }

    /// Velero finishes this cluster's Backups in progress and uploads the completed ones.
    fn velero_finishes(&mut self, c: usize) {
        let failing = self.clusters[c].failing_profile.map(|p| PROFILES[p]);
        let cluster = &mut self.clusters[c];
        for (name, local) in cluster.objects.iter_mut() {
            if local.state != BackupState::Running {
                continue;
            }
            if failing == Some(local.stored.profile.as_str()) {
                local.state = BackupState::Failed;
            } else {
                local.state = BackupState::Completed;
                local.stored.completed_at = Some(self.now);
                self.bucket.insert(name.clone(), local.stored.clone());
            }
        }
    }

    /// Velero processes this cluster's DeleteBackupRequests.
    fn velero_deletes(&mut self, c: usize) -> Result<(), String> {
        let before = self.bucket_captures();
        let newest = newest_restorable(&before);
        let newest_in: Vec<Option<CaptureKey>> = PROFILES
            .iter()
            .map(|p| newest_complete_in(&before, p))
            .collect();
        let requests = std::mem::take(&mut self.clusters[c].deletions);
        self.stats.deletions += requests.len();
        for name in requests {
            self.bucket.remove(&name);
            self.clusters[c].objects.remove(&name);
        }
        let after = self.bucket_captures();
        if newest_restorable(&after) < newest {
            return Err(format!(
                "the newest restorable capture {newest:?} was deleted (now {:?})",
                newest_restorable(&after)
            ));
        }
        for (p, floor) in PROFILES.iter().zip(newest_in) {
            if newest_complete_in(&after, p) < floor {
                return Err(format!(
                    "the newest complete copy in {p} ({floor:?}) was deleted"
                ));
            }
        }
        Ok(())
    }

    /// Velero's backup sync: the bucket's Backups appear here, and completed Backups gone from
    /// the bucket disappear.
    fn sync(&mut self, c: usize) {
        let cluster = &mut self.clusters[c];
        cluster
            .objects
            .retain(|name, l| l.state != BackupState::Completed || self.bucket.contains_key(name));
        for (name, stored) in &self.bucket {
            cluster.objects.entry(name.clone()).or_insert(Local {
                stored: stored.clone(),
                state: BackupState::Completed,
            });
        }
        cluster.last_synced = Some(at(self.now));
    }
}

fn newest_restorable(captures: &[Capture]) -> Option<CaptureKey> {
    captures::newest_restorable(captures, &groups(), &profiles()).map(|s| s.capture.key)
}

fn newest_complete_in(captures: &[Capture], profile: &str) -> Option<CaptureKey> {
    captures
        .iter()
        .filter(|c| c.complete_in(&groups(), profile))
        .map(|c| c.key.clone())
        .max()
}

fn run(
    workflow: &str,
    capture: i64,
    now: i64,
    spec: &Vrg,
    source: Option<&Source>,
    final_capture: bool,
) -> WorkflowRun {
    WorkflowRun {
        id: format!("{workflow}-{capture}-g{}", spec.generation),
        workflow: workflow.into(),
        capture,
        phase: RunPhase::Running,
        start_time: Time(at(now)),
        end_time: None,
        steps: vec![],
        message: None,
        start_generation: Some(spec.generation),
        epoch: None,
        final_capture,
        source: source.map(|s| s.capture.identifier()),
        sources: source.map(|s| s.backups.clone()).unwrap_or_default(),
        plan: None,
        plan_changed: false,
    }
}

fn check(ops: &[Op]) -> Result<Model, String> {
    let mut model = Model::new();
    for (i, op) in ops.iter().enumerate() {
        model
            .apply(op)
            .map_err(|e| format!("after {i} steps, at {op:?}: {e}"))?;
    }
    Ok(model)
}

proptest! {
    // PROPTEST_CASES runs more (e.g. 100000 before a release).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_history_loses_the_last_good_capture(ops in proptest::collection::vec(op(), 1..120)) {
        if let Err(e) = check(&ops) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Random histories reach every interesting state often enough for the properties to mean
/// something: recoveries, fallbacks past unreadable captures, fences, final captures, deletions.
#[test]
fn random_histories_reach_the_interesting_states() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = proptest::collection::vec(op(), 100..120);
    let mut reached = [0usize; 5];
    for _ in 0..2000 {
        let ops = strategy.new_tree(&mut runner).expect("a history").current();
        let stats = check(&ops).expect("no property is broken").stats;
        for (n, v) in reached.iter_mut().zip([
            stats.recoveries,
            stats.unreadable,
            stats.fences,
            stats.final_captures,
            stats.deletions,
        ]) {
            *n += usize::from(v > 0);
        }
    }
    let [recoveries, unreadable, fences, finals, deletions] = reached;
    eprintln!(
        "of 2000 histories, reached [recovery, unreadable, fence, final, deletion]: {reached:?}"
    );
    assert!(recoveries > 100, "histories with a recovery: {reached:?}");
    assert!(
        unreadable >= 2,
        "histories with an unreadable capture: {reached:?}"
    );
    assert!(fences > 100, "histories with a fence: {reached:?}");
    assert!(finals > 100, "histories with a final capture: {reached:?}");
    assert!(deletions > 20, "histories with deletions: {reached:?}");
}

/// A long, ordinary history: protect, fail over, relocate back, fail over again. Also proves
/// the model reaches the interesting states (recoveries happen and captures rotate).
#[test]
fn a_whole_lifecycle_recovers_each_time_and_rotates() {
    use Op::*;
    let settle = |c: usize| {
        vec![
            Reconcile(c),
            VeleroFinishes(c),
            Reconcile(c),
            Reconcile(c),
            VeleroDeletes(c),
        ]
    };
    let mut ops = vec![];
    // East captures three times.
    for _ in 0..3 {
        ops.extend(settle(0));
        ops.push(Tick);
        ops.push(Tick);
        ops.push(Tick);
    }
    // East is lost; west fails over after a sync.
    ops.extend([
        Failover(1),
        Reconcile(1),
        Tick,
        Sync(1),
        Reconcile(1),
        Reconcile(1),
    ]);
    ops.extend(settle(1));
    // Relocate back to east: west hands over with a final capture, east waits for it.
    ops.extend([
        Demote {
            cluster: 0,
            relocate: false,
        },
        Reconcile(0),
    ]);
    ops.extend([
        Relocate(0),
        Reconcile(0),
        Demote {
            cluster: 1,
            relocate: true,
        },
    ]);
    ops.extend(settle(1));
    ops.extend([Reconcile(0), Sync(0), Reconcile(0), Reconcile(0)]);
    ops.extend(settle(0));
    // And fail over to west again.
    ops.extend([
        Demote {
            cluster: 1,
            relocate: false,
        },
        Reconcile(1),
        Failover(1),
        Reconcile(1),
        Tick,
        Sync(1),
    ]);
    ops.extend([Reconcile(1), Reconcile(1)]);
    ops.extend(settle(1));
    let model = check(&ops).expect("no property is broken");
    let west = model.clusters[1].vrg.as_ref().unwrap();
    let east = model.clusters[0].vrg.as_ref().unwrap();
    let recovered = |v: &SimVrg| v.kop.recovery.as_ref().map(|r| r.phase);
    assert_eq!(
        recovered(west),
        Some(crate::api::vrg::RecoveryPhase::Recovered),
        "{:#?}",
        west.kop
    );
    assert_eq!(
        west.kop.epoch,
        Some(4),
        "east 1 -> west 2 -> east 3 -> west 4"
    );
    assert_eq!(east.kop.final_capture_generation, None);
    let bucket = model.bucket_captures();
    assert!(
        bucket
            .iter()
            .any(|c| c.key.cluster == "west" && c.key.epoch == 4),
        "{bucket:#?}"
    );
    // East rotated its first captures away once newer ones completed.
    assert!(
        !bucket
            .iter()
            .any(|c| c.key.cluster == "east" && c.key.number == 1)
    );
}
