//! Property tests: no input makes validation panic, and an invalid recipe never passes.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Settings, load_vrg};

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z$ {}/=!,()._-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "group", "hook", "name", "backup", "restore", "exec", "check", "${P}", "ops"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop::sample::select(vec![
            "name",
            "groups",
            "hooks",
            "workflows",
            "sequence",
            "ops",
            "chks",
            "command",
            "type",
            "labelSelector",
            "group",
            "hook",
            "backupRef",
            "timeout",
            "onError",
            "condition",
            "includedNamespaces",
            "config",
            "x",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..5).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

fn vrg_with(kop: Value) -> Value {
    json!({
        "apiVersion": "ramendr.openshift.io/v1alpha1", "kind": "VolumeReplicationGroup",
        "metadata": {"name": "v", "namespace": "app"},
        "spec": {"replicationState": "primary", "s3Profiles": ["default"], "kubeObjectProtection": kop},
    })
}

fn seed_vrg() -> Value {
    serde_saphyr::from_str(include_str!("../../examples/seed-inline-recipe.yaml")).unwrap()
}

/// Every path (as JSON pointers) to a node of `value` satisfying `keep`.
fn pointers(value: &Value, at: String, keep: &dyn Fn(&Value) -> bool, out: &mut Vec<String>) {
    if keep(value) {
        out.push(at.clone());
    }
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| pointers(v, format!("{at}/{k}"), keep, out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| pointers(v, format!("{at}/{i}"), keep, out)),
        _ => {}
    }
}

fn load(doc: &Value) -> Result<super::Loaded, Vec<super::Problem>> {
    load_vrg(doc, "app", &BTreeMap::new(), &Settings::default())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_documents_never_panic(doc in arbitrary_json()) {
        let _ = load(&doc);
        let _ = super::check_recipe(&doc);
        if let Err(problems) = load(&vrg_with(json!({"recipe": doc.clone()}))) {
            prop_assert!(!problems.is_empty());
        }
        let _ = load(&vrg_with(json!({"captureOrder": doc.clone(), "recoverOrder": doc})));
    }

    #[test]
    fn arbitrary_yaml_never_panics(text in "[a-z:{}\\[\\], \n-]{0,80}") {
        if let Ok(docs) = serde_saphyr::from_multiple::<Value>(&text) {
            for doc in docs {
                let _ = load(&doc);
                let _ = load(&vrg_with(json!({"recipe": doc})));
            }
        }
    }

    /// An unknown key anywhere in a valid recipe is always reported.
    #[test]
    fn unknown_key_anywhere_is_reported(pick in any::<prop::sample::Index>()) {
        let mut doc = seed_vrg();
        let mut objects = vec![];
        pointers(&doc["spec"]["kubeObjectProtection"]["recipe"], String::new(), &|v| v.is_object(), &mut objects);
        let at = format!("/spec/kubeObjectProtection/recipe{}", pick.get(&objects));
        doc.pointer_mut(&at).unwrap().as_object_mut().unwrap().insert("zzUnknown".into(), json!(1));
        let problems = load(&doc).unwrap_err();
        prop_assert!(problems.iter().any(|p| p.message.contains("unknown field \"zzUnknown\"")), "{at}: {problems:?}");
    }

    /// A string of a valid recipe replaced by a number is always reported.
    #[test]
    fn wrong_type_anywhere_is_reported(pick in any::<prop::sample::Index>()) {
        let mut doc = seed_vrg();
        let mut strings = vec![];
        pointers(&doc["spec"]["kubeObjectProtection"]["recipe"], String::new(), &|v| v.is_string(), &mut strings);
        let at = format!("/spec/kubeObjectProtection/recipe{}", pick.get(&strings));
        *doc.pointer_mut(&at).unwrap() = json!(7);
        prop_assert!(load(&doc).is_err(), "{at} accepted a number");
    }

    /// A name a step refers to, replaced by another name, is always reported.
    #[test]
    fn dangling_reference_is_reported(pick in any::<prop::sample::Index>(), name in "[a-z]{3,8}") {
        let mut doc = seed_vrg();
        let mut steps = vec![];
        pointers(&doc["spec"]["kubeObjectProtection"]["recipe"]["workflows"], String::new(), &|v| v.as_object().is_some_and(|m| m.contains_key("group") || m.contains_key("hook")), &mut steps);
        let at = format!("/spec/kubeObjectProtection/recipe/workflows{}", pick.get(&steps));
        let step = doc.pointer_mut(&at).unwrap().as_object_mut().unwrap();
        let key = step.keys().next().unwrap().clone();
        step.insert(key, json!(format!("zz-{name}")));
        prop_assert!(load(&doc).is_err(), "{at} accepted a dangling reference");
    }
}
