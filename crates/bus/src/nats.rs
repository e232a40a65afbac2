//! A node's connection to the pool's NATS server: one task drains the outgoing queue into
//! NATS, another turns the installation's subscription into [`Inbound`] items.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::event::Event;
use crate::subject::Subjects;
use crate::{BusError, Inbound};

/// Events waiting to go out. At the design rate (a few dozen a second) this is minutes of
/// traffic; it fills only while NATS is away, and then gap repair takes over.
const OUTGOING: usize = 4096;

/// Events heard but not yet applied by the node. The subscription's own buffer (async-nats
/// drops past it, reporting a slow consumer) is behind this one.
const INCOMING: usize = 4096;

/// A node connected to NATS. Cloning is cheap: the clones share the queue and connection.
#[derive(Debug, Clone)]
pub struct Nats {
    node_id: Arc<str>,
    client: async_nats::Client,
    outgoing: mpsc::Sender<Outgoing>,
    dropped: Arc<AtomicU64>,
}

/// What the sending task takes from the queue.
#[derive(Debug)]
enum Outgoing {
    Event(Event),
    /// Everything queued before has been handed to NATS and written out: answered once
    /// the connection is flushed (or cannot be).
    Flush(oneshot::Sender<()>),
}

/// What the node hears from the pool, in the order NATS delivered it.
#[derive(Debug)]
pub struct Incoming {
    items: mpsc::Receiver<Inbound>,
}

impl Incoming {
    /// The next item; `None` once the connection is closed for good.
    pub async fn next(&mut self) -> Option<Inbound> {
        self.items.recv().await
    }
}

impl Nats {
    pub(crate) async fn connect(
        url: &str,
        domain: &str,
        node_id: &str,
    ) -> Result<(Nats, Incoming), BusError> {
        let (items, receiver) = mpsc::channel(INCOMING);
        let connected = items.clone();
        let client = async_nats::ConnectOptions::new()
            .name(format!("parlance {node_id}"))
            // A node's own events went to its sessions directly.
            .no_echo()
            // A pool outlives NATS restarts: reconnect for as long as it takes.
            .max_reconnects(None)
            .event_callback(move |event| {
                let connected = connected.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!("connected to NATS");
                            // Full means the node is behind anyway; it repairs on its next
                            // periodic check.
                            let _ = connected.try_send(Inbound::Connected);
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!("lost the connection to NATS; reconnecting")
                        }
                        other => tracing::warn!(event = %other, "NATS"),
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|source| BusError::Connect {
                url: url.to_owned(),
                source,
            })?;
        let subjects = Subjects::new(domain);
        let subscription = client.subscribe(subjects.everything()).await?;
        tokio::spawn(receive(subscription, items.clone()));
        // The first connection is a connection too: ask the others who is where.
        let _ = items.try_send(Inbound::Connected);
        let (outgoing, queue) = mpsc::channel(OUTGOING);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(send(client.clone(), subjects, queue));
        Ok((
            Nats {
                node_id: Arc::from(node_id),
                client,
                outgoing,
                dropped,
            },
            Incoming { items: receiver },
        ))
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Queues an event; when the queue is full (NATS away for long) it is dropped, and the
    /// first drop after a successful queueing is logged.
    pub(crate) fn publish(&self, event: Event) {
        match self.outgoing.try_send(Outgoing::Event(event)) {
            Ok(()) => {
                let dropped = self.dropped.swap(0, Ordering::Relaxed);
                if dropped > 0 {
                    tracing::info!(dropped, "relaying to the pool again");
                }
            }
            Err(_) => {
                if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(
                        "the relay's queue is full (NATS away?): events dropped until it drains; \
                         the other nodes repair from the store"
                    );
                }
            }
        }
    }

    /// Waits until every event queued so far is written to NATS: a node that stops does
    /// this before it exits, so that its last parts reach the others. The caller bounds the
    /// wait (NATS may be away).
    pub(crate) async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.outgoing.send(Outgoing::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }
}

/// Drains the queue into NATS, in order. The subject is chosen here, off the poster's path.
async fn send(client: async_nats::Client, subjects: Subjects, mut queue: mpsc::Receiver<Outgoing>) {
    while let Some(item) = queue.recv().await {
        let event = match item {
            Outgoing::Event(event) => event,
            Outgoing::Flush(done) => {
                if let Err(e) = client.flush().await {
                    tracing::warn!(error = %e, "the relay's last events may not have left");
                }
                let _ = done.send(());
                continue;
            }
        };
        let subject = match &event {
            Event::Room(e) => subjects.room(e.room),
            Event::RosterRequest { origin } => subjects.node(origin),
            Event::Roster(part) => subjects.node(&part.origin),
        };
        if let Err(e) = client.publish(subject, Bytes::from(event.encode())).await {
            tracing::warn!(error = %e, "event not relayed");
        }
    }
}

/// Decodes what the subscription delivers and hands it on.
async fn receive(mut subscription: async_nats::Subscriber, items: mpsc::Sender<Inbound>) {
    while let Some(message) = subscription.next().await {
        match Event::decode(&message.payload) {
            Ok(event) => {
                if items.send(Inbound::Event(event)).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::warn!(
                subject = %message.subject,
                bytes = message.payload.len(),
                error = %e,
                "undecodable message on the pool's subjects, ignored"
            ),
        }
    }
}
