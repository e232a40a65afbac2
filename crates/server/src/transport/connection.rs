//! One connection's reader and writer.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, ready};
use std::time::Duration;

use bytes::BytesMut;
use sip_proto::{Decoder, Item, Limits};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::{ConnHandle, Dispatch};
use parlance_clock::Clock;

/// Bytes taken from the socket in one read (into a buffer on the stack, see [`read_some`]).
const READ_CHUNK: usize = 8 * 1024;

/// How long a closing connection may take to write out what is still queued.
const FINAL_FLUSH: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub(super) struct Timeouts {
    pub idle: Duration,
    pub message: Duration,
    /// How long a connection may stay open without authenticating.
    pub auth: Duration,
    /// What the deadlines are read on: the server's clock, which tests advance.
    pub clock: Clock,
}

/// Runs a connection until either side closes it: the returned future ends when both halves
/// are done. Not an `async fn`: its future would keep room for the `stream` argument for the
/// connection's whole life, after the split moved it out (over TLS some 1.2 KB). For the
/// same reason the reader gets references: an `async fn` keeps its arguments twice.
pub(super) fn run<S, D>(
    stream: S,
    conn: ConnHandle,
    dispatch: Arc<D>,
    limits: Limits,
    timeouts: Timeouts,
) -> impl Future<Output = ()> + Send
where
    S: AsyncRead + AsyncWrite + Send + 'static,
    D: Dispatch,
{
    let (mut reader, writer) = tokio::io::split(stream);
    let writer_task = tokio::spawn(write_loop(writer, conn.clone()));
    async move {
        read_loop(&mut reader, &conn, &*dispatch, &limits, &timeouts).await;
        conn.close();
        Box::pin(dispatch.on_closed(&conn)).await;
        let _ = writer_task.await;
    }
}

async fn read_loop<R, D>(
    reader: &mut R,
    conn: &ConnHandle,
    dispatch: &D,
    limits: &Limits,
    timeouts: &Timeouts,
) where
    R: AsyncRead + Unpin,
    D: Dispatch,
{
    let mut decoder = Decoder::new(*limits);
    // Empty (no allocation) whenever no message is partly read: most connections are idle.
    let mut buf = BytesMut::new();
    let clock = &timeouts.clock;
    let mut last_activity = clock.now();
    // An open socket costs the server whether or not anyone signs in over it. The reader
    // keeps this deadline itself rather than a task of its own per connection, which
    // would stay in memory for the whole time allowed.
    let sign_in_by = last_activity + timeouts.auth;
    let mut message_started: Option<std::time::Instant> = None;
    loop {
        // Between messages a peer may idle (keep-alives reset this); once a message has
        // started it must be completed promptly, or it is a slow sender holding memory.
        let mut deadline = match message_started {
            Some(start) => start + timeouts.message,
            None => last_activity + timeouts.idle,
        };
        if conn.signed_in_at().is_none() {
            deadline = deadline.min(sign_in_by);
        }
        let read = tokio::select! {
            r = read_some(reader, &mut buf) => Ok(r),
            () = clock.sleep_until(deadline) => Err(()),
            () = conn.closed() => return,
        };
        match read {
            Err(()) => {
                let why = if conn.signed_in_at().is_none() && clock.now() >= sign_in_by {
                    "not authenticated in time"
                } else if message_started.is_some() {
                    "incomplete message timed out"
                } else {
                    "idle timeout"
                };
                tracing::info!(conn = conn.id(), peer = %conn.peer(), "{why}, closing connection");
                return;
            }
            Ok(Ok(0)) => return,
            Ok(Err(e)) => {
                tracing::debug!(conn = conn.id(), peer = %conn.peer(), error = %e, "read failed");
                return;
            }
            Ok(Ok(_)) => last_activity = clock.now(),
        }
        loop {
            match decoder.decode_with(&mut buf, |head| dispatch.take_answer(conn, head)) {
                // Boxed: held inline, the handlers' futures would be part of this future,
                // which every connection keeps for as long as it is open.
                Ok(Some(Item::Message(m))) => Box::pin(dispatch.on_message(conn, m)).await,
                Ok(Some(Item::Rejected(r))) => Box::pin(dispatch.on_rejected(conn, r)).await,
                Ok(None) => break,
                Err(e) => {
                    // Nothing after this message can be delimited: answer it if its head
                    // was readable, then close.
                    tracing::warn!(conn = conn.id(), peer = %conn.peer(), error = %e, "framing lost, closing connection");
                    if let Some(answer) = decoder.framing_answer(&e) {
                        let _ = conn.send_response(answer);
                    }
                    return;
                }
            }
            if conn.is_closed() {
                return;
            }
        }
        if buf.is_empty() {
            // Let the allocation go (the messages just handed on may still share it) rather
            // than keep it while the peer is idle.
            buf = BytesMut::new();
        }
        message_started = if decoder.is_between_messages(&buf) {
            None
        } else {
            message_started.or(Some(last_activity))
        };
    }
}

/// Reads what the peer has sent and appends it to `buf`. The read lands in a buffer on the
/// stack, which exists only while the socket is polled: a connection waiting for its peer
/// holds no read buffer. Returns the number of bytes read, 0 at end of stream.
async fn read_some<R>(reader: &mut R, buf: &mut BytesMut) -> io::Result<usize>
where
    R: AsyncRead + Unpin,
{
    std::future::poll_fn(|cx| {
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut chunk = ReadBuf::uninit(&mut chunk);
        ready!(Pin::new(&mut *reader).poll_read(cx, &mut chunk))?;
        buf.extend_from_slice(chunk.filled());
        Poll::Ready(Ok(chunk.filled().len()))
    })
    .await
}

async fn write_loop<W>(mut writer: W, conn: ConnHandle)
where
    W: AsyncWrite + Unpin,
{
    // The batch lives only as long as the write: an idle connection keeps no buffer.
    while let Some(batch) = conn.next_batch().await {
        // The bytes stay counted as queued until they are written: a peer that stops
        // reading stalls the write, and what arrives meanwhile fills its budget.
        // Flushed too: over TLS, records the socket had no room for wait in the stream.
        let written = async {
            writer.write_all(&batch).await?;
            writer.flush().await
        }
        .await;
        conn.written(batch.len());
        if let Err(e) = written {
            tracing::debug!(conn = conn.id(), error = %e, "write failed");
            conn.close();
            break;
        }
    }
    // Flush what was queued before the close (e.g. the answer that preceded it), but do
    // not wait long on a peer that stopped reading.
    let flush = async {
        writer.write_all(&conn.take_queued()).await?;
        writer.shutdown().await
    };
    let _ = tokio::time::timeout(FINAL_FLUSH, flush).await;
    conn.discard_queued();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn read_some_appends_until_end_of_stream() {
        let (mut peer, mut local) = tokio::io::duplex(64);
        let mut buf = BytesMut::new();
        peer.write_all(b"REGISTER sip:").await.unwrap();
        assert_eq!(read_some(&mut local, &mut buf).await.unwrap(), 13);
        peer.write_all(b"example.com").await.unwrap();
        assert_eq!(read_some(&mut local, &mut buf).await.unwrap(), 11);
        assert_eq!(&buf[..], b"REGISTER sip:example.com");
        drop(peer);
        assert_eq!(read_some(&mut local, &mut buf).await.unwrap(), 0);
        assert_eq!(buf.len(), 24);
    }
}
