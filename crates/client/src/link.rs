//! The connection's I/O: one task reads and frames SIP messages, one writes what it is
//! given and keeps the connection alive with CRLFs when idle. No protocol state lives here;
//! the session talks to it through channels.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use rustls::pki_types::ServerName;
use sip_proto::{Decoder, Item, Limits, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{ServerAddr, Transport};
use crate::error::ClientError;
use crate::tls;

/// Messages read but not yet taken by the session; past this the reader stops reading and
/// TCP flow control slows the server down.
const INBOUND_QUEUE: usize = 256;

/// A TCP connection to `server`, from `from` when given (to the server's first address of
/// the same family).
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

trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// What the reader reports.
#[derive(Debug)]
pub(crate) enum LinkEvent {
    Message(Message),
    /// The connection is gone; why, in words.
    Closed(String),
}

enum Outgoing {
    Bytes(Vec<u8>),
    /// Write a CRLF keep-alive after this long without writing (`ms-keep-alive`).
    KeepAlive(Duration),
}

/// An open connection to the server.
#[derive(Debug)]
pub(crate) struct Link {
    out: mpsc::UnboundedSender<Outgoing>,
    events: mpsc::Receiver<LinkEvent>,
    local: SocketAddr,
    secure: bool,
    reader: JoinHandle<()>,
}

impl Link {
    /// Connects (TCP, then TLS unless plain TCP was asked for) within `timeout`.
    pub async fn open(
        server: &ServerAddr,
        transport: &Transport,
        from: Option<IpAddr>,
        timeout: Duration,
    ) -> Result<Link, ClientError> {
        let name = server.to_string();
        let unreachable = |reason: String| ClientError::Unreachable {
            server: name.clone(),
            reason,
        };
        let tcp = tokio::time::timeout(timeout, connect(server, from))
            .await
            .map_err(|_| unreachable("no answer in time".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().map_err(|e| unreachable(e.to_string()))?;
        let (stream, secure): (Box<dyn Stream>, bool) = match transport {
            Transport::Tcp => (Box::new(tcp), false),
            Transport::Tls(trust) => {
                let (config, presented) = tls::client_config(trust)?;
                let server_name = ServerName::try_from(server.host.clone()).map_err(|_| {
                    ClientError::Config(format!(
                        "{:?} is not a host name TLS can check",
                        server.host
                    ))
                })?;
                let handshake = tokio_rustls::TlsConnector::from(config).connect(server_name, tcp);
                let tls = tokio::time::timeout(timeout, handshake)
                    .await
                    .map_err(|_| ClientError::Tls {
                        server: name.clone(),
                        reason: "the handshake took too long".into(),
                    })?
                    .map_err(|e| tls::handshake_error(&name, &server.host, &e, &presented))?;
                (Box::new(tls), true)
            }
        };
        let (rd, wr) = tokio::io::split(stream);
        let (out, out_rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::channel(INBOUND_QUEUE);
        let reader = tokio::spawn(read_loop(rd, events_tx.clone()));
        tokio::spawn(write_loop(wr, out_rx, events_tx));
        Ok(Link {
            out,
            events,
            local,
            secure,
            reader,
        })
    }

    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// `TLS` or `TCP`, as Via headers name the transport.
    pub fn transport(&self) -> &'static str {
        if self.secure { "TLS" } else { "TCP" }
    }

    /// Queues bytes for writing. A dead connection is reported by [`Link::next`].
    pub fn send(&self, bytes: Vec<u8>) {
        let _ = self.out.send(Outgoing::Bytes(bytes));
    }

    pub fn keep_alive(&self, every: Duration) {
        let _ = self.out.send(Outgoing::KeepAlive(every));
    }

    /// The next message from the server, or why the connection ended.
    pub async fn next(&mut self) -> LinkEvent {
        self.events
            .recv()
            .await
            .unwrap_or_else(|| LinkEvent::Closed("the connection was closed".into()))
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // The writer ends when `out` is dropped; the reader might wait on the socket for ever.
        self.reader.abort();
    }
}

async fn read_loop(mut rd: ReadHalf<Box<dyn Stream>>, events: mpsc::Sender<LinkEvent>) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut decoder = Decoder::new(Limits::default());
    let reason = 'read: loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Item::Message(m))) => {
                    if events.send(LinkEvent::Message(m)).await.is_err() {
                        return;
                    }
                }
                Ok(Some(Item::Rejected(r))) => {
                    tracing::debug!(error = %r.error, "unreadable message from the server skipped")
                }
                Ok(None) => break,
                Err(e) => break 'read format!("the server's messages cannot be framed: {e}"),
            }
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) => break "the server closed the connection".to_owned(),
            Ok(_) => {}
            Err(e) => break e.to_string(),
        }
    };
    let _ = events.send(LinkEvent::Closed(reason)).await;
}

async fn write_loop(
    mut wr: WriteHalf<Box<dyn Stream>>,
    mut out: mpsc::UnboundedReceiver<Outgoing>,
    events: mpsc::Sender<LinkEvent>,
) {
    let mut keep_alive: Option<Duration> = None;
    loop {
        let idle = async {
            match keep_alive {
                Some(every) => tokio::time::sleep(every).await,
                None => std::future::pending().await,
            }
        };
        let bytes = tokio::select! {
            next = out.recv() => match next {
                Some(Outgoing::Bytes(b)) => b,
                Some(Outgoing::KeepAlive(every)) => {
                    keep_alive = Some(every);
                    continue;
                }
                None => {
                    let _ = wr.shutdown().await;
                    return;
                }
            },
            () = idle => b"\r\n\r\n".to_vec(),
        };
        let written = async {
            wr.write_all(&bytes).await?;
            wr.flush().await
        };
        if let Err(e) = written.await {
            let _ = events
                .send(LinkEvent::Closed(format!("writing failed: {e}")))
                .await;
            return;
        }
    }
}
