use super::*;

fn valid_name(name: &str) -> bool {
    is_dns_subdomain(name) && name.len() <= MAX_NAME && is_label_value(name)
}

/// The suffix every name ends with.
fn hash_of(name: &str) -> &str {
    name.rsplit('-').next().unwrap_or_default()
}

#[test]
fn golden_names_never_change() {
    // A change here orphans every Velero object created by earlier releases. Checked
    // independently: sha256 over (u64 LE length, bytes) of each identity part.
    assert_eq!(
        backup_name("app", "db", 7, "config", "s3-east"),
        "app-db-7-config-s3-east-52ad33495a"
    );
    assert_eq!(
        restore_name("app", "db", "restore-2", "config"),
        "app-db-restore-2-config-8a9df7894e"
    );
    assert_eq!(
        delete_request_name("app-db-7-config-s3-east-52ad33495a"),
        "app-db-7-config-s3-east-52ad33495a-delete-edc2ac3130"
    );
    assert_eq!(vrg_key("app", "db"), "9f43cda39f242b935e27");
}

#[test]
fn two_clusters_never_write_the_same_backup_name() {
    // Cluster 2 may number a capture like cluster 1's capture that has not synced yet: the
    // writer is part of the name, so the two Backups never meet in object storage.
    let one = ObjectIdentity::backup("app", "db", 7, "config", "s3-east").written_by("east", 1);
    let two = ObjectIdentity::backup("app", "db", 7, "config", "s3-east").written_by("west", 2);
    assert_ne!(one.name(), two.name());
    assert!(
        one.name().starts_with("app-db-7-config-s3-east-"),
        "{}",
        one.name()
    );
    assert!(valid_name(&one.name()));
    assert_eq!(
        one.name(),
        ObjectIdentity::backup("app", "db", 7, "config", "s3-east")
            .written_by("east", 5)
            .name(),
        "the lineage is a label, not part of the name: a retry finds its Backup"
    );
    assert_ne!(
        one.name(),
        ObjectIdentity::backup("app", "db", 7, "config", "s3-east").name(),
        "captures that record their writer never take the name of one that does not"
    );
}

#[test]
fn names_are_deterministic() {
    let a = backup_name("ns", "vrg", 3, "g", "p");
    assert_eq!(a, backup_name("ns", "vrg", 3, "g", "p"));
    assert_eq!(
        restore_name("ns", "vrg", "restore-1", "g"),
        restore_name("ns", "vrg", "restore-1", "g")
    );
    assert_eq!(delete_request_name(&a), delete_request_name(&a));
}

#[test]
fn readable_parts_and_hash() {
    let name = backup_name("app", "db", 7, "config", "s3-east");
    assert!(name.starts_with("app-db-7-config-s3-east-"));
    let hash = hash_of(&name);
    assert_eq!(hash.len(), 10);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(
        restore_name("app", "db", "restore-2", "config").starts_with("app-db-restore-2-config-")
    );
    assert!(delete_request_name(&name).starts_with("app-db-7-config-s3-east-"));
}

#[test]
fn boundary_at_63_characters() {
    // Readable room is 63 - 11 = 52: "aaaa...-b-1-g-p" with 44 a's is exactly 52.
    let ns = "a".repeat(44);
    let fits = backup_name(&ns, "b", 1, "g", "p");
    assert_eq!(fits.len(), 63);
    assert!(fits.starts_with(&format!("{ns}-b-1-g-p-")));
    assert!(valid_name(&fits));
    // One more character: the longest part is cut, the rest stays whole.
    let ns = "a".repeat(45);
    let cut = backup_name(&ns, "b", 1, "g", "p");
    assert!(cut.len() <= 63);
    assert!(cut.starts_with(&format!("{}-b-1-g-p-", "a".repeat(44))));
    assert!(valid_name(&cut));
}

#[test]
fn very_long_names_are_cut_fairly() {
    let long_ns = "n".repeat(63);
    let long_vrg = format!("{}.{}", "v".repeat(120), "w".repeat(132)); // 253 chars
    let long_group = "g".repeat(200);
    let name = backup_name(
        &long_ns,
        &long_vrg,
        123456,
        &long_group,
        "s3-profile-with-a-long-name",
    );
    assert!(valid_name(&name), "{name}");
    assert!(name.starts_with("nnnn"));
    assert!(name.contains("-123456-"), "short parts survive: {name}");
    let name = restore_name(&long_ns, &long_vrg, "restore-99", &long_group);
    assert!(valid_name(&name), "{name}");
    assert!(name.contains("-restore-99-"), "{name}");
}

#[test]
fn invalid_characters_are_replaced_and_still_distinguished() {
    let name = backup_name("App_NS", "My.VRG", 1, "Group Ü!", "S3_Profile");
    assert!(valid_name(&name), "{name}");
    assert!(
        name.starts_with("app-ns-my-vrg-1-group-s3-profile-"),
        "{name}"
    );
    // Same readable part, different identity.
    assert_ne!(
        backup_name("app_ns", "vrg", 1, "g", "p"),
        backup_name("app-ns", "vrg", 1, "g", "p")
    );
    assert_ne!(
        backup_name("APP", "vrg", 1, "g", "p"),
        backup_name("app", "vrg", 1, "g", "p")
    );
}

#[test]
fn empty_and_symbol_only_parts_give_a_hash_only_name() {
    let name = backup_name("", "", 0, "", "");
    assert!(valid_name(&name));
    assert!(name.starts_with("0-"));
    let name = restore_name("---", "...", "", "!!!");
    assert!(valid_name(&name));
    assert_eq!(name.len(), 10);
}

#[test]
fn part_boundaries_are_part_of_the_identity() {
    // Readable parts are identical ("team-a-db-..."), the identities are not.
    let a = backup_name("team-a", "db", 1, "g", "p");
    let b = backup_name("team", "a-db", 1, "g", "p");
    assert_ne!(a, b);
    assert_eq!(
        a.rsplit_once('-').map(|x| x.0),
        b.rsplit_once('-').map(|x| x.0)
    );
}

#[test]
fn names_differing_only_after_truncation_do_not_collide() {
    let base = "x".repeat(100);
    let a = backup_name("ns", &format!("{base}-one"), 1, "g", "p");
    let b = backup_name("ns", &format!("{base}-two"), 1, "g", "p");
    assert_ne!(a, b);
    assert_eq!(
        a.rsplit_once('-').map(|x| x.0),
        b.rsplit_once('-').map(|x| x.0)
    );
    let a = restore_name("ns", "vrg", "restore-1", &format!("{base}a"));
    let b = restore_name("ns", "vrg", "restore-1", &format!("{base}b"));
    assert_ne!(a, b);
}

#[test]
fn every_input_changes_the_name() {
    let base = backup_name("ns", "vrg", 1, "g", "p");
    for other in [
        backup_name("ns2", "vrg", 1, "g", "p"),
        backup_name("ns", "vrg2", 1, "g", "p"),
        backup_name("ns", "vrg", 2, "g", "p"),
        backup_name("ns", "vrg", -1, "g", "p"),
        backup_name("ns", "vrg", 1, "g2", "p"),
        backup_name("ns", "vrg", 1, "g", "p2"),
        restore_name("ns", "vrg", "1", "g"),
    ] {
        assert_ne!(base, other);
    }
}

#[test]
fn attempt_zero_is_the_base_name_and_retries_differ() {
    let base = backup_name("ns", "vrg", 4, "g", "p");
    assert_eq!(backup_name_attempt("ns", "vrg", 4, "g", "p", 0), base);
    let r1 = backup_name_attempt("ns", "vrg", 4, "g", "p", 1);
    let r2 = backup_name_attempt("ns", "vrg", 4, "g", "p", 2);
    assert!(r1.starts_with("ns-vrg-4-g-p-r1-"), "{r1}");
    assert!(r1 != base && r2 != base && r1 != r2);
    assert!(valid_name(&backup_name_attempt(
        "ns",
        "vrg",
        4,
        "g",
        "p",
        u32::MAX
    )));

    let base = restore_name("ns", "vrg", "restore-1", "g");
    assert_eq!(restore_name_attempt("ns", "vrg", "restore-1", "g", 0), base);
    assert_ne!(restore_name_attempt("ns", "vrg", "restore-1", "g", 1), base);

    let base = delete_request_name("b");
    assert_eq!(delete_request_name_attempt("b", 0), base);
    assert_ne!(delete_request_name_attempt("b", 1), base);
}

#[test]
fn identity_name_matches_the_functions() {
    let id = ObjectIdentity::backup("ns", "vrg", 5, "g", "p");
    assert_eq!(id.run_id, "backup-5");
    assert_eq!(id.name(), backup_name("ns", "vrg", 5, "g", "p"));
    assert_eq!(
        id.clone().with_attempt(2).name(),
        backup_name_attempt("ns", "vrg", 5, "g", "p", 2)
    );
    let id = ObjectIdentity::restore("ns", "vrg", "restore-3", 5, "g");
    assert_eq!(id.name(), restore_name("ns", "vrg", "restore-3", "g"));
    assert_eq!(
        id.with_attempt(1).name(),
        restore_name_attempt("ns", "vrg", "restore-3", "g", 1)
    );
}

#[test]
fn slot_alternates_and_is_never_negative() {
    let slot = |n| ObjectIdentity::backup("ns", "v", n, "g", "p").slot();
    assert_eq!(
        (slot(0), slot(1), slot(2), slot(-1), slot(i64::MIN)),
        (0, 1, 0, 1, 0)
    );
}

#[test]
fn delete_request_name_of_a_long_backup_name_is_valid() {
    let name = delete_request_name(&"b".repeat(300));
    assert!(valid_name(&name), "{name}");
    assert!(valid_name(&delete_request_name("Not A Name!")));
}

#[test]
fn label_value_keeps_valid_values_and_hashes_the_rest() {
    for v in ["", "a", "App_1.x", &"a".repeat(63)] {
        assert_eq!(label_value(v), v);
    }
    for v in ["-a", "a-", "a b", "ü", &"a".repeat(64)] {
        let hashed = label_value(v);
        assert!(
            is_label_value(&hashed) && !hashed.is_empty(),
            "{v:?} -> {hashed:?}"
        );
        assert_ne!(hashed, v);
        assert_eq!(hashed, label_value(v));
    }
    assert_ne!(label_value(&"a".repeat(64)), label_value(&"a".repeat(65)));
}

#[test]
fn validators() {
    assert!(is_dns_subdomain("a.b-c.0"));
    for bad in ["", "A", "a..b", "-a", "a-", "a_b", ".a", &"a".repeat(254)] {
        assert!(!is_dns_subdomain(bad), "{bad:?}");
    }
    assert!(is_label_value("A_b.9"));
    for bad in ["_a", "a.", "a/b", &"a".repeat(64)] {
        assert!(!is_label_value(bad), "{bad:?}");
    }
}

fn keys_and_values_valid(labels: &BTreeMap<String, String>) -> bool {
    labels.iter().all(|(k, v)| {
        let (prefix, name) = k.split_once('/').unwrap_or(("", k));
        is_dns_subdomain(prefix) && is_label_value(name) && !name.is_empty() && is_label_value(v)
    })
}

#[test]
fn labels_describe_the_object() {
    let id = ObjectIdentity::backup("app", "db", 7, "config", "s3-east").with_attempt(1);
    let l = labels(&id);
    let get = |k: &str| l.get(k).map(String::as_str);
    assert_eq!(get(LABEL_VRG_NAMESPACE), Some("app"));
    assert_eq!(get(LABEL_VRG_NAME), Some("db"));
    assert_eq!(get(LABEL_VRG_KEY), Some(vrg_key("app", "db").as_str()));
    assert_eq!(get(LABEL_WORKFLOW), Some("backup"));
    assert_eq!(get(LABEL_RUN), Some("backup-7"));
    assert_eq!(get(LABEL_CAPTURE), Some("7"));
    assert_eq!(get(LABEL_SLOT), Some("1"));
    assert_eq!(get(LABEL_GROUP), Some("config"));
    assert_eq!(get(LABEL_PROFILE), Some("s3-east"));
    assert_eq!(get(LABEL_ATTEMPT), Some("1"));
    assert!(keys_and_values_valid(&l));
    assert!(l.keys().all(|k| k.starts_with(LABEL_PREFIX)));

    let l = labels(&ObjectIdentity::restore(
        "app",
        "db",
        "restore-1",
        6,
        "config",
    ));
    assert_eq!(l.get(LABEL_WORKFLOW).map(String::as_str), Some("restore"));
    assert_eq!(l.get(LABEL_SLOT).map(String::as_str), Some("0"));
    assert!(!l.contains_key(LABEL_PROFILE));
}

#[test]
fn vrg_key_ignores_everything_but_namespace_and_name() {
    let a = labels(&ObjectIdentity::backup("ns", "vrg", 1, "g", "p"));
    let b = labels(&ObjectIdentity::restore("ns", "vrg", "restore-9", 4, "h"));
    assert_eq!(a.get(LABEL_VRG_KEY), b.get(LABEL_VRG_KEY));
    assert_ne!(vrg_key("ns", "vrg"), vrg_key("ns", "vrg2"));
    assert_ne!(vrg_key("a-b", "c"), vrg_key("a", "b-c"));
    assert_eq!(vrg_key("ns", "vrg").len(), 20);
}

#[test]
fn owner_round_trips_through_labels() {
    for (ns, name) in [("app", "db"), ("a", &"v".repeat(63)), ("Ns_1", "x.y")] {
        let id = ObjectIdentity::backup(ns, name, 1, "g", "p");
        let owner = Some((ns.to_owned(), name.to_owned()));
        assert_eq!(owner_of(&labels(&id)), owner);
        assert_eq!(owner_from(&labels(&id), &annotations(&id)), owner);
    }
}

#[test]
fn long_owner_names_need_the_annotations() {
    let name = "v".repeat(200);
    let id = ObjectIdentity::restore("app", &name, "restore-1", 1, "g");
    let (labels, annotations) = (labels(&id), annotations(&id));
    assert!(keys_and_values_valid(&labels));
    assert_eq!(owner_of(&labels), None);
    assert_eq!(
        owner_from(&labels, &annotations),
        Some(("app".to_owned(), name))
    );
}

#[test]
fn owner_rejects_foreign_and_tampered_labels() {
    assert_eq!(owner_of(&BTreeMap::new()), None);
    let id = ObjectIdentity::backup("app", "db", 1, "g", "p");
    let mut l = labels(&id);
    l.insert(LABEL_VRG_NAME.to_owned(), "other".to_owned());
    assert_eq!(owner_of(&l), None);
    let mut a = annotations(&id);
    a.insert(LABEL_VRG_NAMESPACE.to_owned(), "other".to_owned());
    assert_eq!(owner_from(&l, &a), None);
    let mut l = labels(&id);
    l.remove(LABEL_VRG_KEY);
    assert_eq!(owner_from(&l, &annotations(&id)), None);
}

#[test]
fn capture_round_trips_through_labels() {
    let id = ObjectIdentity::backup("app", "db", 7, "Config_Group", "s3-east").with_attempt(2);
    let c = capture_of(&labels(&id));
    assert_eq!(
        c,
        Some(CaptureRef {
            number: 7,
            slot: 1,
            group: "Config_Group".into(),
            profile: "s3-east".into(),
            attempt: 2,
            cluster: String::new(),
            epoch: 0,
            final_capture: false,
        })
    );
    let id = ObjectIdentity::backup("app", "db", 9, "config", "s3-east")
        .written_by("c9e0a1b2-0000-4000-8000-000000000001", 3)
        .final_capture(true);
    let c = capture_of(&labels(&id)).expect("capture");
    assert_eq!(
        (c.cluster.as_str(), c.epoch, c.final_capture),
        ("c9e0a1b2-0000-4000-8000-000000000001", 3, true)
    );
    let long_group = "g".repeat(100);
    let c = capture_of(&labels(&ObjectIdentity::backup(
        "app",
        "db",
        8,
        &long_group,
        "p",
    )));
    let c = c.expect("capture");
    assert!(c.is_group(&long_group) && !c.is_group("g") && c.is_profile("p"));
    assert_eq!((c.number, c.slot, c.attempt), (8, 0, 0));
}

#[test]
fn capture_of_rejects_non_captures() {
    assert_eq!(capture_of(&BTreeMap::new()), None);
    let restore = labels(&ObjectIdentity::restore("app", "db", "restore-1", 1, "g"));
    assert_eq!(capture_of(&restore), None);
    let ok = labels(&ObjectIdentity::backup("app", "db", 3, "g", "p"));
    for (key, value) in [
        (LABEL_SLOT, Some("0")),
        (LABEL_CAPTURE, Some("x")),
        (LABEL_PROFILE, None),
        (LABEL_GROUP, None),
    ] {
        let mut l = ok.clone();
        match value {
            Some(v) => l.insert(key.to_owned(), v.to_owned()),
            None => l.remove(key),
        };
        assert_eq!(capture_of(&l), None, "{key}");
    }
    // A negative capture number is no valid label value, so it cannot be read back.
    assert_eq!(
        capture_of(&labels(&ObjectIdentity::backup("app", "db", -3, "g", "p"))),
        None
    );
    // Labels written before the attempt label existed read as attempt 0.
    let mut l = ok.clone();
    l.remove(LABEL_ATTEMPT);
    assert_eq!(capture_of(&l).map(|c| c.attempt), Some(0));
}

#[test]
fn selectors() {
    let key = vrg_key("app", "db");
    assert_eq!(
        vrg_selector("app", "db"),
        format!("vrg.ramendr.openshift.io/vrg-key={key}")
    );
    assert_eq!(
        capture_selector("app", "db", 7),
        format!(
            "vrg.ramendr.openshift.io/vrg-key={key},vrg.ramendr.openshift.io/workflow=backup,vrg.ramendr.openshift.io/capture=7"
        )
    );
    assert_eq!(MANAGED_SELECTOR, "vrg.ramendr.openshift.io/vrg-key");
    // The selector matches what labels() writes.
    let l = labels(&ObjectIdentity::backup("app", "db", 7, "g", "p"));
    for term in capture_selector("app", "db", 7).split(',') {
        let (k, v) = term.split_once('=').unwrap_or_default();
        assert_eq!(l.get(k).map(String::as_str), Some(v), "{term}");
    }
}
