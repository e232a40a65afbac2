//! The connection's I/O: one task reads and frames SIP messages, one writes what it is
//! given and keeps the connection alive with CRLFs when idle. No protocol state lives here;
//! the session talks to it through channels.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use sip_proto::{Decoder, Item, Limits, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{ServerAddr, Transport};
use crate::dial;
use crate::error::ClientError;

/// Messages read but not yet taken by the session; past this the reader stops reading and
/// TCP flow control slows the server down.
const INBOUND_QUEUE: usize = 256;

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
    /// Connects to `to`, an address of `server` (TCP, then TLS unless plain TCP was asked
    /// for), within `timeout`.
    pub async fn open(
        server: &ServerAddr,
        to: SocketAddr,
        transport: &Transport,
        from: Option<IpAddr>,
        timeout: Duration,
    ) -> Result<Link, ClientError> {
        let tcp = dial::tcp_at(server, to, from, timeout).await?;
        let local = tcp.local_addr().map_err(|e| ClientError::Unreachable {
            server: server.to_string(),
            reason: e.to_string(),
        })?;
        let (stream, secure): (Box<dyn Stream>, bool) = match transport {
            Transport::Tcp => (Box::new(tcp), false),
            Transport::Tls(trust) => (
                Box::new(dial::tls(server, trust, &[], tcp, timeout).await?),
                true,
            ),
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
