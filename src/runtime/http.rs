//! The HTTP endpoints: Prometheus metrics (HTTPS with every scrape authorised, or plain HTTP for
//! local use), and liveness and readiness probes (plain HTTP: the kubelet probes without a
//! token).

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use axum_server::tls_rustls::RustlsConfig;
use tokio::net::TcpListener;

use crate::{runtime::metrics_auth::ScrapeAuth, telemetry::Metrics};

/// How often a provided certificate is read again, so a rotated one (cert-manager) is served
/// without a restart.
const CERT_RELOAD: Duration = Duration::from_secs(60);

/// How `/metrics` is served.
pub enum MetricsSecurity {
    /// Plain HTTP; anyone who can reach the port reads it.
    Plain,
    /// HTTPS, each scrape authenticated and authorised (`metrics_auth`).
    Secure {
        auth: ScrapeAuth,
        certificate: Certificate,
    },
}

/// The metrics endpoint's certificate.
pub enum Certificate {
    /// Made at start; scrapers skip verification, and the token still authenticates them.
    SelfSigned,
    /// PEM files, read again every minute.
    Files { cert: PathBuf, key: PathBuf },
}

/// Serves `/metrics` on `metrics_addr` and `/healthz`, `/readyz` on `probe_addr` until the
/// process ends.
pub async fn serve(
    metrics_addr: SocketAddr,
    probe_addr: SocketAddr,
    metrics: Arc<Metrics>,
    security: MetricsSecurity,
) -> anyhow::Result<()> {
    let probe_app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(metrics.clone());
    let probe_listener = TcpListener::bind(probe_addr).await?;
    let metrics_listener = std::net::TcpListener::bind(metrics_addr)?;
    let scheme = match security {
        MetricsSecurity::Plain => "http",
        MetricsSecurity::Secure { .. } => "https",
    };
    tracing::info!(metrics = %metrics_listener.local_addr()?, scheme, probes = %probe_listener.local_addr()?, "serving HTTP endpoints");
    let metrics_server = async move {
        match security {
            MetricsSecurity::Plain => {
                let app = Router::new()
                    .route("/metrics", get(render))
                    .with_state(metrics);
                metrics_listener.set_nonblocking(true)?;
                axum::serve(TcpListener::from_std(metrics_listener)?, app).await?;
            }
            MetricsSecurity::Secure { auth, certificate } => {
                let app = Router::new()
                    .route("/metrics", get(render_authorised))
                    .with_state((metrics, auth));
                let tls = tls_config(certificate).await?;
                axum_server::from_tcp_rustls(metrics_listener, tls)?
                    .serve(app.into_make_service())
                    .await?;
            }
        }
        anyhow::Ok(())
    };
    tokio::try_join!(metrics_server, async {
        axum::serve(probe_listener, probe_app).await?;
        anyhow::Ok(())
    })?;
    Ok(())
}

async fn tls_config(certificate: Certificate) -> anyhow::Result<RustlsConfig> {
    match certificate {
        Certificate::SelfSigned => {
            let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
            Ok(RustlsConfig::from_pem(
                made.cert.pem().into_bytes(),
                made.signing_key.serialize_pem().into_bytes(),
            )
            .await?)
        }
        Certificate::Files { cert, key } => {
            let config = RustlsConfig::from_pem_file(&cert, &key)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot load the metrics certificate {} and key {}: {e}",
                        cert.display(),
                        key.display()
                    )
                })?;
            let reloaded = config.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(CERT_RELOAD).await;
                    if let Err(e) = reloaded.reload_from_pem_file(&cert, &key).await {
                        tracing::warn!(error = %e, cert = %cert.display(), "cannot reload the metrics certificate; serving the previous one");
                    }
                }
            });
            Ok(config)
        }
    }
}

async fn render(State(metrics): State<Arc<Metrics>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

async fn render_authorised(
    State((metrics, auth)): State<(Arc<Metrics>, ScrapeAuth)>,
    headers: HeaderMap,
) -> Response {
    match auth.check(&headers).await {
        Ok(()) => render(State(metrics)).await,
        Err(refusal) => refusal.into_response(),
    }
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
