//! This server as a node of a pool of servers sharing one store (docs/operations.md, "Pool
//! nodes"). Every server has a row in the store's node registry: it registers at start,
//! moves its heartbeat with its load every `pool.heartbeat_ms`, and removes the row when it
//! stops cleanly. Each heartbeat it also looks at the other rows:
//!
//! - the rows are what the lookup chooses from, until the next round ([`Lookup`]): the
//!   least-loaded node whose heartbeat is fresh is the one `cmd:requri` hands out;
//! - a node silent for `pool.node_timeout_ms` is dead: one live node removes its row and
//!   closes its open joins in one transaction (the store makes it exactly one), and every
//!   node tells its [`NodeGone`] hook, which forgets what the dead node's sessions held;
//!
//! Work of which the pool runs one copy (the compliance exporter, the cleaner of expired
//! uploads) runs under a lease ([`Singletons`]).
//!
//! A node that could not write its own heartbeat (the store was down) judges nobody dead
//! until it has written heartbeats for a whole node timeout again: after a store outage
//! every row is stale, and the first node back must not remove the others before they
//! had their chance to beat.
//!
//! On SQLite the data directory's lock lets one server use the store at a time, so every
//! other row is of a server that stopped: it is removed at start, its joins closed.

mod leases;
mod load;
mod lookup;

use std::collections::HashSet;
use std::sync::Arc;

use parlance_store::nodes::{Load, Node};
use parlance_store::{Store, StoreError};
use tokio::sync::watch;

use crate::config::{Config, PoolConfig};
use crate::forward::Forwarder;
use crate::groupchat::GroupChat;
use crate::periodic::Periodic;
use crate::transport::Connections;
pub use leases::unix_ms;
pub use leases::{Singleton, Singletons};
use load::CpuMeter;
pub(crate) use lookup::Lookup;

/// What a node does when another node of the pool is gone (dead, or stopped cleanly).
pub trait NodeGone: Send + Sync + std::fmt::Debug {
    /// `node_id` is gone: forget what its sessions held (their presence in rosters).
    fn node_gone(&self, node_id: &str);
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the live node {node} already serves the channel URI {uri}: give each server of a pool its own chat.channel_uri"
    )]
    ChannelTaken { uri: String, node: String },
    #[error(
        "the pool has other live nodes, and this server's file store is its own data directory's {dir}: set files.dir to the directory every node of the pool shares"
    )]
    FilesNotShared { dir: String },
}

/// Why the parts a dead node's sessions never wrote were written.
const DEAD_NODE_PART: &str = "the node serving this session stopped";

/// The other live nodes, once this server may join them: refused when it cannot work beside
/// them ([`check_fits`]). A live node with this server's channel URI may be this server's
/// own previous run, killed a moment ago and restarted: it is given one node timeout to
/// fall silent before the start is refused. On SQLite (`exclusive`), the rows of servers
/// that stopped are removed first, their joins closed: none is live.
pub(crate) async fn admit(
    store: &Store,
    config: &Config,
    exclusive: bool,
) -> Result<Vec<Node>, PoolError> {
    let others = live_others(store, &config.pool, exclusive).await?;
    match check_fits(config, &others) {
        Err(PoolError::ChannelTaken { .. }) => {
            tokio::time::sleep(config.pool.node_timeout()).await;
            let others = live_others(store, &config.pool, exclusive).await?;
            check_fits(config, &others)?;
            Ok(others)
        }
        fits => fits.map(|()| others),
    }
}

async fn live_others(
    store: &Store,
    config: &PoolConfig,
    exclusive: bool,
) -> Result<Vec<Node>, PoolError> {
    let now = unix_ms();
    let mut live = Vec::new();
    for node in store.nodes().await? {
        if exclusive {
            store
                .reap_node(&node.id, i64::MAX, DEAD_NODE_PART, now * 1_000_000)
                .await?;
        } else if node.is_live(now - config.node_timeout_ms as i64) {
            live.push(node);
        }
    }
    Ok(live)
}

/// Refuses a server that cannot join the live nodes `others`: one with another's channel
/// URI (`cmd:requri` could not tell them apart), or one keeping files in its own data
/// directory while others keep theirs elsewhere (a file posted on one node must download
/// from every node).
fn check_fits(config: &Config, others: &[Node]) -> Result<(), PoolError> {
    let uri = config.channel_uri();
    if let Some(taken) = others.iter().find(|n| n.channel_uri == uri) {
        return Err(PoolError::ChannelTaken {
            uri,
            node: taken.id.clone(),
        });
    }
    if !others.is_empty() && config.web.listen.is_some() && config.files.dir.is_none() {
        return Err(PoolError::FilesNotShared {
            dir: config.files_dir().display().to_string(),
        });
    }
    Ok(())
}

/// This server's place in the pool.
#[derive(Debug)]
pub(crate) struct Membership {
    store: Store,
    /// This node's row as registered (its load as of the start).
    node: Node,
    config: PoolConfig,
    lookup: Arc<Lookup>,
}

/// Where the heartbeat reads the load from, and whom it tells what it learns.
pub(crate) struct Watchers {
    pub connections: Arc<Connections>,
    pub groupchat: Arc<GroupChat>,
    /// Serves the flows of the clients other nodes forward here.
    pub forwarder: Option<Arc<Forwarder>>,
    pub node_gone: Option<Arc<dyn NodeGone>>,
}

/// What the heartbeat remembers between rounds.
struct Watch {
    cpu: CpuMeter,
    /// Since when every heartbeat of this node was written; `None` after a failed one.
    beating_since: Option<i64>,
    /// The other nodes seen live last round.
    seen: HashSet<String>,
    /// The nodes the [`NodeGone`] hook was told of.
    reported: HashSet<String>,
}

impl Membership {
    /// Registers `node`.
    pub(crate) async fn join(
        store: Store,
        node: Node,
        config: PoolConfig,
    ) -> Result<Membership, PoolError> {
        store.register_node(&node).await?;
        let lookup = Arc::new(Lookup::new(&node.channel_uri, &config));
        Ok(Membership {
            store,
            node,
            config,
            lookup,
        })
    }

    /// What `cmd:requri` asks which node to hand out; each heartbeat round updates it.
    pub(crate) fn lookup(&self) -> Arc<Lookup> {
        self.lookup.clone()
    }

    pub(crate) fn node_id(&self) -> &str {
        &self.node.id
    }

    /// Singleton work run as this node, its leases lasting one node timeout unrenewed.
    pub(crate) fn singletons(&self) -> Singletons {
        Singletons::new(
            self.store.clone(),
            self.node.id.clone(),
            self.config.node_timeout(),
        )
    }

    /// Beats every `pool.heartbeat_ms` until shutdown.
    pub(crate) async fn run(self: Arc<Self>, watchers: Watchers, shutdown: watch::Receiver<bool>) {
        let mut periodic = Periodic::new(self.config.heartbeat(), shutdown);
        let mut watch = Watch {
            cpu: CpuMeter::new(),
            beating_since: Some(self.node.started_at),
            seen: HashSet::new(),
            reported: HashSet::new(),
        };
        while periodic.next().await {
            self.beat(&mut watch, &watchers).await;
        }
    }

    /// One round: the heartbeat, the lookup's candidates, dead nodes, the nodes gone.
    async fn beat(&self, watch: &mut Watch, watchers: &Watchers) {
        let now = unix_ms();
        let load = Load {
            connections: watchers.connections.len() as u64,
            joined: watchers.groupchat.chat().joined_endpoints() as u64,
            cpu_permille: watch.cpu.permille(),
            queued_bytes: watchers.connections.queued_bytes() as u64,
        };
        let nodes = match self.heartbeat(now, &load, watch).await {
            true => self.store.nodes().await,
            false => Ok(Vec::new()),
        };
        let nodes = match nodes {
            Ok(nodes) => nodes,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the pool's nodes");
                Vec::new()
            }
        };
        // With no rows (the store is away) nobody is known fresh: the lookup hands out
        // this node, which is alive, rather than rows growing older.
        self.lookup.update(&nodes, now);
        if nodes.is_empty() {
            return;
        }
        let stale_before = now - self.config.node_timeout_ms as i64;
        let (live, dead): (Vec<&Node>, Vec<&Node>) =
            nodes.iter().partition(|n| n.is_live(stale_before));
        let judging = watch
            .beating_since
            .is_some_and(|since| now - since >= self.config.node_timeout_ms as i64);
        if judging {
            for node in dead.iter().filter(|n| n.id != self.node.id) {
                self.reap(node, stale_before, now).await;
            }
        }
        let live_ids: HashSet<String> = live
            .iter()
            .filter(|n| n.id != self.node.id)
            .map(|n| n.id.clone())
            .collect();
        // Gone: live last round and not now, or dead when first seen (it died before this
        // node started, or between two rounds); each told once.
        let mut gone: HashSet<String> = watch.seen.difference(&live_ids).cloned().collect();
        gone.extend(
            dead.iter()
                .filter(|n| n.id != self.node.id)
                .map(|n| n.id.clone()),
        );
        for id in gone.difference(&watch.reported) {
            tracing::info!(node = %id, "pool node gone");
            // Its members leave this node's rosters, and its clients' dialogs served here end.
            watchers.groupchat.chat().drop_node(id);
            if let Some(forwarder) = &watchers.forwarder {
                forwarder.node_dead(id);
            }
            if let Some(hook) = &watchers.node_gone {
                hook.node_gone(id);
            }
        }
        watch.reported.extend(gone);
        // A node told of stays told while its row is there and not live again.
        watch
            .reported
            .retain(|id| nodes.iter().any(|n| &n.id == id) && !live_ids.contains(id));
        watch.seen = live_ids;
    }

    /// Writes this node's heartbeat; false when the store could not be reached. A node
    /// whose row another node removed (it was silent too long) registers again.
    async fn heartbeat(&self, now: i64, load: &Load, watch: &mut Watch) -> bool {
        match self.store.node_heartbeat(&self.node.id, now, load).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!(
                    node = %self.node.id,
                    "this node was silent longer than pool.node_timeout_ms and the pool removed it: registering again"
                );
                let node = Node {
                    heartbeat_at: now,
                    load: *load,
                    ..self.node.clone()
                };
                if let Err(e) = self.store.register_node(&node).await {
                    tracing::warn!(error = %e, "cannot register this node again");
                    watch.beating_since = None;
                    return false;
                }
            }
            Err(e) => {
                // Logged once per outage.
                if watch.beating_since.take().is_some() {
                    tracing::warn!(error = %e, "cannot write this node's heartbeat");
                }
                return false;
            }
        }
        watch.beating_since.get_or_insert(now);
        true
    }

    /// Removes a dead node and closes its joins, unless another node did first.
    async fn reap(&self, node: &Node, stale_before: i64, now: i64) {
        match self
            .store
            .reap_node(&node.id, stale_before, DEAD_NODE_PART, now * 1_000_000)
            .await
        {
            Ok(Some(parts)) => tracing::warn!(
                node = %node.id,
                channel_uri = %node.channel_uri,
                silent_ms = now - node.heartbeat_at,
                parts,
                "pool node dead: removed, the joins of its sessions closed"
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(node = %node.id, error = %e, "cannot remove a dead pool node"),
        }
    }

    /// Leaves the pool at a clean shutdown: the others see the node gone at once rather
    /// than after a node timeout.
    pub(crate) async fn leave(&self) {
        if let Err(e) = self.store.remove_node(&self.node.id).await {
            tracing::warn!(error = %e, "cannot remove this node from the pool's registry");
        }
    }
}
