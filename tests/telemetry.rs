//! Operating the operator: `/metrics` (Prometheus text), `/healthz`, `/readyz`, and JSON logs.

mod support;

use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::Duration;

use support::env::{Env, is};
use support::http::get;
use vrg_operator::controller;
use vrg_operator::telemetry::{self, Metrics};
use vrg_testenv::shared;

#[tokio::test]
async fn metrics_and_health_endpoints_are_served() {
    let metrics = Arc::new(Metrics::default());
    let listener = telemetry::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(telemetry::serve(listener, metrics.clone()));
    assert_eq!(get(address, "/healthz").await.0, 200);
    assert_eq!(
        get(address, "/readyz").await.0,
        503,
        "not ready before the controller runs"
    );

    let mut env = Env::start("telemetry").await;
    // Restart the controller with the metrics the endpoint serves.
    env.restart_controller_with(controller::Options {
        metrics: metrics.clone(),
        ..support::env::options(&env.velero_ns, &env.ns)
    });
    env.apply(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: VolumeReplicationGroup
metadata: {name: app}
spec:
  replicationState: primary
  s3Profiles: [east]
  kubeObjectProtection: {captureInterval: 1h}
",
    )
    .await;
    env.wait("app", "the capture", Duration::from_secs(30), |v| {
        is(v, "ClusterDataProtected", "True")
    })
    .await;
    assert_eq!(get(address, "/readyz").await.0, 200);
    let (status, body) = get(address, "/metrics").await;
    assert_eq!(status, 200);
    for expected in [
        "vrg_operator_workflow_runs_total{workflow=\"backup\",outcome=\"succeeded\"} 1",
        "vrg_operator_workflow_steps_total{workflow=\"backup\",kind=\"group\",outcome=\"succeeded\"} 1",
        "vrg_operator_workflow_step_duration_seconds_count{workflow=\"backup\",kind=\"group\",outcome=\"succeeded\"} 1",
        "vrg_operator_reconciles_total ",
        "vrg_operator_reconcile_duration_seconds_bucket",
    ] {
        assert!(
            body.contains(expected),
            "/metrics lacks {expected:?}:\n{body}"
        );
    }
}

#[tokio::test]
async fn the_operator_binary_logs_json_when_asked() {
    let plane = shared();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vrg-operator"))
        .args([
            "run",
            "--log-format",
            "json",
            "--metrics-address",
            "127.0.0.1:0",
            "--watch-namespace",
            "nothing-here",
        ])
        .env("KUBECONFIG", &plane.kubeconfig)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || BufReader::new(stdout).lines().next())
        .await
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("a log line").unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(json["level"], "INFO", "{line}");
    assert!(json["fields"]["message"].is_string(), "{line}");
}

#[tokio::test]
async fn the_client_counts_its_requests_by_method_and_code() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, PostParams};

    let plane = shared();
    let kubeconfig = kube::config::Kubeconfig::read_from(&plane.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let metrics = Metrics::default();
    let client = telemetry::client::client_for(config, &metrics).unwrap();
    let ns = plane.namespace(&client, "requests").await.unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(client, &ns);
    let map: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "m"}})).unwrap();
    maps.create(&PostParams::default(), &map).await.unwrap();
    maps.get("m").await.unwrap();
    assert!(maps.get("missing").await.is_err());
    let body = metrics.encode();
    for expected in [
        // The namespace and the ConfigMap.
        "vrg_operator_api_requests_total{method=\"POST\",code=\"201\"} 2",
        "vrg_operator_api_requests_total{method=\"GET\",code=\"200\"} 1",
        "vrg_operator_api_requests_total{method=\"GET\",code=\"404\"} 1",
    ] {
        assert!(
            body.contains(expected),
            "/metrics lacks {expected:?}:\n{body}"
        );
    }
}
