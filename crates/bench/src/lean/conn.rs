//! One raw SIP connection as a lean member holds it: the stream, what has been read and not
//! yet taken, and the framing that cuts messages out of it without decoding them. Every
//! request that arrives is answered `200 OK` at once, as a client must (the server ends a
//! dialog whose INFO goes unanswered or is refused).

use std::net::{IpAddr, SocketAddr};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::BenchError;
use crate::wire::{self, Dialer, Frame, Stream};

/// Room kept free in the read buffer: a few deliveries, so that one read takes whatever the
/// server's writer sent together.
const READ_ROOM: usize = 8 * 1024;

/// A message that arrived, already answered if it was a request.
pub enum Incoming<'a> {
    Request { body: &'a [u8] },
    Response { head: &'a [u8], body: &'a [u8] },
}

pub struct Conn {
    stream: Box<dyn Stream>,
    buf: BytesMut,
    /// Our end of the connection: what Via and Contact name.
    pub local: SocketAddr,
    /// `TLS` or `TCP`, as Via writes it.
    pub transport: &'static str,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("local", &self.local).finish()
    }
}

impl Conn {
    /// Connects from `from` to `to` as `dialer` does (TLS or TCP).
    pub async fn open(dialer: &Dialer, from: IpAddr, to: SocketAddr) -> Result<Conn, BenchError> {
        let (stream, local) = dialer.connect(from, to).await?;
        Ok(Conn {
            stream,
            buf: BytesMut::with_capacity(READ_ROOM),
            local,
            transport: dialer.transport(),
        })
    }

    /// Writes `bytes` and flushes them (with TLS, that is what sends the records).
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), BenchError> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(BenchError::io("writing to the server"))?;
        self.stream
            .flush()
            .await
            .map_err(BenchError::io("writing to the server"))
    }

    /// Waits for more bytes; `false` when the peer closed the connection.
    pub async fn read(&mut self) -> Result<bool, BenchError> {
        if self.buf.capacity() - self.buf.len() < READ_ROOM / 4 {
            self.buf.reserve(READ_ROOM);
        }
        let n = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .map_err(BenchError::io("reading from the server"))?;
        Ok(n > 0)
    }

    /// Takes every whole message read so far: each request is answered into `answers`
    /// (the caller writes them all at once) and handed to `on` with its body, each
    /// response with its head and body.
    pub fn take(
        &mut self,
        answers: &mut Vec<u8>,
        mut on: impl FnMut(Incoming<'_>),
    ) -> Result<(), BenchError> {
        loop {
            match wire::frame(&self.buf)? {
                Frame::Partial => return Ok(()),
                Frame::KeepAlive(n) => self.buf.advance(n),
                Frame::Message { len, request } => {
                    let (head, body) = wire::split(&self.buf[..len]);
                    if request {
                        wire::answer_ok(head, answers);
                        on(Incoming::Request { body });
                    } else {
                        on(Incoming::Response { head, body });
                    }
                    self.buf.advance(len);
                }
            }
        }
    }

    /// Reads until `done` makes something of a message, answering requests meanwhile.
    pub async fn until<T>(
        &mut self,
        what: &str,
        mut done: impl FnMut(Incoming<'_>) -> Option<T>,
    ) -> Result<T, BenchError> {
        let mut answers = Vec::new();
        loop {
            let mut found = None;
            self.take(&mut answers, |m| {
                if found.is_none() {
                    found = done(m);
                }
            })?;
            if !answers.is_empty() {
                self.send(&answers).await?;
                answers.clear();
            }
            if let Some(found) = found {
                return Ok(found);
            }
            if !self.read().await? {
                return Err(BenchError::Failed(format!(
                    "the server closed the connection while {what}"
                )));
            }
        }
    }

    /// Sends a request and waits for the final answer with its CSeq number; its head and
    /// body. Provisional answers are passed over.
    pub async fn transact(
        &mut self,
        request: &[u8],
        cseq: u32,
        what: &str,
    ) -> Result<(Vec<u8>, Vec<u8>), BenchError> {
        self.send(request).await?;
        self.until(what, |m| match m {
            Incoming::Response { head, body }
                if wire::cseq(head) == Some(cseq)
                    && wire::status(head).is_some_and(|s| s >= 200) =>
            {
                Some((head.to_vec(), body.to_vec()))
            }
            _ => None,
        })
        .await
    }
}
