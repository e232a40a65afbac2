//! Opening connections to a server: TCP (from a chosen local address when asked), then TLS
//! checked as [`Trust`] says. The SIP link and file transfers dial the same way, so a
//! certificate trusted for one is trusted for the other.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;

use crate::config::ServerAddr;
use crate::error::ClientError;
use crate::tls::{self, Trust};

/// A TCP connection to `server`, trying its addresses in turn (those of `from`'s family
/// when given), each within `timeout`.
pub(crate) async fn tcp(
    server: &ServerAddr,
    from: Option<IpAddr>,
    timeout: Duration,
) -> Result<TcpStream, ClientError> {
    let addrs = resolve(server, from)
        .await
        .map_err(|e| ClientError::Unreachable {
            server: server.to_string(),
            reason: e.to_string(),
        })?;
    let mut failure = None;
    for to in addrs {
        match tcp_at(server, to, from, timeout).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => failure = Some(e),
        }
    }
    Err(failure.unwrap_or_else(|| ClientError::Unreachable {
        server: server.to_string(),
        reason: "the name has no address".into(),
    }))
}

/// A TCP connection to `to`, one address of `server`, within `timeout`.
pub(crate) async fn tcp_at(
    server: &ServerAddr,
    to: SocketAddr,
    from: Option<IpAddr>,
    timeout: Duration,
) -> Result<TcpStream, ClientError> {
    let unreachable = |reason: String| ClientError::Unreachable {
        server: server.at(to),
        reason,
    };
    let tcp = tokio::time::timeout(timeout, connect(to, from))
        .await
        .map_err(|_| unreachable("no answer in time".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// Every address of `server`, in the resolver's order; only those of `from`'s family when
/// connecting from a given address. Never empty.
pub(crate) async fn resolve(
    server: &ServerAddr,
    from: Option<IpAddr>,
) -> std::io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((server.host.as_str(), server.port))
        .await?
        .filter(|a| from.is_none_or(|f| a.is_ipv4() == f.is_ipv4()))
        .collect();
    if addrs.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            match from {
                Some(from) => format!("no address of the same family as {from}"),
                None => "the name has no address".to_owned(),
            },
        ));
    }
    Ok(addrs)
}

async fn connect(to: SocketAddr, from: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = if to.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(from) = from {
        socket.bind(SocketAddr::new(from, 0))?;
    }
    socket.connect(to).await
}

/// TLS over `tcp` to `server`, whose certificate must be made out to its host, within
/// `timeout`, offering the application protocols `alpn` (none for SIP).
pub(crate) async fn tls(
    server: &ServerAddr,
    trust: &Trust,
    alpn: &[&[u8]],
    tcp: TcpStream,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, ClientError> {
    let name = server.to_string();
    let (config, presented) = tls::client_config(trust, alpn)?;
    let server_name = ServerName::try_from(server.host.clone()).map_err(|_| {
        ClientError::Config(format!(
            "{:?} is not a host name TLS can check",
            server.host
        ))
    })?;
    let handshake = tokio_rustls::TlsConnector::from(config).connect(server_name, tcp);
    tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| ClientError::Tls {
            server: name.clone(),
            reason: "the handshake took too long".into(),
        })?
        .map_err(|e| tls::handshake_error(&name, &server.host, &e, &presented))
}
