//! Deterministic names, labels and selectors of the Velero objects a VRG owns.
//!
//! A restarted operator must find what it created, so every name is a pure function of the
//! object's identity. Velero copies Backup and Restore names into label values
//! (`velero.io/backup-name`), so every name here stays within 63 characters.
//!
//! A name is `<readable parts>-<hash>`: the readable parts are lowercased, every other character
//! becomes `-`, and the longest parts are cut first when they do not fit. The hash (10 hex chars
//! of sha256 over the full, unshortened identity) is always appended, because the readable part
//! alone is ambiguous (`a-b`+`c` vs `a`+`b-c`), lossy (`App_DB` vs `app-db`) and may be truncated.
//! Changing this scheme orphans every object created before the change: the golden tests pin it.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Longest Backup/Restore name: Velero puts it in a label value.
pub const MAX_NAME: usize = 63;
/// Longest label value.
pub const MAX_LABEL_VALUE: usize = 63;
const NAME_HASH_LEN: usize = 10;
/// The VRG key selects a VRG's objects across clusters, so it gets more bits than a name suffix.
const KEY_HASH_LEN: usize = 20;

/// Prefix of every label and annotation key this module sets.
pub const LABEL_PREFIX: &str = "vrg.ramendr.openshift.io/";
pub const LABEL_VRG_NAMESPACE: &str = "vrg.ramendr.openshift.io/vrg-namespace";
pub const LABEL_VRG_NAME: &str = "vrg.ramendr.openshift.io/vrg-name";
/// Hash of the VRG's namespace and name; independent of its uid, so the other cluster's Backups
/// (made visible by Velero's backup sync) match the same VRG here.
pub const LABEL_VRG_KEY: &str = "vrg.ramendr.openshift.io/vrg-key";
pub const LABEL_WORKFLOW: &str = "vrg.ramendr.openshift.io/workflow";
pub const LABEL_RUN: &str = "vrg.ramendr.openshift.io/run";
pub const LABEL_CAPTURE: &str = "vrg.ramendr.openshift.io/capture";
pub const LABEL_SLOT: &str = "vrg.ramendr.openshift.io/slot";
pub const LABEL_GROUP: &str = "vrg.ramendr.openshift.io/group";
pub const LABEL_PROFILE: &str = "vrg.ramendr.openshift.io/s3-profile";
pub const LABEL_ATTEMPT: &str = "vrg.ramendr.openshift.io/attempt";
/// The cluster that wrote a capture (its `--cluster-id`, as a label value).
pub const LABEL_CLUSTER: &str = "vrg.ramendr.openshift.io/cluster";
/// The lineage a capture was written in (see `status.kubeObjectProtection.epoch`).
pub const LABEL_EPOCH: &str = "vrg.ramendr.openshift.io/epoch";
/// `true` on the final capture a cluster takes when the application is relocated away from it.
pub const LABEL_FINAL: &str = "vrg.ramendr.openshift.io/final";
/// Annotation carrying the Recipe a capture was taken with, so a recovery can run its restore
/// workflow where that Recipe object does not exist.
pub const ANNOTATION_RECIPE: &str = "vrg.ramendr.openshift.io/recipe";

/// Selects every Velero object this operator labelled (for a watch mapped with [`owner_from`]).
pub const MANAGED_SELECTOR: &str = LABEL_VRG_KEY;

/// Which workflow created an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workflow {
    Backup,
    Restore,
}

impl Workflow {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backup => "backup",
            Self::Restore => "restore",
        }
    }
}

/// Everything that identifies one Velero Backup or Restore of a VRG.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectIdentity {
    pub vrg_namespace: String,
    pub vrg_name: String,
    pub workflow: Workflow,
    /// The workflow run's id (`backup-<capture>`, `restore-<n>`).
    pub run_id: String,
    /// Backup: the capture written. Restore: the capture restored.
    pub capture: i64,
    pub group: String,
    /// Backup: the s3 profile written to. Restore: the profile whose Backup is restored, if known.
    pub profile: Option<String>,
    /// 0 for the first attempt; a retry after a Velero restart gets a new name.
    pub attempt: u32,
    /// Backup: the cluster writing it. Part of the name, so two clusters never write the same
    /// Backup name (Velero refuses a name that already exists in object storage).
    pub cluster: Option<String>,
    /// Backup: the writer's lineage.
    pub epoch: i64,
    /// Backup: part of a relocation's final capture.
    pub final_capture: bool,
}

impl ObjectIdentity {
    /// The Backup of `group` in capture `capture` to `profile`, first attempt.
    pub fn backup(vrg_ns: &str, vrg_name: &str, capture: i64, group: &str, profile: &str) -> Self {
        Self {
            vrg_namespace: vrg_ns.to_owned(),
            vrg_name: vrg_name.to_owned(),
            workflow: Workflow::Backup,
            run_id: format!("backup-{capture}"),
            capture,
            group: group.to_owned(),
            profile: Some(profile.to_owned()),
            attempt: 0,
            cluster: None,
            epoch: 0,
            final_capture: false,
        }
    }

    /// The Restore of `group` in run `run_id`, from capture `capture`, first attempt.
    pub fn restore(vrg_ns: &str, vrg_name: &str, run_id: &str, capture: i64, group: &str) -> Self {
        Self {
            vrg_namespace: vrg_ns.to_owned(),
            vrg_name: vrg_name.to_owned(),
            workflow: Workflow::Restore,
            run_id: run_id.to_owned(),
            capture,
            group: group.to_owned(),
            profile: None,
            attempt: 0,
            cluster: None,
            epoch: 0,
            final_capture: false,
        }
    }

    pub fn with_attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// A Backup written by `cluster` in lineage `epoch`.
    pub fn written_by(mut self, cluster: &str, epoch: i64) -> Self {
        self.cluster = Some(cluster.to_owned());
        self.epoch = epoch;
        self
    }

    /// A Backup of a relocation's final capture.
    pub fn final_capture(mut self, final_capture: bool) -> Self {
        self.final_capture = final_capture;
        self
    }

    /// Capture slot (0 or 1), also for negative numbers.
    pub fn slot(&self) -> i64 {
        self.capture.rem_euclid(2)
    }

    /// The object's name: [`backup_name_attempt`] or [`restore_name_attempt`].
    pub fn name(&self) -> String {
        let (ns, name, group) = (&self.vrg_namespace, &self.vrg_name, &self.group);
        match self.workflow {
            Workflow::Backup => {
                let profile = self.profile.as_deref().unwrap_or_default();
                match &self.cluster {
                    None => {
                        backup_name_attempt(ns, name, self.capture, group, profile, self.attempt)
                    }
                    Some(cluster) => {
                        let capture = self.capture.to_string();
                        // The cluster is hashed, not shown: its id is long and labels name it.
                        with_attempt(
                            &["backup", ns, name, &capture, group, profile, "", cluster],
                            self.attempt,
                        )
                    }
                }
            }
            Workflow::Restore => restore_name_attempt(ns, name, &self.run_id, group, self.attempt),
        }
    }
}

/// `<ns>-<vrg>-<capture>-<group>-<profile>-<hash>`, e.g. `app-db-7-config-s3-east-<hash>`.
pub fn backup_name(
    vrg_ns: &str,
    vrg_name: &str,
    capture: i64,
    group: &str,
    profile: &str,
) -> String {
    backup_name_attempt(vrg_ns, vrg_name, capture, group, profile, 0)
}

/// [`backup_name`] of a retry: attempt 0 is the base name, attempt N adds `-rN`.
pub fn backup_name_attempt(
    vrg_ns: &str,
    vrg_name: &str,
    capture: i64,
    group: &str,
    profile: &str,
    attempt: u32,
) -> String {
    let capture = capture.to_string();
    with_attempt(
        &["backup", vrg_ns, vrg_name, &capture, group, profile],
        attempt,
    )
}

/// `<ns>-<vrg>-<run id>-<group>-<hash>`, e.g. `app-db-restore-2-config-<hash>`.
pub fn restore_name(vrg_ns: &str, vrg_name: &str, run_id: &str, group: &str) -> String {
    restore_name_attempt(vrg_ns, vrg_name, run_id, group, 0)
}

/// [`restore_name`] of a retry: attempt 0 is the base name, attempt N adds `-rN`.
pub fn restore_name_attempt(
    vrg_ns: &str,
    vrg_name: &str,
    run_id: &str,
    group: &str,
    attempt: u32,
) -> String {
    with_attempt(&["restore", vrg_ns, vrg_name, run_id, group], attempt)
}

/// `<backup name>-delete-<hash>`: one DeleteBackupRequest per Backup.
pub fn delete_request_name(backup_name: &str) -> String {
    delete_request_name_attempt(backup_name, 0)
}

/// [`delete_request_name`] of a retry (a processed request with errors cannot be re-created).
pub fn delete_request_name_attempt(backup_name: &str, attempt: u32) -> String {
    // Only the backup name is readable; `delete` marks the kind.
    with_attempt(&["delete", backup_name, "delete"], attempt)
}

/// Composes a name from `identity`, whose first part (the object kind) is hashed but not shown;
/// attempt 0 adds nothing, so it is the base name.
fn with_attempt(identity: &[&str], attempt: u32) -> String {
    let retry = format!("r{attempt}");
    let mut identity = identity.to_vec();
    if attempt > 0 {
        identity.push(&retry);
    }
    compose(identity.get(1..).unwrap_or_default(), &identity)
}

/// `<readable>-<hash of identity>`, at most [`MAX_NAME`] characters.
fn compose(readable: &[&str], identity: &[&str]) -> String {
    let hash = digest_hex(identity, NAME_HASH_LEN);
    let parts: Vec<String> = readable
        .iter()
        .map(|p| sanitize(p))
        .filter(|p| !p.is_empty())
        .collect();
    let readable = shorten(&parts, MAX_NAME - NAME_HASH_LEN - 1);
    if readable.is_empty() {
        hash
    } else {
        format!("{readable}-{hash}")
    }
}

/// Lowercase ASCII alphanumerics; runs of anything else become one `-`; no `-` at either end.
fn sanitize(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for c in part.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(out.trim_end_matches('-').len());
    out
}

/// Joins `parts` with `-` within `budget` characters, cutting the longest parts first so that
/// short ones (the capture number) stay whole. Parts are sanitized (ASCII), so slicing is safe.
fn shorten(parts: &[String], budget: usize) -> String {
    let room = budget.saturating_sub(parts.len().saturating_sub(1));
    let fits = |cap: usize| parts.iter().map(|p| p.len().min(cap)).sum::<usize>() <= room;
    let mut cap = parts.iter().map(String::len).max().unwrap_or(0);
    while cap > 0 && !fits(cap) {
        cap -= 1;
    }
    let cut: Vec<&str> = parts
        .iter()
        .map(|p| {
            p.get(..p.len().min(cap))
                .unwrap_or_default()
                .trim_end_matches('-')
        })
        .filter(|p| !p.is_empty())
        .collect();
    cut.join("-")
}

/// A short, stable digest of `text` (10 hex chars of sha256): tells texts apart in names and keys.
pub fn short_hash(text: &str) -> String {
    digest_hex(&[text], 10)
}

/// First `len` hex chars of sha256 over the length-prefixed parts (so part boundaries count).
fn digest_hex(parts: &[&str], len: usize) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let mut hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    hex.truncate(len);
    hex
}

/// `value` itself when it is a valid label value, otherwise a readable prefix and its hash.
pub fn label_value(value: &str) -> String {
    if is_label_value(value) {
        value.to_owned()
    } else {
        compose(&[value], &["label", value])
    }
}

/// Kubernetes label value: at most 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends, or empty.
pub fn is_label_value(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    s.len() <= MAX_LABEL_VALUE
        && s.chars().all(ok)
        && s.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

/// DNS-1123 subdomain: at most 253 chars, dot-separated labels of `[a-z0-9-]` that start and end
/// alphanumeric.
pub fn is_dns_subdomain(s: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !s.is_empty() && s.len() <= 253 && s.split('.').all(label_ok)
}

/// The uid-independent identity of a VRG, as used in [`LABEL_VRG_KEY`].
pub fn vrg_key(vrg_ns: &str, vrg_name: &str) -> String {
    digest_hex(&["vrg", vrg_ns, vrg_name], KEY_HASH_LEN)
}

/// Label selector for every Velero object of one VRG.
pub fn vrg_selector(vrg_ns: &str, vrg_name: &str) -> String {
    format!("{LABEL_VRG_KEY}={}", vrg_key(vrg_ns, vrg_name))
}

/// Label selector for the Backups of one capture of one VRG (all groups, profiles, attempts).
pub fn capture_selector(vrg_ns: &str, vrg_name: &str, capture: i64) -> String {
    format!(
        "{},{LABEL_WORKFLOW}=backup,{LABEL_CAPTURE}={}",
        vrg_selector(vrg_ns, vrg_name),
        label_value(&capture.to_string())
    )
}

/// Labels of the object `id` names; every value is a valid label value.
pub fn labels(id: &ObjectIdentity) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut put = |k: &str, v: &str| labels.insert(k.to_owned(), label_value(v));
    put(LABEL_VRG_NAMESPACE, &id.vrg_namespace);
    put(LABEL_VRG_NAME, &id.vrg_name);
    put(LABEL_VRG_KEY, &vrg_key(&id.vrg_namespace, &id.vrg_name));
    put(LABEL_WORKFLOW, id.workflow.as_str());
    put(LABEL_RUN, &id.run_id);
    put(LABEL_CAPTURE, &id.capture.to_string());
    put(LABEL_SLOT, &id.slot().to_string());
    put(LABEL_GROUP, &id.group);
    if let Some(profile) = &id.profile {
        put(LABEL_PROFILE, profile);
    }
    put(LABEL_ATTEMPT, &id.attempt.to_string());
    if let Some(cluster) = &id.cluster {
        put(LABEL_CLUSTER, cluster);
        put(LABEL_EPOCH, &id.epoch.to_string());
    }
    if id.final_capture {
        put(LABEL_FINAL, "true");
    }
    labels
}

/// The unshortened VRG namespace and name, for when labels had to hash them (names > 63 chars).
pub fn annotations(id: &ObjectIdentity) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_VRG_NAMESPACE.to_owned(), id.vrg_namespace.clone()),
        (LABEL_VRG_NAME.to_owned(), id.vrg_name.clone()),
    ])
}

/// The VRG (namespace, name) named by `labels`, when they hold both verbatim and agree with the
/// VRG key; `None` for foreign objects, tampered labels and hashed (over-long) names.
pub fn owner_of(labels: &BTreeMap<String, String>) -> Option<(String, String)> {
    verified(labels, labels)
}

/// [`owner_of`], falling back to the annotations for names too long for a label value.
pub fn owner_from(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Option<(String, String)> {
    owner_of(labels).or_else(|| verified(annotations, labels))
}

/// Namespace and name from `source`, accepted only when they hash to the key in `labels`.
fn verified(
    source: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> Option<(String, String)> {
    let ns = source.get(LABEL_VRG_NAMESPACE)?;
    let name = source.get(LABEL_VRG_NAME)?;
    (labels.get(LABEL_VRG_KEY)? == &vrg_key(ns, name)).then(|| (ns.clone(), name.clone()))
}

/// One Backup of a capture, as its labels describe it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CaptureRef {
    pub number: i64,
    pub slot: i64,
    /// Label value of the group: compare with [`CaptureRef::is_group`].
    pub group: String,
    /// Label value of the s3 profile: compare with [`CaptureRef::is_profile`].
    pub profile: String,
    pub attempt: u32,
    /// Label value of the writer's cluster id; empty for captures written before clusters were
    /// recorded.
    pub cluster: String,
    /// 0 for captures written before lineages were recorded.
    pub epoch: i64,
    pub final_capture: bool,
}

impl CaptureRef {
    /// Whether this Backup belongs to recipe group `group` (compared as label values).
    pub fn is_group(&self, group: &str) -> bool {
        self.group == label_value(group)
    }

    pub fn is_profile(&self, profile: &str) -> bool {
        self.profile == label_value(profile)
    }
}

/// The capture a Backup's labels describe; `None` unless it is a backup-workflow object with a
/// consistent capture number and slot, a group and a profile. Pair with [`owner_from`].
pub fn capture_of(labels: &BTreeMap<String, String>) -> Option<CaptureRef> {
    if labels.get(LABEL_WORKFLOW)? != Workflow::Backup.as_str() {
        return None;
    }
    let number: i64 = labels.get(LABEL_CAPTURE)?.parse().ok()?;
    let slot: i64 = labels.get(LABEL_SLOT)?.parse().ok()?;
    if slot != number.rem_euclid(2) {
        return None;
    }
    let attempt = match labels.get(LABEL_ATTEMPT) {
        Some(a) => a.parse().ok()?,
        None => 0,
    };
    let epoch = match labels.get(LABEL_EPOCH) {
        Some(e) => e.parse().ok()?,
        None => 0,
    };
    Some(CaptureRef {
        number,
        slot,
        group: labels.get(LABEL_GROUP)?.clone(),
        profile: labels.get(LABEL_PROFILE)?.clone(),
        attempt,
        cluster: labels.get(LABEL_CLUSTER).cloned().unwrap_or_default(),
        epoch,
        final_capture: labels.get(LABEL_FINAL).is_some_and(|v| v == "true"),
    })
}

#[cfg(test)]
#[path = "names_tests.rs"]
mod tests;
