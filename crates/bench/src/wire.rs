//! Loopback source addresses, raw connections for what is not a chat client (the baseline
//! relay's members, the idle connections), and the relay's framing, which looks at nothing
//! but the message boundaries.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpSocket;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::error::BenchError;

pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// The `i`-th of `count` loopback source addresses: 127.0.0.1, 127.0.0.2, …
pub fn source(i: usize, count: usize) -> IpAddr {
    let n = u8::try_from(i % count.clamp(1, 250)).unwrap_or(0);
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + n))
}

/// How raw connections are made: TLS trusting one certificate, or plain TCP.
#[derive(Clone)]
pub struct Dialer {
    tls: Option<TlsConnector>,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Dialer {
    pub fn new(tls_cert: Option<&Path>) -> Result<Dialer, BenchError> {
        let Some(cert) = tls_cert else {
            return Ok(Dialer { tls: None });
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(cert).map_err(|e| BenchError::Tls(e.to_string()))? {
            roots
                .add(c.map_err(|e| BenchError::Tls(e.to_string()))?)
                .map_err(|e| BenchError::Tls(e.to_string()))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| BenchError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Dialer {
            tls: Some(TlsConnector::from(Arc::new(config))),
        })
    }

    pub fn transport(&self) -> &'static str {
        if self.tls.is_some() { "TLS" } else { "TCP" }
    }

    /// Connects from `from` (port chosen by the kernel) to `to`.
    pub async fn connect(
        &self,
        from: IpAddr,
        to: SocketAddr,
    ) -> Result<(Box<dyn Stream>, SocketAddr), BenchError> {
        let socket = TcpSocket::new_v4().map_err(BenchError::io("creating a socket"))?;
        socket
            .bind(SocketAddr::new(from, 0))
            .map_err(BenchError::io(format!("binding {from}")))?;
        let tcp = socket
            .connect(to)
            .await
            .map_err(BenchError::io(format!("connecting to {to}")))?;
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().map_err(BenchError::io("local address"))?;
        match &self.tls {
            None => Ok((Box::new(tcp), local)),
            Some(connector) => {
                let name = ServerName::IpAddress(to.ip().into());
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(BenchError::io("TLS handshake"))?;
                Ok((Box::new(tls), local))
            }
        }
    }
}

/// A TLS acceptor from PEM files (the relay uses the server's self-signed certificate).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, BenchError> {
    let tls = |e: &dyn std::fmt::Display| BenchError::Tls(format!("{}: {e}", cert.display()));
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls(&e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| tls(&e))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls(&e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// What [`frame`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// Not a whole message yet.
    Partial,
    /// `n` bytes of keep-alive CRLFs to skip.
    KeepAlive(usize),
    /// A whole message of `len` bytes; `request` unless it starts with `SIP/2.0`.
    Message { len: usize, request: bool },
}

/// Finds the first message's boundary: the end of the head, then `Content-Length` (or its
/// compact form `l`). Nothing else of the message is read.
pub fn frame(buf: &[u8]) -> Result<Frame, BenchError> {
    let crlfs = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if crlfs > 0 {
        return Ok(Frame::KeepAlive(crlfs));
    }
    let Some(head_end) = memchr::memmem::find(buf, b"\r\n\r\n") else {
        return Ok(Frame::Partial);
    };
    let head = &buf[..head_end];
    let mut body = 0usize;
    for line in head.split(|b| *b == b'\n').skip(1) {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            body = std::str::from_utf8(line[colon + 1..].trim_ascii())
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| BenchError::Failed("a bad Content-Length".into()))?;
        }
    }
    let len = head_end + 4 + body;
    if buf.len() < len {
        return Ok(Frame::Partial);
    }
    Ok(Frame::Message {
        len,
        request: !head.starts_with(b"SIP/2.0"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_finds_boundaries_only() {
        let msg =
            b"INFO sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabcSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            frame(msg).unwrap(),
            Frame::Message {
                len: 33,
                request: true
            }
        );
        assert_eq!(
            frame(&msg[33..]).unwrap(),
            Frame::Message {
                len: 37,
                request: false
            }
        );
        assert_eq!(frame(&msg[..31]).unwrap(), Frame::Partial);
        assert_eq!(frame(b"\r\n\r\nINFO").unwrap(), Frame::KeepAlive(4));
        assert!(frame(b"INFO x SIP/2.0\r\nContent-Length: x\r\n\r\n").is_err());
    }

    #[test]
    fn sources_cycle_over_loopback() {
        assert_eq!(source(0, 8).to_string(), "127.0.0.1");
        assert_eq!(source(9, 8).to_string(), "127.0.0.2");
    }
}
