//! The HTTP endpoints: Prometheus metrics, and liveness and readiness probes.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router, extract::State, http::StatusCode, http::header, response::IntoResponse, routing::get,
};
use tokio::net::TcpListener;

use crate::telemetry::Metrics;

/// Serves `/metrics` on `metrics_addr` and `/healthz`, `/readyz` on `probe_addr` until the
/// process ends.
pub async fn serve(
    metrics_addr: SocketAddr,
    probe_addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> anyhow::Result<()> {
    let metrics_app = Router::new()
        .route("/metrics", get(render))
        .with_state(metrics.clone());
    let probe_app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(metrics);
    let metrics_listener = TcpListener::bind(metrics_addr).await?;
    let probe_listener = TcpListener::bind(probe_addr).await?;
    tracing::info!(metrics = %metrics_listener.local_addr()?, probes = %probe_listener.local_addr()?, "serving HTTP endpoints");
    tokio::try_join!(
        axum::serve(metrics_listener, metrics_app).into_future(),
        axum::serve(probe_listener, probe_app).into_future(),
    )?;
    Ok(())
}

async fn render(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

async fn readyz(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    if metrics.is_ready() {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the controller has not started watching",
        )
    }
}
