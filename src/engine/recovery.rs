//! Choosing what a recovery restores from (SPEC 7): the newest capture of the VRG that completed
//! for every group the restore workflow needs, from the Backups visible in the cluster (Velero's
//! backup sync makes the other cluster's captures visible here).

use std::collections::BTreeMap;

/// One Backup seen in the cluster, reduced to what the choice needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenBackup {
    pub name: String,
    pub capture: i64,
    /// The recipe group the Backup captured.
    pub group: String,
    /// Its s3 profile (storage location).
    pub profile: String,
    pub completed: bool,
}

/// The capture to restore: its number and, for each needed group, the Backup to restore from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub capture: i64,
    pub backups: BTreeMap<String, String>,
}

/// The newest capture that has a completed Backup for every group in `needed`; for each group the
/// Backup of the first profile in `profiles` order that completed.
pub fn newest_complete(
    seen: &[SeenBackup],
    needed: &[String],
    profiles: &[String],
) -> Option<Source> {
    let mut captures: Vec<i64> = seen
        .iter()
        .filter(|b| b.completed)
        .map(|b| b.capture)
        .collect();
    captures.sort_unstable();
    captures.dedup();
    captures.into_iter().rev().find_map(|capture| {
        let backups: Option<BTreeMap<String, String>> = needed
            .iter()
            .map(|group| {
                let candidates = seen
                    .iter()
                    .filter(|b| b.completed && b.capture == capture && &b.group == group);
                let best = candidates.min_by_key(|b| {
                    profiles
                        .iter()
                        .position(|p| p == &b.profile)
                        .unwrap_or(usize::MAX)
                })?;
                Some((group.clone(), best.name.clone()))
            })
            .collect();
        backups.map(|backups| Source { capture, backups })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(name: &str, capture: i64, group: &str, profile: &str, completed: bool) -> SeenBackup {
        SeenBackup {
            name: name.into(),
            capture,
            group: group.into(),
            profile: profile.into(),
            completed,
        }
    }

    fn groups(g: &[&str]) -> Vec<String> {
        g.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn picks_the_newest_capture_complete_for_every_needed_group() {
        let seen = [
            b("c3-a", 3, "a", "east", true),
            b("c3-b", 3, "b", "east", false),
            b("c2-a-west", 2, "a", "west", true),
            b("c2-a-east", 2, "a", "east", true),
            b("c2-b", 2, "b", "west", true),
            b("c1-a", 1, "a", "east", true),
        ];
        let source =
            newest_complete(&seen, &groups(&["a", "b"]), &groups(&["east", "west"])).unwrap();
        assert_eq!(source.capture, 2, "capture 3 is incomplete");
        assert_eq!(
            source.backups["a"], "c2-a-east",
            "the first profile is preferred"
        );
        assert_eq!(source.backups["b"], "c2-b");
    }

    #[test]
    fn nothing_complete_is_nothing_to_restore() {
        assert_eq!(
            newest_complete(&[b("x", 1, "a", "east", false)], &groups(&["a"]), &[]),
            None
        );
        assert_eq!(newest_complete(&[], &groups(&["a"]), &[]), None);
    }
}
