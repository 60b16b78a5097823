//! YAML -> types -> YAML round trips: the types must carry every field a user or Velero wrote.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::velero::{
    Backup, BackupPhase, BackupStorageLocation, BackupStorageLocationPhase, DeleteBackupRequest,
    DeleteBackupRequestPhase, Restore, RestorePhase,
};
use super::vrg::{ReplicationState, VrgAction};
use super::{Recipe, VolumeReplicationGroup};

fn documents(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml).expect("fixture is valid YAML")
}

/// Deserialises `doc` as `T`, serialises it back, and requires the same JSON tree.
fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value) -> T {
    let typed: T = serde_json::from_value(doc.clone()).expect("fixture matches the types");
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(&back, doc, "a field was lost or changed in the round trip");
    typed
}

/// Ramen writes `action: ""` for "no action"; it reads back as absent, which means the same.
fn without_empty_action(mut doc: Value) -> Value {
    if let Some(spec) = doc.get_mut("spec").and_then(Value::as_object_mut)
        && spec.get("action") == Some(&Value::String(String::new()))
    {
        spec.remove("action");
    }
    doc
}

fn round_trip_manifests(yaml: &str) -> (Vec<VolumeReplicationGroup>, Vec<Recipe>) {
    let (mut vrgs, mut recipes) = (vec![], vec![]);
    for doc in documents(yaml) {
        match doc["kind"].as_str() {
            Some("VolumeReplicationGroup") => vrgs.push(round_trip(&without_empty_action(doc))),
            Some("Recipe") => recipes.push(round_trip(&doc)),
            other => panic!("unexpected kind {other:?}"),
        }
    }
    (vrgs, recipes)
}

#[test]
fn fixed_seed_samples_round_trip() {
    for yaml in [
        include_str!("../../examples/seed-capture-order.yaml"),
        include_str!("../../examples/seed-recover-init-containers.yaml"),
        include_str!("../../examples/seed-recover-exec.yaml"),
        include_str!("../../examples/seed-inline-recipe.yaml"),
    ] {
        let (vrgs, _) = round_trip_manifests(yaml);
        let kop = vrgs[0].spec.kube_object_protection.as_ref().unwrap();
        assert!(kop.recipe.is_some() || kop.capture_order.is_some() || kop.recover_order.is_some());
    }
}

#[test]
fn inline_recipe_keeps_misspelt_keys_for_the_validator() {
    let (vrgs, _) = round_trip_manifests(include_str!("../../examples/seed-inline-recipe.yaml"));
    let recipe = vrgs[0]
        .spec
        .kube_object_protection
        .as_ref()
        .unwrap()
        .recipe
        .as_ref()
        .unwrap();
    assert_eq!(recipe["groups"][0]["isClusterScoped"], Value::Bool(false));
}

#[test]
fn ramen_vrg_with_volume_fields_round_trips() {
    let (vrgs, _) = round_trip_manifests(include_str!("../../examples/ramen-vrg.yaml"));
    let spec = &vrgs[0].spec;
    assert_eq!(spec.replication_state, ReplicationState::Primary);
    assert_eq!(spec.action, None);
    assert!(spec.pvc_selector.is_some() && spec.r#async.is_some() && spec.vol_sync.is_some());
}

#[test]
fn ramen_style_recipes_round_trip() {
    let (vrgs, recipes) = round_trip_manifests(include_str!("../../examples/recipe-mysql.yaml"));
    assert_eq!(recipes[0].spec.workflows.len(), 2);
    assert_eq!(
        recipes[0].spec.hooks[0].ops[0].inverse_op.as_deref(),
        Some("unquiesce")
    );
    let kop = vrgs[0].spec.kube_object_protection.as_ref().unwrap();
    assert_eq!(kop.recipe_ref.as_ref().unwrap().name, "mysql");
    round_trip_manifests(include_str!("../../examples/recipe-web-app.yaml"));
    round_trip_manifests(include_str!("../../examples/vrg-default-recipe.yaml"));
}

#[test]
fn vrg_action_accepts_ramen_spellings_and_rejects_others() {
    let vrg = |action: &str| {
        serde_json::from_value::<VolumeReplicationGroup>(serde_json::json!({
            "apiVersion": "ramendr.openshift.io/v1alpha1", "kind": "VolumeReplicationGroup",
            "metadata": {"name": "a"}, "spec": {"replicationState": "primary", "action": action},
        }))
    };
    assert_eq!(
        vrg("Failover").unwrap().spec.action,
        Some(VrgAction::Failover)
    );
    assert_eq!(
        vrg("Relocate").unwrap().spec.action,
        Some(VrgAction::Relocate)
    );
    assert_eq!(vrg("").unwrap().spec.action, None);
    assert!(vrg("failover").is_err());
}

#[test]
fn velero_backup_with_unknown_phase_round_trips() {
    let doc = &documents(include_str!("../../tests/fixtures/velero/backup.yaml"))[0];
    let backup: Backup = round_trip(doc);
    let status = backup.status.unwrap();
    assert_eq!(status.phase, Some(BackupPhase::Unknown("Archiving".into())));
    assert_eq!(status.warnings, Some(2));
    assert_eq!(backup.spec.filter.included_namespaces, ["mysql"]);
    assert_eq!(backup.spec.storage_location.as_deref(), Some("default"));
    assert!(backup.spec.extra.contains_key("csiSnapshotTimeout"));
}

#[test]
fn velero_restore_with_unknown_phase_round_trips() {
    let doc = &documents(include_str!("../../tests/fixtures/velero/restore.yaml"))[0];
    let restore: Restore = round_trip(doc);
    assert_eq!(
        restore.status.unwrap().phase,
        Some(RestorePhase::Unknown("Validating".into()))
    );
    let hooks = restore.spec.hooks.unwrap();
    let init = hooks.resources[0].post_hooks[0].init.as_ref().unwrap();
    assert_eq!(init.init_containers[0]["name"], "restore-hook-init");
}

#[test]
fn velero_delete_request_and_storage_location_round_trip() {
    let doc = &documents(include_str!(
        "../../tests/fixtures/velero/delete-backup-request.yaml"
    ))[0];
    let dbr: DeleteBackupRequest = round_trip(doc);
    assert_eq!(
        dbr.status.unwrap().phase,
        Some(DeleteBackupRequestPhase::Processed)
    );
    let doc = &documents(include_str!(
        "../../tests/fixtures/velero/backup-storage-location.yaml"
    ))[0];
    let bsl: BackupStorageLocation = round_trip(doc);
    assert_eq!(
        bsl.status.unwrap().phase,
        Some(BackupStorageLocationPhase::Available)
    );
}

#[test]
fn known_phases_keep_their_spelling() {
    for phase in [
        "New",
        "InProgress",
        "Completed",
        "PartiallyFailed",
        "Failed",
        "FailedValidation",
    ] {
        let parsed: BackupPhase = serde_json::from_value(Value::String(phase.into())).unwrap();
        assert!(
            !matches!(parsed, BackupPhase::Unknown(_)),
            "{phase} is a known phase"
        );
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            Value::String(phase.into())
        );
    }
}
