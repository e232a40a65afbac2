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

/// A TCP connection to `server` within `timeout`, from `from` when given (to the server's
/// first address of the same family).
pub(crate) async fn tcp(
    server: &ServerAddr,
    from: Option<IpAddr>,
    timeout: Duration,
) -> Result<TcpStream, ClientError> {
    let unreachable = |reason: String| ClientError::Unreachable {
        server: server.to_string(),
        reason,
    };
    let tcp = tokio::time::timeout(timeout, connect(server, from))
        .await
        .map_err(|_| unreachable("no answer in time".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

async fn connect(server: &ServerAddr, from: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(from) = from else {
        return TcpStream::connect((server.host.as_str(), server.port)).await;
    };
    let to = tokio::net::lookup_host((server.host.as_str(), server.port))
        .await?
        .find(|a| a.is_ipv4() == from.is_ipv4())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                format!("no address of the same family as {from}"),
            )
        })?;
    let socket = if from.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(from, 0))?;
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
