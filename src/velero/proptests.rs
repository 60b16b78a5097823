//! Property tests: whatever the input, names are valid and short, labels are valid, identities
//! round-trip, and different identities get different names.

use proptest::prelude::*;

use super::names::*;

/// Anything from plausible Kubernetes names to long Unicode junk.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]([a-z0-9.-]{0,60}[a-z0-9])?",
        "[a-zA-Z0-9_.-]{0,300}",
        ".{0,80}",
        any::<String>(),
    ]
}

fn identity() -> impl Strategy<Value = ObjectIdentity> {
    (
        text(),
        text(),
        any::<bool>(),
        text(),
        any::<i64>(),
        text(),
        proptest::option::of(text()),
        any::<u32>(),
        (proptest::option::of(text()), any::<i64>(), any::<bool>()),
    )
        .prop_map(
            |(
                ns,
                name,
                backup,
                run_id,
                capture,
                group,
                profile,
                attempt,
                (cluster, epoch, final_capture),
            )| ObjectIdentity {
                vrg_namespace: ns,
                vrg_name: name,
                workflow: if backup {
                    Workflow::Backup
                } else {
                    Workflow::Restore
                },
                run_id,
                capture,
                group,
                profile,
                attempt,
                cluster,
                epoch,
                final_capture,
            },
        )
}

fn valid_name(name: &str) -> bool {
    is_dns_subdomain(name) && name.len() <= MAX_NAME && is_label_value(name)
}

proptest! {
    #[test]
    fn names_are_valid_and_short(id in identity()) {
        let name = id.name();
        prop_assert!(valid_name(&name), "{name:?}");
        let delete = delete_request_name_attempt(&name, id.attempt);
        prop_assert!(valid_name(&delete), "{delete:?}");
        let delete = delete_request_name(&id.vrg_name);
        prop_assert!(valid_name(&delete), "{delete:?}");
    }

    #[test]
    fn labels_are_valid_and_round_trip(id in identity()) {
        let labels = labels(&id);
        for (key, value) in &labels {
            let name = key.strip_prefix(LABEL_PREFIX).unwrap_or_default();
            prop_assert!(!name.is_empty() && is_label_value(name), "{key}");
            prop_assert!(is_label_value(value), "{key}={value:?}");
        }
        let owner = Some((id.vrg_namespace.clone(), id.vrg_name.clone()));
        prop_assert_eq!(owner_from(&labels, &annotations(&id)), owner.clone());
        if is_label_value(&id.vrg_namespace) && is_label_value(&id.vrg_name) {
            prop_assert_eq!(owner_of(&labels), owner);
        }
        let capture = capture_of(&labels);
        let epoch_ok = id.cluster.is_none() || id.epoch >= 0;
        if id.workflow == Workflow::Backup && id.capture >= 0 && id.profile.is_some() && epoch_ok {
            let c = capture.expect("a backup's labels describe its capture");
            prop_assert_eq!((c.number, c.slot, c.attempt), (id.capture, id.capture % 2, id.attempt));
            prop_assert_eq!(c.final_capture, id.final_capture);
            if let Some(cluster) = &id.cluster {
                prop_assert_eq!((c.cluster.clone(), c.epoch), (label_value(cluster), id.epoch));
            }
            prop_assert!(c.is_group(&id.group));
            prop_assert!(c.is_profile(id.profile.as_deref().unwrap_or_default()));
        } else {
            prop_assert!(capture.is_none() || id.workflow == Workflow::Backup);
        }
    }

    #[test]
    fn changing_any_named_field_changes_the_name(id in identity(), field in 0..6usize, other in text(), n in any::<i64>()) {
        let mut changed = id.clone();
        match (field, id.workflow) {
            (0, _) => changed.vrg_namespace = other,
            (1, _) => changed.vrg_name = other,
            (2, _) => changed.group = other,
            (3, Workflow::Backup) => changed.capture = n,
            (3, Workflow::Restore) => changed.run_id = other,
            (4, Workflow::Backup) => changed.profile = Some(other),
            (4, Workflow::Restore) => changed.workflow = Workflow::Backup,
            _ => changed.attempt = id.attempt.wrapping_add(1),
        }
        // A backup's missing profile names like an empty one.
        let key = |i: &ObjectIdentity| ObjectIdentity { profile: Some(i.profile.clone().unwrap_or_default()), ..i.clone() };
        let unchanged = key(&changed) == key(&id);
        prop_assert_eq!(changed.name() == id.name(), unchanged, "{:?} vs {:?}", id, changed);
    }

    #[test]
    fn label_value_is_always_valid(s in text()) {
        let v = label_value(&s);
        prop_assert!(is_label_value(&v));
        prop_assert_eq!(v == s, is_label_value(&s));
    }
}

#[test]
fn truncated_names_differ_when_identities_differ() {
    // Many identities that share a long readable prefix: no two names may coincide.
    let base = "p".repeat(80);
    let names: std::collections::BTreeSet<String> = (0..2000)
        .map(|i| backup_name("ns", &format!("{base}{i}"), 1, "g", "p"))
        .collect();
    assert_eq!(names.len(), 2000);
}
