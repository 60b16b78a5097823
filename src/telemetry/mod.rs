//! Operating the operator: logs (text or JSON), Prometheus metrics, and the health endpoints.

pub mod client;
mod metrics;
pub mod vrg_metrics;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

pub use metrics::Metrics;

/// Label sets, for the controller.
pub mod metrics_labels {
    pub use super::metrics::ErrorLabels;

    pub fn error(kind: &str) -> ErrorLabels {
        ErrorLabels {
            kind: kind.to_owned(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global log subscriber (`filter` in `RUST_LOG` syntax).
pub fn init_logs(filter: &str, format: LogFormat) {
    let builder =
        tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(filter));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Serves `/metrics`, `/healthz` (the process answers) and `/readyz` (caches synced, controller
/// running) on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
) -> std::io::Result<()> {
    let scrape = metrics.clone();
    let app = Router::new()
        .route(
            "/metrics",
            get(move || async move {
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    scrape.encode(),
                )
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || async move {
                if metrics.is_ready() {
                    (StatusCode::OK, "ok")
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "starting: caches are not synced yet",
                    )
                }
            }),
        );
    axum::serve(listener, app).await
}

/// Binds the telemetry address.
pub async fn bind(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address).await
}
