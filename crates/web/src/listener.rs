//! The HTTPS listener: accepts TLS connections up to a limit and serves HTTP/1.1 on each
//! with hyper, until the server shuts down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use parlance_clock::Clock;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::accept::accept;
use crate::body::{BodyError, BodyPace, BodyReader};
use crate::idle::{Activity, Watched};
use crate::timer::ClockTimer;

/// The connection-level policy of the listener.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Open connections at most; further ones are closed at once.
    pub max_connections: usize,
    /// The TLS handshake, then each request head, must arrive within this long of the
    /// connection being ready for it.
    pub header_timeout: Duration,
    /// No byte either way for this long closes the connection.
    pub idle_timeout: Duration,
    pub body_pace: BodyPace,
}

/// How long requests in progress at shutdown may take to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What a closing connection still reads and drops at most, and for how long.
const LINGER_BYTES: usize = 4 * 1024 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(2);

/// The most a request head may take (request line and headers), in bytes. hyper holds it
/// in its read buffer, which this also bounds.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

/// What a route knows of the connection its request came on: who is calling (for the logs),
/// and how its body must arrive. The listener puts it in every request's extensions.
#[derive(Debug, Clone)]
pub struct Conn {
    pub peer: SocketAddr,
    pace: BodyPace,
    clock: Clock,
}

impl Conn {
    /// The request's body, refused at once when it declares more than `limit` bytes.
    pub fn body(&self, body: Body, limit: u64) -> Result<BodyReader, BodyError> {
        BodyReader::new(body, limit, self.pace, self.clock.clone())
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` turns true; then stops accepting,
/// lets the requests in progress finish (within [`SHUTDOWN_GRACE`]) and closes every
/// connection.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    settings: WebSettings,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
) {
    let context = Arc::new(Context {
        acceptor: TlsAcceptor::from(tls),
        app,
        settings,
        clock,
    });
    let mut connections = JoinSet::new();
    let mut refusing = false;
    loop {
        let accepted = tokio::select! {
            accepted = accept(&listener, "HTTPS") => accepted,
            Some(_) = connections.join_next() => continue,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let Some((stream, peer)) = accepted else {
            continue;
        };
        if connections.len() >= context.settings.max_connections {
            if !refusing {
                tracing::warn!(
                    limit = context.settings.max_connections,
                    %peer,
                    "HTTPS connection limit reached, refusing connections"
                );
                refusing = true;
            }
            continue;
        }
        refusing = false;
        let _ = stream.set_nodelay(true);
        connections.spawn(serve_connection(
            stream,
            peer,
            context.clone(),
            shutdown.clone(),
        ));
    }
    drop(listener);
    // Every connection saw the same signal: idle ones are closed, busy ones close after
    // the response in progress.
    let drained = async { while connections.join_next().await.is_some() {} };
    tokio::select! {
        () = drained => {}
        () = context.clock.sleep(SHUTDOWN_GRACE) => {
            tracing::info!(open = connections.len(), "HTTPS requests still running at shutdown, closing their connections");
            connections.shutdown().await;
        }
    }
}

struct Context {
    acceptor: TlsAcceptor,
    app: Router,
    settings: WebSettings,
    clock: Clock,
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    context: Arc<Context>,
    mut shutdown: watch::Receiver<bool>,
) {
    let settings = &context.settings;
    let handshake = tokio::select! {
        tls = context.acceptor.accept(stream) => tls,
        () = context.clock.sleep(settings.header_timeout) => {
            tracing::info!(%peer, "HTTPS: TLS handshake timed out");
            return;
        }
        _ = shutdown.wait_for(|stop| *stop) => return,
    };
    let tls = match handshake {
        Ok(tls) => tls,
        Err(e) => {
            tracing::info!(%peer, error = %e, "HTTPS: TLS handshake failed");
            return;
        }
    };
    let activity = Activity::new(context.clock.clone());
    let io = TokioIo::new(Watched::new(tls, activity.clone()));
    let conn_info = Conn {
        peer,
        pace: settings.body_pace,
        clock: context.clock.clone(),
    };
    let app = TowerToHyperService::new(context.app.clone());
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(conn_info.clone());
        hyper::service::Service::call(&app, request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(ClockTimer(context.clock.clone()))
        .header_read_timeout(settings.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    let mut connection = builder.serve_connection(io, service);
    let mut closing = false;
    loop {
        tokio::select! {
            served = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)) => {
                match served {
                    Ok(()) => break,
                    Err(e) => {
                        log_connection_error(peer, &e);
                        return;
                    }
                }
            }
            () = activity.idle_for(settings.idle_timeout) => {
                tracing::info!(%peer, "HTTPS: idle timeout, closing connection");
                return;
            }
            _ = shutdown.wait_for(|stop| *stop), if !closing => closing = true,
        }
        // Outside the select, whose first branch holds the connection.
        std::pin::Pin::new(&mut connection).graceful_shutdown();
    }
    linger(connection.into_parts().io.into_inner(), &context.clock).await;
}

/// Closing a socket with bytes unread makes the kernel answer with a reset, which can
/// destroy a response the client has not read yet: a refusal sent before the body (a 413
/// for an announced length) would reach the client as a broken pipe. So the connection's
/// sending side is closed first and what the client still sends is read and dropped, for
/// a bounded time and amount, before the socket closes.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, clock: &Clock) {
    let drain = async {
        let _ = stream.shutdown().await;
        let mut buf = vec![0; 16 * 1024];
        let mut left = LINGER_BYTES;
        while left > 0 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    tokio::select! {
        () = drain => {}
        () = clock.sleep(LINGER_TIME) => {}
    }
}

/// A connection ended by an error: the client's doing (a head too slow, too large, not
/// HTTP) is worth a line; a client that went away mid-response is not.
fn log_connection_error(peer: SocketAddr, e: &hyper::Error) {
    if e.is_timeout() {
        tracing::info!(%peer, "HTTPS: request head timed out, closing connection");
    } else if e.is_parse() || e.is_parse_too_large() {
        tracing::info!(%peer, error = %e, "HTTPS: malformed request, closing connection");
    } else {
        tracing::debug!(%peer, error = %e, "HTTPS connection failed");
    }
}
