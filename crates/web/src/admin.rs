//! The admin listener: plain HTTP for the monitoring system, apart from the HTTPS listener
//! users reach. `/healthz` answers while the process runs; `/readyz` asks the server
//! whether it can serve (503 with the reason when not); `/metrics` is the Prometheus page.
//!
//! It is small on purpose: one request per connection (no keep-alive to bound), a few
//! connections at most, and a short deadline for each, so a scraper that hangs or a port
//! scan costs a task for a few seconds and nothing more.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::accept::accept;

/// What the listener asks the server.
pub trait Probe: Send + Sync + 'static {
    /// `Ok` when the server can serve; otherwise why not, for the operator.
    fn ready(&self) -> impl Future<Output = Result<(), String>> + Send;
    /// The metrics page, in the OpenMetrics text format.
    fn metrics(&self) -> impl Future<Output = String> + Send;
}

/// A request's head, and the whole exchange, must be done within this long.
const REQUEST_TIME: Duration = Duration::from_secs(10);

/// The content type of the page `prometheus-client` writes (it ends with `# EOF`).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves the probe on `listener` until `shutdown` turns true.
pub async fn serve_admin<P: Probe>(
    listener: TcpListener,
    probe: Arc<P>,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready::<P>))
        .route("/metrics", get(metrics::<P>))
        .with_state(probe);
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = accept(&listener, "admin") => accepted,
            Some(_) = connections.join_next() => continue,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let Some((stream, peer)) = accepted else {
            continue;
        };
        if connections.len() >= max_connections {
            tracing::info!(%peer, max_connections, "admin listener busy, connection refused");
            continue;
        }
        connections.spawn(serve_connection(stream, peer, app.clone()));
    }
    connections.shutdown().await;
}

async fn serve_connection(stream: tokio::net::TcpStream, peer: SocketAddr, app: Router) {
    let service = TowerToHyperService::new(app);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(REQUEST_TIME)
        .keep_alive(false)
        .max_buf_size(16 * 1024);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(REQUEST_TIME, connection).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "admin connection failed"),
        Err(_) => tracing::info!(%peer, "admin request took too long, connection closed"),
    }
}

async fn ready<P: Probe>(State(probe): State<Arc<P>>) -> Response {
    match probe.ready().await {
        Ok(()) => "ready\n".into_response(),
        Err(why) => {
            tracing::warn!(reason = %why, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
            )
                .into_response()
        }
    }
}

async fn metrics<P: Probe>(State(probe): State<Arc<P>>) -> Response {
    ([(header::CONTENT_TYPE, OPENMETRICS)], probe.metrics().await).into_response()
}
