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
    // The per-VRG series alerts are written on.
    let vrg = format!("namespace=\"{}\",name=\"app\"", env.ns);
    for expected in [
        format!("vrg_operator_vrg_protected{{{vrg}}} 1"),
        format!("vrg_operator_vrg_recipe_ready{{{vrg}}} 1"),
        format!("vrg_operator_vrg_capture_interval_seconds{{{vrg}}} 3600.0"),
        format!("vrg_operator_vrg_consecutive_failed_captures{{{vrg}}} 0"),
        format!(
            "vrg_operator_vrg_workflow_phase{{{vrg},workflow=\"backup\",phase=\"Succeeded\"}} 1"
        ),
        format!("vrg_operator_vrg_last_restorable_capture_timestamp_seconds{{{vrg}}} "),
    ] {
        assert!(
            body.contains(&expected),
            "/metrics lacks {expected:?}:\n{body}"
        );
    }
    let rpo_age = support::http::metric(
        &body,
        &format!("vrg_operator_vrg_last_restorable_capture_timestamp_seconds{{{vrg}}}"),
    )
    .unwrap();
    let now = k8s_openapi::jiff::Timestamp::now().as_second() as f64;
    assert!(
        (0.0..60.0).contains(&(now - rpo_age)),
        "capture ended {rpo_age}, now {now}"
    );

    // Every metric the chart's alerts name is one the operator exports: here, or (the recovery
    // one, which has a series only while a recovery runs) from a VRG in every state at once.
    let every_state = Metrics::default();
    every_state.vrgs.observe(
        "ns",
        "vrg",
        &vrg_operator::telemetry::vrg_metrics::VrgGauges {
            last_capture: Some(1.0),
            capture_interval: Some(60.0),
            protected: true,
            recipe_ready: true,
            run: Some(("restore".into(), "Running".into())),
            finished_capture: None,
            recovering_since: Some(1.0),
        },
    );
    let every_state = every_state.encode();
    for name in alert_metrics() {
        assert!(
            body.contains(&format!("{name}{{{vrg}}}"))
                || every_state.contains(&format!("{name}{{")),
            "the chart's PrometheusRule names {name}, which the operator does not export:\n{body}"
        );
    }

    // A deleted VRG's series go with it.
    env.vrgs().delete("app", &Default::default()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = get(address, "/metrics").await;
        if !body.contains(&vrg) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "series of the deleted VRG remain:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The metric names in the expressions of the chart's PrometheusRule, rendered by helm.
fn alert_metrics() -> Vec<String> {
    let helm = vrg_testenv::Binaries::locate().unwrap().helm.unwrap();
    let home = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("helm-home-telemetry");
    let out = std::process::Command::new(helm)
        .args([
            "template",
            "x",
            "charts/vrg-operator",
            "--set",
            "alerts.enabled=true",
        ])
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8(out.stdout).unwrap();
    let rule = serde_saphyr::from_multiple::<serde_json::Value>(&rendered)
        .unwrap()
        .into_iter()
        .find(|d| d["kind"] == "PrometheusRule")
        .expect("alerts.enabled renders a PrometheusRule");
    let names = regex::Regex::new(r"vrg_operator_[a-z_]+").unwrap();
    let mut found: Vec<String> = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let expr = r["expr"].as_str().unwrap().to_owned();
            names
                .find_iter(&expr)
                .map(|m| m.as_str().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    found.sort();
    found.dedup();
    assert_eq!(found.len(), 5, "{found:?}");
    found
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
