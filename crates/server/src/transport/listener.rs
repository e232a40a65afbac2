//! TCP and TLS listeners with a global connection limit.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{Either, FutureExt, OptionFuture};
use parlance_clock::Clock;
use rustls::ServerConfig;
use sip_proto::Limits;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::connection::{self, Timeouts};
use super::tls;
use super::{Connections, Dispatch, Transport};
use crate::config::SipConfig;

/// Bound listening sockets, before serving.
pub struct Listeners {
    pub tcp: Option<TcpListener>,
    pub tls: Option<(TcpListener, Arc<ServerConfig>)>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("tcp", &self.tcp_addr())
            .field("tls", &self.tls_addr())
            .finish()
    }
}

impl Listeners {
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Accepts connections until `shutdown` turns true, then closes every connection and
    /// waits (bounded) for them to finish.
    pub async fn serve<D: Dispatch>(
        self,
        config: SipConfig,
        connections: Arc<Connections>,
        dispatch: Arc<D>,
        clock: Clock,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let ctx = Arc::new(AcceptContext {
            limits: config.message_limits(),
            timeouts: Timeouts {
                idle: Duration::from_secs(config.idle_timeout_secs),
                message: Duration::from_secs(config.message_timeout_secs),
                auth: Duration::from_secs(config.auth_timeout_secs),
                clock,
            },
            handshake: Duration::from_secs(config.handshake_timeout_secs),
            config,
            connections: connections.clone(),
            active: AtomicUsize::new(0),
            per_address: Mutex::new(HashMap::new()),
        });
        let mut tasks = JoinSet::new();
        if let Some(tcp) = self.tcp {
            tasks.spawn(accept_loop(
                tcp,
                None,
                ctx.clone(),
                dispatch.clone(),
                shutdown.clone(),
            ));
        }
        if let Some((tls, config)) = self.tls {
            tasks.spawn(accept_loop(
                tls,
                Some(config),
                ctx.clone(),
                dispatch.clone(),
                shutdown.clone(),
            ));
        }
        let _ = shutdown.wait_for(|stop| *stop).await;
        tasks.abort_all();
        connections.close_all();
        // Give connections time to flush their last answers and run their close hooks
        // (which record departures); what is left after that is ended by the caller.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while ctx.active.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub async fn bind_listeners(
    config: &SipConfig,
    tls: Option<Arc<ServerConfig>>,
) -> Result<Listeners, ListenError> {
    let tcp = match config.tcp_listen {
        Some(addr) => Some(listen("SIP over TCP", addr).await?),
        None => None,
    };
    let tls = match (config.tls_listen, tls) {
        (Some(addr), Some(config)) => Some((listen("SIP over TLS", addr).await?, config)),
        _ => None,
    };
    Ok(Listeners { tcp, tls })
}

/// A listening socket that could not be opened, named for the operator: which listener,
/// on which address (a port in use, a privileged port, an address not on this host).
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for {what} on {addr}: {source}")]
pub struct ListenError {
    pub what: &'static str,
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// Binds one listener and says so in the log, with the address it got (port 0 picks one).
pub async fn listen(what: &'static str, addr: SocketAddr) -> Result<TcpListener, ListenError> {
    let error = |source| ListenError { what, addr, source };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let bound = listener.local_addr().map_err(error)?;
    tracing::info!(listener = what, addr = %bound, "listening on {bound}");
    Ok(listener)
}

#[derive(Debug)]
struct AcceptContext {
    config: SipConfig,
    limits: Limits,
    timeouts: Timeouts,
    handshake: Duration,
    connections: Arc<Connections>,
    active: AtomicUsize,
    /// Open connections per source address, and whether reaching the limit was logged.
    per_address: Mutex<HashMap<IpAddr, (usize, bool)>>,
}

impl AcceptContext {
    /// Counts a new connection from `ip`, unless that address holds its share already.
    fn admit(&self, ip: IpAddr) -> bool {
        let limit = self.config.max_connections_per_address;
        let mut open = self.per_address.lock().expect("per address lock");
        let (count, logged) = open.entry(ip).or_default();
        if *count < limit {
            *count += 1;
            return true;
        }
        if !*logged {
            tracing::warn!(%ip, limit, "connection limit per address reached, refusing this address's new connections");
            *logged = true;
        }
        false
    }

    fn release(&self, ip: IpAddr) {
        let mut open = self.per_address.lock().expect("per address lock");
        if let Some((count, logged)) = open.get_mut(&ip) {
            *count -= 1;
            *logged = false;
            if *count == 0 {
                open.remove(&ip);
            }
        }
    }
}

async fn accept_loop<D: Dispatch>(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    ctx: Arc<AcceptContext>,
    dispatch: Arc<D>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut refused_logged = false;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if ctx.active.load(Ordering::SeqCst) >= ctx.config.max_connections {
            if !refused_logged {
                tracing::warn!(
                    limit = ctx.config.max_connections,
                    "connection limit reached, refusing connections"
                );
                refused_logged = true;
            }
            drop(stream);
            continue;
        }
        refused_logged = false;
        if !ctx.admit(peer.ip()) {
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        ctx.active.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(connection_task(
            stream,
            peer,
            tls.clone(),
            ctx.clone(),
            dispatch.clone(),
        ));
    }
}

/// A connection's task, from the accepted socket to its close.
///
/// Made of combinators rather than one `async` block: an `async` block or function keeps
/// what it captured, and the arguments it was called with, for its whole life, beside
/// whatever it moved them into. Every idle connection would hold the accepted socket
/// twice over and each layer's arguments again. Here the opening (the TLS handshake) and
/// the serving take turns in the same memory (`then`), and what the serving needs is held
/// once.
fn connection_task<D: Dispatch>(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<ServerConfig>>,
    ctx: Arc<AcceptContext>,
    dispatch: Arc<D>,
) -> impl Future<Output = ()> + Send {
    let opened = stream.local_addr().ok().map(|local| {
        let transport = match tls {
            Some(_) => Transport::Tls,
            None => Transport::Tcp,
        };
        let conn = ctx
            .connections
            .register(peer, local, transport, ctx.config.write_queue_bytes);
        tracing::debug!(conn = conn.id(), %peer, ?transport, "connection opened");
        conn
    });
    let serving = opened.clone().map(|conn| {
        let (limits, timeouts) = (ctx.limits, ctx.timeouts.clone());
        match tls {
            None => Either::Left(connection::run(stream, conn, dispatch, limits, timeouts)),
            Some(config) => Either::Right(
                handshake(config, stream, peer, ctx.handshake)
                    .then(move |opened| {
                        OptionFuture::from(opened.map(|tls_stream| {
                            connection::run(tls_stream, conn, dispatch, limits, timeouts)
                        }))
                    })
                    .map(drop),
            ),
        }
    });
    OptionFuture::from(serving).map(move |_| {
        if let Some(conn) = opened {
            ctx.connections.unregister(conn.id());
            tracing::debug!(conn = conn.id(), %peer, "connection closed");
        }
        ctx.release(peer.ip());
        ctx.active.fetch_sub(1, Ordering::SeqCst);
    })
}

/// The TLS handshake, within its time limit; `None` (logged) if it failed.
async fn handshake(
    config: Arc<ServerConfig>,
    stream: TcpStream,
    peer: SocketAddr,
    limit: Duration,
) -> Option<tls::TlsStream<TcpStream>> {
    // Boxed: the handshake's state is larger than the serving's, and would set the size of
    // the connection's task for its whole life.
    match Box::pin(tokio::time::timeout(limit, tls::accept(stream, config))).await {
        Ok(Ok(tls_stream)) => Some(tls_stream),
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timed out");
            None
        }
    }
}
