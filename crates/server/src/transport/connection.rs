//! One connection's reader and writer.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sip_proto::{Decoder, Item, Limits};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use super::{ConnHandle, Dispatch};

/// Bytes the writer gathers from its queue into one write.
const WRITE_BATCH: usize = 64 * 1024;

/// How long a closing connection may take to write out what is still queued.
const FINAL_FLUSH: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    pub idle: Duration,
    pub message: Duration,
}

/// Runs a connection until either side closes it. Returns when both halves are done.
pub(super) async fn run<S, D>(
    stream: S,
    conn: ConnHandle,
    rx: mpsc::Receiver<Bytes>,
    dispatch: Arc<D>,
    limits: Limits,
    timeouts: Timeouts,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
    D: Dispatch,
{
    let (reader, writer) = tokio::io::split(stream);
    let writer_task = tokio::spawn(write_loop(writer, rx, conn.clone()));
    read_loop(reader, &conn, &*dispatch, limits, timeouts).await;
    conn.close();
    dispatch.on_closed(&conn).await;
    let _ = writer_task.await;
}

async fn read_loop<R, D>(
    mut reader: R,
    conn: &ConnHandle,
    dispatch: &D,
    limits: Limits,
    timeouts: Timeouts,
) where
    R: AsyncRead + Unpin,
    D: Dispatch,
{
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::with_capacity(4096);
    let mut last_activity = Instant::now();
    let mut message_started: Option<Instant> = None;
    loop {
        // Between messages a peer may idle (keep-alives reset this); once a message has
        // started it must be completed promptly, or it is a slow sender holding memory.
        let deadline = match message_started {
            Some(start) => start + timeouts.message,
            None => last_activity + timeouts.idle,
        };
        let read = tokio::select! {
            r = timeout_at(deadline, reader.read_buf(&mut buf)) => r,
            () = conn.closed() => return,
        };
        match read {
            Err(_) => {
                let why = if message_started.is_some() {
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
            Ok(Ok(_)) => last_activity = Instant::now(),
        }
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Item::Message(m))) => dispatch.on_message(conn, m).await,
                Ok(Some(Item::Rejected(r))) => dispatch.on_rejected(conn, r).await,
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
        message_started = if decoder.is_between_messages(&buf) {
            None
        } else {
            message_started.or(Some(last_activity))
        };
    }
}

async fn write_loop<W>(mut writer: W, mut rx: mpsc::Receiver<Bytes>, conn: ConnHandle)
where
    W: AsyncWrite + Unpin,
{
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    loop {
        let first = tokio::select! {
            biased;
            m = rx.recv() => m,
            () = conn.closed() => None,
        };
        let Some(first) = first else { break };
        batch.clear();
        batch.extend_from_slice(&first);
        // Whatever else is already queued goes out in the same write.
        while batch.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if let Err(e) = writer.write_all(&batch).await {
            tracing::debug!(conn = conn.id(), error = %e, "write failed");
            conn.close();
            break;
        }
    }
    // Flush what was queued before the close (e.g. the answer that preceded it), but do
    // not wait long on a peer that stopped reading.
    let flush = async {
        while let Ok(more) = rx.try_recv() {
            writer.write_all(&more).await?;
        }
        writer.shutdown().await
    };
    let _ = tokio::time::timeout(FINAL_FLUSH, flush).await;
}
