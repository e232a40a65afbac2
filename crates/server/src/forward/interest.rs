//! The addresses this node reaches, made known to the pool as NATS subscriptions: one per
//! address-of-record with a binding here, per GRUU of a device bound here, per service URI
//! of this node, each in the queue group all nodes share, so that a request published to
//! an address reaches exactly one node that reaches it. NATS keeps the table: what a node
//! subscribed goes when its NATS connection goes, so a node that dies leaves nothing
//! behind, and nothing here grows but with this node's own bindings.

use std::collections::HashMap;
use std::sync::Mutex;

use std::time::Duration;

use async_nats::{Client, Subscriber};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::envelope::{QUEUE_GROUP, address_subject};

/// How long a new registration waits for NATS to confirm that it is known pool-wide.
const ROUND_TRIP: Duration = Duration::from_secs(5);

pub(super) struct Interest {
    nats: Client,
    /// Where every subscription's messages go.
    inbox: mpsc::Sender<async_nats::Message>,
    /// Changes the registrar told of (under its lock, so nothing waits here), in order,
    /// until [`Interest::apply`] makes them.
    told: Mutex<Vec<(String, bool)>>,
    /// The subscription of each address reached, as the task that passes its messages on.
    /// Behind an async lock: changes are made one `apply` at a time, in the order told.
    held: tokio::sync::Mutex<HashMap<String, JoinHandle<()>>>,
}

impl Interest {
    pub fn new(nats: Client, inbox: mpsc::Sender<async_nats::Message>) -> Interest {
        Interest {
            nats,
            inbox,
            told: Mutex::new(Vec::new()),
            held: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn tell(&self, address: &str, reachable: bool) {
        self.told
            .lock()
            .expect("interest lock")
            .push((address.to_owned(), reachable));
    }

    /// Subscribes and unsubscribes as told, and waits until the NATS server has the
    /// subscriptions: once this returns, every node's requests for a new address come here.
    pub async fn apply(&self) {
        let mut held = self.held.lock().await;
        let told = std::mem::take(&mut *self.told.lock().expect("interest lock"));
        if told.is_empty() {
            return;
        }
        for (address, reachable) in told {
            if !reachable {
                if let Some(task) = held.remove(&address) {
                    // Dropping the subscriber unsubscribes.
                    task.abort();
                }
                continue;
            }
            if held.contains_key(&address) {
                continue;
            }
            match self
                .nats
                .queue_subscribe(address_subject(&address), QUEUE_GROUP.to_owned())
                .await
            {
                Ok(subscriber) => {
                    let task = tokio::spawn(pass_on(subscriber, self.inbox.clone()));
                    held.insert(address, task);
                }
                Err(e) => {
                    tracing::error!(%address, error = %e, "pool: address not announced; other nodes will not reach it");
                }
            }
        }
        self.round_trip().await;
    }

    /// Returns once the NATS server has handled everything this client sent so far. A
    /// flush only writes it out; a request to a subject nobody serves is answered "no
    /// responders" by the server itself, after our subscriptions because the server handles
    /// one connection's commands in order. (An echo to ourselves would not do: the bus's
    /// connection does not receive what it publishes.)
    async fn round_trip(&self) {
        let nobody = format!("parlance-sip.probe.{}", self.nats.new_inbox());
        let confirmed =
            match tokio::time::timeout(ROUND_TRIP, self.nats.request(nobody, Bytes::new())).await {
                Ok(Ok(_)) => true,
                Ok(Err(e)) => e.kind() == async_nats::RequestErrorKind::NoResponders,
                Err(_) => false,
            };
        if !confirmed {
            tracing::warn!("pool: NATS did not confirm this node's addresses in time");
        }
    }

    /// Unsubscribes from everything (shutdown).
    pub async fn clear(&self) {
        for (_, task) in self.held.lock().await.drain() {
            task.abort();
        }
    }
}

/// Passes a subscription's messages to the forwarder until either ends.
pub(super) async fn pass_on(mut subscriber: Subscriber, inbox: mpsc::Sender<async_nats::Message>) {
    while let Some(message) = subscriber.next().await {
        if inbox.send(message).await.is_err() {
            return;
        }
    }
}
