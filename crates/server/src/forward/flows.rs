//! Remote flows: on the node that serves a request, the stand-in for the connection of a
//! client on another node. It is a [`ConnHandle`] like any other — dialogs, flow tokens and
//! transactions hold it — whose writer publishes to the client's node instead of writing a
//! socket, and whose reader takes what that node relays.

use std::sync::Arc;

use async_nats::{Client, HeaderMap};
use bytes::{Bytes, BytesMut};
use sip_proto::{Decoder, Item, Limits};
use tokio::sync::mpsc;

use crate::transport::{ConnHandle, Dispatch};

/// Relayed messages a remote flow may hold before handling them. A connection's reader
/// takes one message at a time from its socket; here the origin node does not wait for
/// the handling, so the queue is bounded, and past it the origin is told the flow is busy.
pub(super) const INBOUND: usize = 64;

/// One remote flow, as the node serving it keeps it.
pub(super) struct Flow {
    pub conn: ConnHandle,
    pub inbound: mpsc::Sender<Bytes>,
}

/// Hands what the origin node relays to the front end, one message at a time in the order
/// sent, as a connection's reader does; ends when the flow closes, after the front end
/// heard of it (its dialogs end, its members leave their rooms).
pub(super) async fn read<D: Dispatch>(
    conn: ConnHandle,
    mut inbound: mpsc::Receiver<Bytes>,
    dispatch: Arc<D>,
    limits: Limits,
) {
    loop {
        let payload = tokio::select! {
            p = inbound.recv() => p,
            () = conn.closed() => None,
        };
        let Some(payload) = payload else { break };
        // The origin node read this message within the same limits; they are applied again
        // here, where it is handled.
        match Decoder::new(limits).decode(&mut BytesMut::from(&payload[..])) {
            Ok(Some(Item::Message(m))) => Box::pin(dispatch.on_message(&conn, m)).await,
            Ok(Some(Item::Rejected(r))) => Box::pin(dispatch.on_rejected(&conn, r)).await,
            Ok(None) | Err(_) => {
                tracing::warn!(
                    conn = conn.id(),
                    "pool: a relayed message is not one SIP message; dropped"
                );
            }
        }
        if conn.is_closed() {
            break;
        }
    }
    conn.close();
    Box::pin(dispatch.on_closed(&conn)).await;
}

/// Publishes what is sent over the flow to the client's node, under `headers` (which
/// name the client's connection there): everything queued since the last publish in one
/// NATS message, as a connection's writer writes it in one. The bytes count against the
/// flow's queue until NATS took them: a flow whose messages cannot leave fills its budget
/// and is closed, as a connection whose peer does not read is.
pub(super) async fn write(conn: ConnHandle, nats: Client, subject: String, headers: HeaderMap) {
    while let Some(batch) = conn.next_batch().await {
        let len = batch.len();
        let sent = nats
            .publish_with_headers(subject.clone(), headers.clone(), batch.into())
            .await;
        conn.written(len);
        if let Err(e) = sent {
            tracing::warn!(conn = conn.id(), error = %e, "pool: a remote flow's message was not published; flow closed");
            conn.close();
            conn.discard_queued();
            return;
        }
    }
    // What was queued before the close (the answer that preceded it) still goes.
    let rest = conn.take_queued();
    if !rest.is_empty() {
        let _ = nats
            .publish_with_headers(subject, headers, rest.into())
            .await;
    }
    conn.discard_queued();
}
