//! `kubectl vrg list` and `kubectl vrg captures`: one row per VRG or per capture, aligned as
//! kubectl aligns its tables. Pure.

use k8s_openapi::jiff::Timestamp;

use super::format::{ago, time};
use crate::api::VolumeReplicationGroup;
use crate::api::vrg::ReplicationState;
use crate::lifecycle::{BackupState, Capture};

/// Columns padded to their widest cell, separated by three spaces, as `kubectl get` prints.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                let pad = widths[i] - cell.chars().count() + 3;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

pub const LIST_HEADER: [&str; 6] = ["NAMESPACE", "NAME", "STATE", "PROTECTED", "RPO", "STEP"];

/// A VRG's row: where it stands, whether it is protected, the age of its newest restorable
/// capture (the RPO a user cares about) and the step it is on.
pub fn list_row(vrg: &VolumeReplicationGroup, now: Timestamp) -> Vec<String> {
    let kop = vrg
        .status
        .as_ref()
        .and_then(|s| s.kube_object_protection.as_ref());
    let mut state = match vrg.spec.replication_state {
        ReplicationState::Primary => "primary".to_owned(),
        ReplicationState::Secondary => "secondary".to_owned(),
    };
    if let Some(action) = vrg.spec.action {
        state = format!("{state}/{}", crate::lifecycle::action_name(action));
    }
    let protected = vrg
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "ClusterDataProtected")
        .map(|c| match c.status.as_str() {
            "True" => "yes".to_owned(),
            _ => format!("no ({})", c.reason),
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let rpo = kop
        .and_then(|k| k.capture_to_recover_from.as_ref())
        .and_then(|c| c.end_time.as_ref())
        .map(|t| ago(t.0, now))
        .unwrap_or_else(|| "none".to_owned());
    let step = kop
        .and_then(|k| k.current_step.clone())
        .unwrap_or_else(|| "-".to_owned());
    vec![
        vrg.metadata.namespace.clone().unwrap_or_default(),
        vrg.metadata.name.clone().unwrap_or_default(),
        state,
        protected,
        rpo,
        step,
    ]
}

pub const CAPTURES_HEADER: [&str; 7] = [
    "CAPTURE", "CLUSTER", "LINEAGE", "ENDED", "SLOT", "COMPLETE", "BACKUPS",
];

/// The captures newest first: `needed` groups completed in one of `profiles` make a capture
/// complete, as recovery judges it.
pub fn capture_rows(
    captures: &[Capture],
    needed: &[String],
    profiles: &[String],
    now: Timestamp,
) -> Vec<Vec<String>> {
    let mut sorted: Vec<&Capture> = captures.iter().collect();
    sorted.sort_by(|a, b| b.key.cmp(&a.key));
    sorted
        .into_iter()
        .map(|c| {
            let complete = c.restore_sources(needed, profiles).is_some();
            let mut backups: Vec<String> = c
                .backups
                .iter()
                .map(|b| format!("{}@{}={}", b.group, b.profile, state(b.state)))
                .collect();
            backups.sort();
            let ended = c
                .end_time
                .map(|t| format!("{} ({} ago)", time(t), ago(t, now)))
                .unwrap_or_else(|| "-".to_owned());
            let mut number = c.key.number.to_string();
            if c.final_capture {
                number.push_str(" (final)");
            }
            vec![
                number,
                if c.key.cluster.is_empty() {
                    "-".to_owned()
                } else {
                    c.key.cluster.clone()
                },
                c.key.epoch.to_string(),
                ended,
                (c.key.number % 2).to_string(),
                if complete { "yes" } else { "no" }.to_owned(),
                backups.join(", "),
            ]
        })
        .collect()
}

fn state(s: BackupState) -> &'static str {
    match s {
        BackupState::Running => "Running",
        BackupState::Completed => "Completed",
        BackupState::Failed => "Failed",
        BackupState::Deleting => "Deleting",
    }
}
