//! The operator's telemetry endpoints, as the tests read them.

/// GET `path`: status code and body (status 0 when nothing answers).
pub async fn get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    vrg_testenv::telemetry::get(address, path)
        .await
        .unwrap_or((0, String::new()))
}

/// The value of an unlabelled metric in a Prometheus text exposition.
pub fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}
