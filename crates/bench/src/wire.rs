//! Loopback source addresses, raw connections (lean members, the baseline relay's members,
//! the idle connections), and the framing they and the relay share, which looks at nothing
//! but the message boundaries and the few headers an answer echoes.

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
    let body = match header(head, "content-length", "l") {
        None => 0,
        Some(v) => std::str::from_utf8(v)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .ok_or_else(|| BenchError::Failed("a bad Content-Length".into()))?,
    };
    let len = head_end + 4 + body;
    if buf.len() < len {
        return Ok(Frame::Partial);
    }
    Ok(Frame::Message {
        len,
        request: !head.starts_with(b"SIP/2.0"),
    })
}

/// A whole message (as [`frame`] delimited it) cut into its head, without the blank line,
/// and its body.
pub fn split(message: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memmem::find(message, b"\r\n\r\n") {
        Some(end) => (&message[..end], &message[end + 4..]),
        None => (message, &[]),
    }
}

/// The header lines of a head (the start line skipped), each as its name, its value, and
/// the whole line without its line end. Names and values are trimmed.
fn header_lines(head: &[u8]) -> impl Iterator<Item = (&[u8], &[u8], &[u8])> {
    head.split(|b| *b == b'\n').skip(1).filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = memchr::memchr(b':', line)?;
        Some((
            line[..colon].trim_ascii(),
            line[colon + 1..].trim_ascii(),
            line,
        ))
    })
}

/// The value of the header called `name` or by its compact form `compact`; the last one
/// where there are several (only a malformed message repeats a single-valued header).
pub fn header<'a>(head: &'a [u8], name: &str, compact: &str) -> Option<&'a [u8]> {
    header_lines(head)
        .filter(|(n, _, _)| {
            n.eq_ignore_ascii_case(name.as_bytes()) || n.eq_ignore_ascii_case(compact.as_bytes())
        })
        .map(|(_, v, _)| v)
        .last()
}

/// Every value of the header `name` (full form only), in order.
pub fn headers<'a>(head: &'a [u8], name: &'a str) -> impl Iterator<Item = &'a [u8]> {
    header_lines(head)
        .filter(move |(n, _, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v, _)| v)
}

/// The status code of a response head.
pub fn status(head: &[u8]) -> Option<u16> {
    let code = head.strip_prefix(b"SIP/2.0 ")?.get(..3)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// The sequence number of a head's CSeq.
pub fn cseq(head: &[u8]) -> Option<u32> {
    let value = header(head, "cseq", "cseq")?;
    let number = value.split(|b| *b == b' ').next()?;
    std::str::from_utf8(number).ok()?.parse().ok()
}

/// Appends the `200 OK` that answers the request whose head is `head`: its Via, From, To,
/// Call-ID and CSeq lines copied as they came (RFC 3261 §8.2.6.2), which is all the server
/// matches an answer by. The To already carries our tag: in a dialog the server writes it.
pub fn answer_ok(head: &[u8], out: &mut Vec<u8>) {
    const ECHOED: [&[u8]; 9] = [
        b"via", b"v", b"from", b"f", b"to", b"t", b"call-id", b"i", b"cseq",
    ];
    out.extend_from_slice(b"SIP/2.0 200 OK\r\n");
    for (name, _, line) in header_lines(head) {
        if ECHOED.iter().any(|e| name.eq_ignore_ascii_case(e)) {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
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
    fn a_request_is_answered_by_its_transaction_headers_only() {
        let head = b"INFO sip:m@127.0.0.1 SIP/2.0\r\n\
            Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKa\r\n\
            v: SIP/2.0/TLS 10.0.0.1;branch=z9hG4bKb\r\n\
            From: <sip:chatsrv@x>;tag=s\r\nTo: <sip:m@x>;tag=c;epid=e\r\n\
            Call-ID: c1\r\nCSeq: 7 INFO\r\nContent-Type: text/plain\r\nContent-Length: 3";
        let mut out = Vec::new();
        answer_ok(head, &mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "SIP/2.0 200 OK\r\n\
             Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKa\r\n\
             v: SIP/2.0/TLS 10.0.0.1;branch=z9hG4bKb\r\n\
             From: <sip:chatsrv@x>;tag=s\r\nTo: <sip:m@x>;tag=c;epid=e\r\n\
             Call-ID: c1\r\nCSeq: 7 INFO\r\nContent-Length: 0\r\n\r\n"
        );
        let (answer, body) = split(&out);
        assert_eq!(
            (status(answer), cseq(answer), body),
            (Some(200), Some(7), &b""[..])
        );
        assert_eq!(header(head, "call-id", "i"), Some(&b"c1"[..]));
        assert_eq!(headers(head, "via").count(), 1, "full names only");
        assert_eq!(status(head), None, "a request has no status");
    }

    #[test]
    fn sources_cycle_over_loopback() {
        assert_eq!(source(0, 8).to_string(), "127.0.0.1");
        assert_eq!(source(9, 8).to_string(), "127.0.0.2");
    }
}
