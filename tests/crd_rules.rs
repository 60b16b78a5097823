//! The rules in our CRD schema, against the real API server with no webhook registered: each
//! mistake they can express is refused by the API server itself, at its field path, and nothing
//! `vrg-operator validate` accepts is refused — parameterised values (`${NAME}`) included, since
//! they are expanded before `validate` reads them. Every Recipe shipped in the examples and the
//! Ramen compatibility fixtures still applies.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};
use vrg_operator::recipe::check_recipe;
use vrg_testenv::shared;

/// What the API server must do with a case.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Refused by the schema, with this line at the case's field path.
    Refused(&'static str),
    Admitted,
}
use Expect::*;

const NAME: &str = "should match '^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$|\\$'";
const ON_ERROR: &str = "should match '^((?i:fail|continue))$|\\$'";
const STEP: &str = "a step is a one-key mapping";

/// A Recipe `validate` accepts, touching every field that carries a rule.
fn base() -> Value {
    json!({
        "apiVersion": "ramendr.openshift.io/v1alpha1", "kind": "Recipe",
        "metadata": {"name": "rules"},
        "spec": {
            "groups": [{"name": "config", "type": "resource", "includedResourceTypes": ["configmaps"]}],
            "hooks": [
                {"name": "db", "type": "exec", "onError": "fail",
                 "labelSelector": {"matchLabels": {"app": "db"}},
                 "ops": [{"name": "flush", "command": "sync", "onError": "continue"}]},
                {"name": "ready", "type": "check", "selectResource": "deployment", "nameSelector": "db",
                 "chks": [{"name": "up", "condition": "{$.status.readyReplicas} == {$.spec.replicas}",
                           "onError": "Continue"}]},
            ],
            "workflows": [{"name": "backup", "failOn": "any-error",
                           "sequence": [{"hook": "db/flush"}, {"group": "config"}, {"hook": "ready"}]}],
        },
    })
}

/// `(JSON pointer, value, what the API server does)`.
fn cases() -> Vec<(&'static str, Value, Expect)> {
    vec![
        ("/spec/groups/0/name", json!("Config_1"), Refused(NAME)),
        ("/spec/groups/0/name", json!("a".repeat(64)), Refused(NAME)),
        ("/spec/groups/0/name", json!("${GROUP}"), Admitted),
        (
            "/spec/groups/0/type",
            json!("Resource"),
            Refused("should match '^(resource|volume)$|\\$'"),
        ),
        ("/spec/groups/0/type", json!("volume"), Admitted),
        ("/spec/groups/0/type", json!("$GROUP_TYPE"), Admitted),
        ("/spec/hooks/0/name", json!("DB"), Refused(NAME)),
        ("/spec/hooks/0/namespace", json!("my_ns"), Refused(NAME)),
        ("/spec/hooks/0/namespace", json!("prod"), Admitted),
        (
            "/spec/hooks/0/namespace",
            json!("${APP_NAMESPACE}"),
            Admitted,
        ),
        (
            "/spec/hooks/0/type",
            json!("Exec"),
            Refused("should match '^(exec|check|scale|job)$|\\$'"),
        ),
        ("/spec/hooks/0/onError", json!("CONTINUE"), Admitted),
        ("/spec/hooks/0/onError", Value::Null, Admitted),
        ("/spec/hooks/0/onError", json!("ignore"), Refused(ON_ERROR)),
        ("/spec/hooks/0/ops/0/name", json!("Flush"), Refused(NAME)),
        (
            "/spec/hooks/0/ops/0/onError",
            json!("stop"),
            Refused(ON_ERROR),
        ),
        (
            "/spec/hooks/1/chks/0/onError",
            json!("retry"),
            Refused(ON_ERROR),
        ),
        (
            "/spec/workflows/0/failOn",
            json!("any"),
            Refused("should match '^(any-error|essential-error|full-error)$|\\$'"),
        ),
        (
            "/spec/workflows/0/failOn",
            json!("essential-error"),
            Admitted,
        ),
        (
            "/spec/workflows/0/sequence/1",
            json!({"group": "config", "hook": "db"}),
            Refused(STEP),
        ),
        (
            "/spec/workflows/0/sequence/1",
            json!({"grop": "config"}),
            Refused(STEP),
        ),
        ("/spec/workflows/0/sequence/1", json!({}), Refused(STEP)),
        ("/spec/workflows/0/sequence", json!([]), Admitted),
    ]
}

/// `/spec/groups/0/name` as the API server writes it: `spec.groups[0].name`.
fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.trim_start_matches('/').split('/') {
        if part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// Sets the value at `pointer`, adding the last key to its object if it is not there.
fn set(doc: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match doc.pointer_mut(parent).unwrap() {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        other => panic!("{parent} is {other}"),
    }
}

async fn recipes() -> (Api<DynamicObject>, String) {
    let plane = shared();
    let client = plane.client().await.unwrap();
    let ns = plane.namespace(&client, "crd-rules").await.unwrap();
    let gvk = GroupVersionKind::gvk("ramendr.openshift.io", "v1alpha1", "Recipe");
    let api = Api::namespaced_with(client, &ns, &ApiResource::from_gvk(&gvk));
    (api, ns)
}

/// The API server's answer to creating `recipe` (dry run): `Ok` or its message.
async fn apply(api: &Api<DynamicObject>, recipe: &Value) -> Result<(), String> {
    let object: DynamicObject = serde_json::from_value(recipe.clone()).unwrap();
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    api.create(&dry_run, &object)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_schema_refuses_what_it_can_express_and_nothing_validate_accepts() {
    let (api, _ns) = recipes().await;
    assert_eq!(
        check_recipe(&base()),
        vec![],
        "the base recipe must be valid"
    );
    apply(&api, &base()).await.unwrap();

    let mut failures = Vec::new();
    for (pointer, value, expect) in cases() {
        let mut recipe = base();
        set(&mut recipe, pointer, value.clone());
        let validate_refuses = !check_recipe(&recipe).is_empty();
        let answer = apply(&api, &recipe).await;
        let case = format!("{pointer} = {value}");
        match (expect, &answer) {
            (Refused(line), Err(message)) => {
                // What kubectl prints after "Error from server": shown with --nocapture.
                eprintln!("{case}: {message}");
                let at = format!("{}: Invalid value", field_path(pointer));
                if !message.contains(line) || !message.contains(&at) {
                    failures.push(format!(
                        "{case}: refused without \"{at}\" and \"{line}\": {message}"
                    ));
                }
            }
            (Admitted, Ok(())) => {}
            (expect, answer) => {
                failures.push(format!("{case}: expected {expect:?}, got {answer:?}"))
            }
        }
        if answer.is_err() && !validate_refuses {
            failures.push(format!(
                "{case}: the schema refuses what validate accepts: {answer:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_shipped_recipe_still_applies() {
    let (api, _ns) = recipes().await;
    let root = env!("CARGO_MANIFEST_DIR");
    let mut files: Vec<_> = ["examples", "tests/fixtures/ramen", "tests/fixtures/dr"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(format!("{root}/{dir}")).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut applied = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in serde_saphyr::from_multiple::<Value>(&text).unwrap() {
            if doc["kind"] != "Recipe" {
                continue;
            }
            let mut doc = doc;
            doc["metadata"].as_object_mut().unwrap().remove("namespace");
            if let Err(message) = apply(&api, &doc).await {
                panic!("{}: {message}", file.display());
            }
            applied += 1;
        }
    }
    assert!(applied >= 10, "only {applied} Recipes found");
}
