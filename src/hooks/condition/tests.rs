//! Shared fixtures (a Deployment, a StatefulSet and a Pod as the API server returns them) and
//! helpers for the condition tests, and the end-to-end tests of evaluation: parse a condition, then
//! evaluate it against a fixture.

use serde_json::{Value, json};

use super::{Condition, EvalError, parse};

pub(super) fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "busybox", "namespace": "app", "labels": {"app": "busybox"}},
        "spec": {"replicas": 3, "progressDeadlineSeconds": 600},
        "status": {
            "observedGeneration": 2,
            "replicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "updatedReplicas": 3,
            "conditions": [
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": "ReplicaSet \"busybox-5d4\" has {successfully} progressed."},
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
            ]
        }
    })
}

pub(super) fn statefulset() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "app"},
        "spec": {"replicas": 3, "serviceName": "db"},
        "status": {"replicas": 3, "readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 3}
    })
}

pub(super) fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "db-0", "namespace": "app", "labels": {"app": "db"}},
        "spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]},
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "ContainersReady", "status": "True"},
                {"type": "PodScheduled", "status": "True"}
            ],
            "containerStatuses": [
                {"name": "postgres", "ready": true, "restartCount": 2, "started": true}
            ]
        }
    })
}

pub(super) fn cond(src: &str) -> Condition {
    parse(src).unwrap_or_else(|e| panic!("{src:?} should parse: {e}"))
}

pub(super) fn eval(src: &str, object: &Value) -> Result<bool, EvalError> {
    cond(src).evaluate(object)
}

pub(super) fn holds(src: &str, object: &Value) -> bool {
    eval(src, object).unwrap_or_else(|e| panic!("{src:?} should evaluate: {e}"))
}

pub(super) fn parse_error(src: &str) -> String {
    match parse(src) {
        Ok(c) => panic!("{src:?} should not parse, got {c}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn ramen_examples() {
    let (dep, sts, pod) = (deployment(), statefulset(), pod());
    assert!(holds("{$.spec.replicas} == {$.status.readyReplicas}", &dep));
    assert!(holds("{$.status.readyReplicas} == {$.spec.replicas}", &dep));
    assert!(!holds(
        "{$.spec.replicas} == {$.status.readyReplicas}",
        &sts
    ));
    assert!(holds(
        "{$.status.readyReplicas} == {$.status.currentReplicas}",
        &sts
    ));
    assert!(holds(
        "{$.status.containerStatuses[0].ready} == {True}",
        &pod
    ));
    assert!(holds("{$.status.conditions[0].status} == True", &dep));
    assert!(holds("{$.status.conditions[0].status} == {True}", &dep));
    assert!(holds(
        r#"{$.status.conditions[0].status} == {"True"}"#,
        &dep
    ));
    assert!(holds("{$.spec.replicas} == 3", &dep));
    assert!(holds("{$.spec.replicas} == {3}", &dep));
    assert!(holds("{.spec.replicas} == {3}", &dep));
    assert!(holds("{$.status.phase} == {'Running'}", &pod));
    assert!(holds("{$.status.phase} == 'Running'", &pod));
    assert!(holds("{$.status.conditions[0].type} == {'Ready'}", &pod));
    assert!(holds(
        "{$.status.containerStatuses[0].restartCount} == 2",
        &pod
    ));
}

#[test]
fn brief_examples() {
    let dep = deployment();
    assert!(holds("{$.status.readyReplicas} == {$.spec.replicas}", &dep));
    let available = r#"{$.status.availableReplicas} >= {1} && {$.status.conditions[?(@.type=="Available")].status} == {True}"#;
    assert!(holds(available, &dep));
    let mut down = dep.clone();
    down["status"]["conditions"][1]["status"] = json!("False");
    assert!(!holds(available, &down));
}

#[test]
fn parenthesised_filter_is_rfc9535() {
    // kubectl-style `[?(...)]` is a parenthesised logical expression in RFC 9535.
    let c = cond(r#"{$.status.conditions[?(@.type=="Ready")].status} == {True}"#);
    assert!(matches!(c.evaluate(&pod()), Ok(true)));
    assert!(holds(
        "{$.status.conditions[?@.type=='PodScheduled'].status} == {True}",
        &pod()
    ));
}

#[test]
fn braces_and_quotes_inside_jsonpath() {
    let dep = deployment();
    let src = r#"{$.status.conditions[?(@.message=="ReplicaSet \"busybox-5d4\" has {successfully} progressed.")].type} == {Progressing}"#;
    assert!(holds(src, &dep));
    assert!(holds("{$.metadata.labels['app']} == {busybox}", &dep));
    assert!(matches!(
        eval("{$.status.conditions[?(@.reason=='}')].type} == {x}", &dep),
        Err(EvalError::MatchedNothing { .. })
    ));
}

#[test]
fn every_operator() {
    let dep = deployment();
    let cases = [
        ("==", [false, true, false]),
        ("!=", [true, false, true]),
        (">", [true, false, false]),
        (">=", [true, true, false]),
        ("<", [false, false, true]),
        ("<=", [false, true, true]),
    ];
    for (op, expected) in cases {
        for (rhs, want) in ["2", "3", "4.5"].into_iter().zip(expected) {
            let src = format!("{{$.status.readyReplicas}} {op} {{{rhs}}}");
            assert_eq!(holds(&src, &dep), want, "{src}");
        }
    }
    // Numbers compare numerically whatever their spelling; numeric strings count as numbers.
    assert!(holds("{$.spec.replicas} == {3.0}", &dep));
    assert!(holds("{$.spec.replicas} == {3e0}", &dep));
    assert!(holds("{10} > {9}", &dep));
    assert!(holds("{'10'} > {9}", &dep));
    assert!(holds("{-1} < {0.5}", &dep));
}

#[test]
fn booleans_and_strings() {
    let (dep, pod) = (deployment(), pod());
    // JSON booleans and Kubernetes' "True"/"False" strings both compare to True/False.
    assert!(holds(
        "{$.status.containerStatuses[0].ready} == {true}",
        &pod
    ));
    assert!(holds(
        "{$.status.containerStatuses[0].ready} != {False}",
        &pod
    ));
    assert!(holds("{$.status.conditions[0].status} == {true}", &dep));
    assert!(holds(
        "{$.status.conditions[0].status} == {$.status.containerStatuses[0].ready}",
        &pod
    ));
    // Otherwise text: a mismatch of kinds is simply unequal.
    assert!(!holds("{$.spec.replicas} == {Running}", &dep));
    assert!(holds("{$.spec.replicas} != {Running}", &dep));
    assert!(holds("{$.status.phase} != {Pending}", &pod));
    assert!(!holds("{$.status.phase} == {running}", &pod));
    assert!(holds("{$.spec.containers[0].image} == {postgres:16}", &pod));
    assert!(holds("{$.spec.containers[0].image} == 'postgres:16'", &pod));
    assert!(holds("{$.metadata.name} == {'db-0'}", &pod));
    assert!(holds("{$.metadata.name} == db-0", &pod));
}

#[test]
fn type_mismatches_are_errors_for_orderings() {
    let (dep, pod) = (deployment(), pod());
    assert_eq!(
        eval("{$.status.phase} > {1}", &pod).map_err(|e| e.to_string()),
        Err("> compares numbers, but {$.status.phase} is not a number".to_string())
    );
    assert!(matches!(
        eval("{$.spec.replicas} <= {abc}", &dep),
        Err(EvalError::NotANumber { .. })
    ));
    assert!(matches!(
        eval("{$.status.containerStatuses[0].ready} >= {1}", &pod),
        Err(EvalError::NotANumber { .. })
    ));
    assert_eq!(
        eval("{$.metadata.labels} == {x}", &dep).map_err(|e| e.to_string()),
        Err(
            "{$.metadata.labels} is an object, which cannot be compared; \
             point the JSONPath at a single field"
                .to_string()
        )
    );
    assert!(matches!(
        eval("{$.status.conditions} == {x}", &dep),
        Err(EvalError::NotScalar {
            kind: "an array",
            ..
        })
    ));
    assert!(matches!(
        eval("{$.x} == {x}", &json!({"x": null})),
        Err(EvalError::NotScalar { kind: "null", .. })
    ));
}

#[test]
fn missing_and_multiple_matches() {
    let (sts, dep) = (statefulset(), deployment());
    assert_eq!(
        eval("{$.status.availableReplicas} >= {1}", &sts).map_err(|e| e.to_string()),
        Err("{$.status.availableReplicas} matched nothing".to_string())
    );
    // Several matches: the first one is compared.
    assert!(holds(
        "{$.status.conditions[*].type} == {Progressing}",
        &dep
    ));
    assert!(holds("{$.status.conditions[*].status} == {True}", &dep));
}

#[test]
fn precedence_parentheses_and_errors_in_groups() {
    let dep = deployment();
    let (t, f) = ("{1} == {1}", "{1} == {2}");
    assert!(holds(&format!("{f} && {f} || {t}"), &dep));
    assert!(holds(&format!("{t} || {f} && {f}"), &dep));
    assert!(!holds(&format!("({t} || {f}) && {f}"), &dep));
    assert!(holds(&format!("{t} && ({f} || {t})"), &dep));
    assert!(!holds(&format!("(({f}))"), &dep));
    let missing = "{$.nope} == {1}";
    assert!(holds(&format!("{missing} || {t}"), &dep));
    assert!(!holds(&format!("{missing} && {f}"), &dep));
    assert!(matches!(
        eval(&format!("{t} && {missing}"), &dep),
        Err(EvalError::MatchedNothing { .. })
    ));
    assert!(matches!(
        eval(&format!("{f} || {missing}"), &dep),
        Err(EvalError::MatchedNothing { .. })
    ));
}

#[test]
fn no_evaluation_error_shows_a_value_read_from_the_object() {
    let secret = json!({"data": {"password": "hunter2-s3cr3t", "list": ["hunter2-s3cr3t"]}});
    for condition in [
        "{$.data.password} > {1}",
        "{$.data.password} <= {$.data.password}",
        "{$.data.list} == {x}",
        "{$.data.missing} == {$.data.password}",
    ] {
        let message = eval(condition, &secret).unwrap_err().to_string();
        assert!(!message.contains("hunter2"), "{condition}: {message}");
    }
}
