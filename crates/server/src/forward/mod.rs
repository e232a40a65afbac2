//! Forwarding between the nodes of a pool, over the pool's NATS (docs/protocol.md,
//! "Pools"). Every node is a SIP front end; a client talks to the node it connected to.
//! When a request from it is for an address another node reaches — a user registered
//! there, that node's channel service, a dialog whose flows are there (its Record-Route
//! names the node) — the request is relayed to that node whole, beside the identity the
//! client's connection authenticated as, and handled there exactly as if the client were
//! connected to it: through a remote flow ([`flows`]), a connection whose writer publishes
//! back to the client's node, which writes to the client. Answers from the client to that
//! node's requests find their way by its Via, which names the node.
//!
//! A relayed message is never relayed again: the serving node answers what it cannot
//! route. Nodes find each other through NATS alone ([`interest`]): a node subscribes to
//! each address it reaches, and to a subject of its own.

mod envelope;
mod flows;
mod interest;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::Client;
use bytes::{Bytes, BytesMut};
use sip_proto::{Decoder, Item, Limits, Message, Request, Response};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use self::envelope::{Envelope, Origin, address_subject, node_subject};
use self::flows::Flow;
use self::interest::{Interest, pass_on};
use crate::frontend::proxy::NODE_PARAM;
use crate::frontend::registrar::Announce;
use crate::transport::{ConnHandle, ConnId, Connections, Dispatch};

/// How long the client's node waits for the serving node to take a relayed request. Only
/// the taking: the serving node answers the client itself, under SIP's own timers.
const TAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Messages from NATS waiting for the forwarder (past this the subscriptions wait).
const INBOX: usize = 1024;

/// How long a shutting-down node waits for its remote flows to finish closing.
const FLOWS_CLOSE: Duration = Duration::from_secs(10);

/// Where a request is relayed to.
#[derive(Debug, Clone, Copy)]
pub enum Destination<'a> {
    /// The node with this id: it holds the flows of the dialog.
    Node(&'a str),
    /// Whichever node reaches this address (an address-of-record, a GRUU, a service URI).
    Address(&'a str),
}

/// What became of a relayed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relayed {
    /// A node took it and answers the client.
    Taken,
    /// The node's queue for this client is full: the client is to retry later.
    Busy,
    /// No node took it (no node reaches the address, or the node is gone).
    Nobody,
}

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("pool: cannot subscribe to this node's subject: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
}

/// This node's part in forwarding.
pub struct Forwarder {
    node: String,
    nats: Client,
    connections: Arc<Connections>,
    /// The SIP limits of the listeners, applied to relayed messages as well.
    limits: Limits,
    /// A remote flow's write queue, in bytes: a connection's.
    queue_limit: usize,
    interest: Interest,
    /// Taken by [`Forwarder::serve`].
    inbox: Mutex<Option<mpsc::Receiver<async_nats::Message>>>,
    /// The nodes each connection of this node relayed requests to: told when it closes.
    reached: Mutex<HashMap<ConnId, Vec<String>>>,
    /// Remote flows served here, by the node and connection of their client.
    flows: Mutex<HashMap<(String, ConnId), Flow>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl Forwarder {
    /// Joins the pool as `node`: subscribes to the node's own subject.
    pub async fn join(
        nats: Client,
        node: String,
        connections: Arc<Connections>,
        limits: Limits,
        queue_limit: usize,
    ) -> Result<Arc<Forwarder>, ForwardError> {
        let (inbox_tx, inbox) = mpsc::channel(INBOX);
        let own = nats.subscribe(node_subject(&node)).await?;
        tokio::spawn(pass_on(own, inbox_tx.clone()));
        Ok(Arc::new(Forwarder {
            interest: Interest::new(nats.clone(), inbox_tx),
            node,
            nats,
            connections,
            limits,
            queue_limit,
            inbox: Mutex::new(Some(inbox)),
            reached: Mutex::new(HashMap::new()),
            flows: Mutex::new(HashMap::new()),
        }))
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Makes the addresses told since the last call reachable (or no longer) from the
    /// other nodes; returns once NATS has the change.
    pub async fn announce(&self) {
        self.interest.apply().await;
    }

    /// Handles what other nodes send, handing relayed requests to `dispatch` (the front
    /// end) through remote flows, until shutdown; then closes the remote flows and waits
    /// (bounded) for their ends to be handled.
    pub async fn serve<D: Dispatch>(
        self: Arc<Self>,
        dispatch: Arc<D>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let Some(mut inbox) = self.inbox.lock().expect("inbox lock").take() else {
            return;
        };
        let mut readers = JoinSet::new();
        loop {
            tokio::select! {
                m = inbox.recv() => match m {
                    Some(m) => self.receive(m, &dispatch, &mut readers).await,
                    None => break,
                },
                Some(_) = readers.join_next(), if !readers.is_empty() => {}
                _ = async { shutdown.wait_for(|stop| *stop).await.is_ok() } => break,
            }
        }
        self.interest.clear().await;
        for (_, flow) in self.flows.lock().expect("flows lock").drain() {
            flow.conn.close();
        }
        let _ = tokio::time::timeout(FLOWS_CLOSE, async {
            while readers.join_next().await.is_some() {}
        })
        .await;
    }

    async fn receive<D: Dispatch>(
        self: &Arc<Self>,
        message: async_nats::Message,
        dispatch: &Arc<D>,
        readers: &mut JoinSet<()>,
    ) {
        let envelope = match Envelope::from_headers(message.headers.as_ref()) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(subject = %message.subject, error = %e, "pool: a message from NATS is not ours; dropped");
                return;
            }
        };
        match envelope {
            Envelope::FromClient(origin) => {
                let taken = self.take(origin, message.payload, dispatch, readers);
                if let Some(reply) = message.reply {
                    let answer = match taken {
                        Relayed::Taken => format!("taken {}", self.node),
                        Relayed::Busy => "busy".to_owned(),
                        Relayed::Nobody => "refused".to_owned(),
                    };
                    if let Err(e) = self.nats.publish(reply, answer.into()).await {
                        tracing::warn!(error = %e, "pool: a relayed request was not acknowledged");
                    }
                }
            }
            Envelope::ToClient { node, conn } => self.to_client(&node, conn, message.payload).await,
            Envelope::Closed { node, conn } => {
                let flow = self.flows.lock().expect("flows lock").remove(&(node, conn));
                if let Some(flow) = flow {
                    flow.conn.close();
                }
            }
        }
    }

    /// Queues a relayed message on the remote flow of its origin, opening the flow when
    /// it is the first.
    fn take<D: Dispatch>(
        self: &Arc<Self>,
        origin: Origin,
        payload: Bytes,
        dispatch: &Arc<D>,
        readers: &mut JoinSet<()>,
    ) -> Relayed {
        let key = (origin.node.clone(), origin.conn);
        let mut flows = self.flows.lock().expect("flows lock");
        if flows.get(&key).is_none_or(|f| f.conn.is_closed()) {
            let flow = self.open_flow(&origin, dispatch, readers);
            flows.insert(key.clone(), flow);
        }
        let flow = &flows[&key];
        // A connection never changes accounts; a flow claiming another is not this one.
        if flow.conn.identity().as_deref() != Some(origin.identity.as_str()) {
            tracing::warn!(node = %origin.node, conn = origin.conn, identity = %origin.identity, "pool: a relayed message names another identity than its flow; refused");
            return Relayed::Nobody;
        }
        match flow.inbound.try_send(payload) {
            Ok(()) => Relayed::Taken,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if flow.conn.first_refusal() {
                    tracing::warn!(conn = flow.conn.id(), node = %origin.node, identity = %origin.identity, limit = flows::INBOUND, "pool: a remote flow's queue is full: its requests are answered 503");
                }
                Relayed::Busy
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Relayed::Nobody,
        }
    }

    fn open_flow<D: Dispatch>(
        self: &Arc<Self>,
        origin: &Origin,
        dispatch: &Arc<D>,
        readers: &mut JoinSet<()>,
    ) -> Flow {
        let conn = self.connections.register_remote(
            origin.peer,
            origin.local,
            origin.transport,
            self.queue_limit,
            &format!(";{NODE_PARAM}={}", self.node),
        );
        conn.set_identity(&origin.identity);
        tracing::debug!(conn = conn.id(), node = %origin.node, client_conn = origin.conn, identity = %origin.identity, "pool: remote flow opened");
        let back = Envelope::ToClient {
            node: self.node.clone(),
            conn: origin.conn,
        };
        tokio::spawn(flows::write(
            conn.clone(),
            self.nats.clone(),
            node_subject(&origin.node),
            back.to_headers(),
        ));
        let (inbound, inbound_rx) = mpsc::channel(flows::INBOUND);
        let (this, dispatch, reader_conn) = (self.clone(), dispatch.clone(), conn.clone());
        let key = (origin.node.clone(), origin.conn);
        readers.spawn(async move {
            flows::read(reader_conn.clone(), inbound_rx, dispatch, this.limits).await;
            let mut flows = this.flows.lock().expect("flows lock");
            if flows
                .get(&key)
                .is_some_and(|f| f.conn.id() == reader_conn.id())
            {
                flows.remove(&key);
            }
            drop(flows);
            this.connections.unregister_remote(reader_conn.id());
            tracing::debug!(conn = reader_conn.id(), "pool: remote flow closed");
        });
        Flow { conn, inbound }
    }

    /// Writes what a remote flow on `node` sent to the client on `conn` here. When that
    /// connection is gone, `node` hears it, and its flow ends.
    async fn to_client(&self, node: &str, conn: ConnId, payload: Bytes) {
        let Some(client) = self.connections.local(conn).filter(|c| !c.is_closed()) else {
            let closed = Envelope::Closed {
                node: self.node.clone(),
                conn,
            };
            self.publish(node, &closed, Bytes::new()).await;
            return;
        };
        // A connection that signs what it sends (NTLM) signs it here, where its keys are:
        // each of the messages the flow's writer sent in one batch.
        if !client.signs() {
            let _ = client.send_bytes(payload.to_vec());
            return;
        }
        let mut decoder = Decoder::new(self.limits);
        let mut rest = BytesMut::from(&payload[..]);
        loop {
            match decoder.decode(&mut rest) {
                Ok(Some(Item::Message(m))) => {
                    if client.send_message(m).is_err() {
                        return;
                    }
                }
                Ok(None) if rest.is_empty() => return,
                _ => {
                    tracing::warn!(conn, %node, "pool: a batch for a client is not whole SIP messages; the rest dropped");
                    return;
                }
            }
        }
    }

    /// Relays a request received on `conn` (which has authenticated) to where `to` says.
    pub async fn relay_request(
        &self,
        conn: &ConnHandle,
        request: &Request,
        to: Destination<'_>,
    ) -> Relayed {
        let Some(origin) = Origin::of(&self.node, conn) else {
            return Relayed::Nobody;
        };
        let subject = match to {
            Destination::Node(node) => node_subject(node),
            Destination::Address(address) => address_subject(address),
        };
        let payload = Message::Request(request.clone()).to_bytes();
        let nats_request = async_nats::Request::new()
            .headers(Envelope::FromClient(origin).to_headers())
            .payload(payload.into())
            .timeout(Some(TAKE_TIMEOUT));
        let reply = match self.nats.send_request(subject, nats_request).await {
            Ok(reply) => reply,
            Err(e) => {
                if e.kind() != async_nats::RequestErrorKind::NoResponders {
                    tracing::warn!(conn = conn.id(), ?to, error = %e, "pool: relayed request not taken");
                }
                return Relayed::Nobody;
            }
        };
        match std::str::from_utf8(&reply.payload).map(|r| r.split_once(' ')) {
            Ok(Some(("taken", node))) => {
                let mut reached = self.reached.lock().expect("reached lock");
                let nodes = reached.entry(conn.id()).or_default();
                if !nodes.iter().any(|n| n == node) {
                    nodes.push(node.to_owned());
                }
                Relayed::Taken
            }
            Ok(None) if &reply.payload[..] == b"busy" => Relayed::Busy,
            _ => Relayed::Nobody,
        }
    }

    /// Relays a client's answer to a request that a remote flow on `node` sent it.
    pub async fn relay_answer(&self, conn: &ConnHandle, response: &Response, node: &str) {
        let Some(origin) = Origin::of(&self.node, conn) else {
            return;
        };
        let payload = Message::Response(response.clone()).to_bytes();
        self.publish(node, &Envelope::FromClient(origin), payload.into())
            .await;
    }

    /// A connection of this node closed: the nodes serving it close its remote flows.
    pub async fn connection_closed(&self, conn: ConnId) {
        let nodes = self.reached.lock().expect("reached lock").remove(&conn);
        let closed = Envelope::Closed {
            node: self.node.clone(),
            conn,
        };
        for node in nodes.into_iter().flatten() {
            self.publish(&node, &closed, Bytes::new()).await;
        }
    }

    /// `node` was declared dead (it stopped heartbeating): the remote flows of its clients
    /// close here, ending their dialogs as a closed connection does. Returns how many.
    pub fn node_dead(&self, node: &str) -> usize {
        let dead: Vec<Flow> = {
            let mut flows = self.flows.lock().expect("flows lock");
            let keys: Vec<(String, ConnId)> =
                flows.keys().filter(|(n, _)| n == node).cloned().collect();
            keys.iter().filter_map(|k| flows.remove(k)).collect()
        };
        for flow in &dead {
            flow.conn.close();
        }
        for nodes in self.reached.lock().expect("reached lock").values_mut() {
            nodes.retain(|n| n != node);
        }
        if !dead.is_empty() {
            tracing::info!(%node, flows = dead.len(), "pool: node dead, its clients' flows closed");
        }
        dead.len()
    }

    async fn publish(&self, node: &str, envelope: &Envelope, payload: Bytes) {
        if let Err(e) = self
            .nats
            .publish_with_headers(node_subject(node), envelope.to_headers(), payload)
            .await
        {
            tracing::warn!(%node, error = %e, "pool: message to another node not published");
        }
    }
}

impl Announce for Forwarder {
    fn reachable(&self, address: &str) {
        self.interest.tell(address, true);
    }

    fn unreachable(&self, address: &str) {
        self.interest.tell(address, false);
    }
}
