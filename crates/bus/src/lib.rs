//! The relay between the nodes of a pool. A single server is [`Bus::Local`]: nothing is
//! relayed, and the chat core's delivery path does not even build an event. A pool's nodes
//! share a NATS server ([`Bus::Nats`]): each publishes what happened in its rooms (posts,
//! joins, parts, changed settings) and hears everyone else's as [`Inbound`] items.
//!
//! Publishing never waits: an event goes to a bounded queue that one task drains into NATS.
//! While NATS is away the queue fills and further events are dropped (counted, logged);
//! the receivers notice the gaps in the rooms' sequence numbers and re-read the missing
//! messages from the store, which is what makes the relay an optimisation of delivery
//! rather than its record.

pub mod event;
mod nats;
pub mod subject;

pub use event::{Event, Posted, Presence, RoomEvent, RoomEventKind, RosterPart};
pub use nats::{Incoming, Nats};

/// How nodes hear of each other's rooms.
#[derive(Debug, Clone, Default)]
pub enum Bus {
    /// One server: there is no one to tell.
    #[default]
    Local,
    /// A node of a pool, connected to NATS.
    Nats(Nats),
}

/// What a node hears from the pool.
#[derive(Debug)]
pub enum Inbound {
    /// Another node's event.
    Event(Event),
    /// The connection to NATS was made or made again: what was sent meanwhile may be lost,
    /// so the node asks for the others' rosters and repairs its rooms' gaps.
    Connected,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("cannot subscribe on NATS: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
}

impl Bus {
    /// Connects a node (`node_id`, unique in the pool) of the installation `domain` to the
    /// NATS server at `url`, and subscribes to the installation's events.
    pub async fn connect(
        url: &str,
        domain: &str,
        node_id: &str,
    ) -> Result<(Bus, Incoming), BusError> {
        let (nats, incoming) = Nats::connect(url, domain, node_id).await?;
        Ok((Bus::Nats(nats), incoming))
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Bus::Local)
    }

    /// Sends an event to the other nodes, without waiting (see the crate's documentation).
    pub fn publish(&self, event: Event) {
        if let Bus::Nats(nats) = self {
            nats.publish(event);
        }
    }

    /// Waits until every event published so far is written to NATS (at once for a single
    /// server): a node that stops does this last, so that its final parts reach the pool.
    /// Unbounded while NATS is away: the caller sets a deadline.
    pub async fn flush(&self) {
        if let Bus::Nats(nats) = self {
            nats.flush().await;
        }
    }

    /// This node's id in the pool, when in one.
    pub fn node_id(&self) -> Option<&str> {
        match self {
            Bus::Local => None,
            Bus::Nats(nats) => Some(nats.node_id()),
        }
    }

    /// The NATS connection, for other pool traffic (SIP forwarding between nodes).
    pub fn client(&self) -> Option<&async_nats::Client> {
        match self {
            Bus::Local => None,
            Bus::Nats(nats) => Some(nats.client()),
        }
    }
}
