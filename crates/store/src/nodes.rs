//! The servers of a pool as the store records them: one row per running node with its
//! load and heartbeat (how the lookup chooses a node and how the others notice one died),
//! and the leases through which exactly one node runs each singleton task.

use crate::Store;
use crate::error::Result;

/// What a node reports of its load with each heartbeat: what it can count cheaply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Load {
    /// Open SIP connections.
    pub connections: u64,
    /// Chat sessions in rooms, each counted once per room it has joined.
    pub joined: u64,
    /// CPU time over the last heartbeat interval, in thousandths of one core.
    pub cpu_permille: u64,
    /// Bytes waiting in the node's connection writers.
    pub queued_bytes: u64,
}

/// One node's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// A UUID made at each start: a restarted server is a new node.
    pub id: String,
    /// The channel service URI `cmd:requri` hands out when it chooses this node.
    pub channel_uri: String,
    /// `host:port` of its SIP listeners (TLS first), for operators; may be empty.
    pub sip_address: String,
    /// `host:port` of its HTTPS listener; empty when off.
    pub https_address: String,
    /// Unix milliseconds.
    pub started_at: i64,
    /// Unix milliseconds of its last heartbeat.
    pub heartbeat_at: i64,
    pub load: Load,
}

impl Node {
    /// Whether the node's heartbeat is newer than `stale_before` (unix milliseconds).
    pub fn is_live(&self, stale_before: i64) -> bool {
        self.heartbeat_at >= stale_before
    }
}

/// One lease as recorded: who holds it until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    /// Unix milliseconds; after it anyone may take the lease.
    pub expires_at: i64,
}

/// The load columns as stored (the integer columns are signed).
pub(crate) fn load_columns(load: &Load) -> [i64; 4] {
    [
        load.connections,
        load.joined,
        load.cpu_permille,
        load.queued_bytes,
    ]
    .map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// The columns `rows::node` reads.
pub(crate) const NODE_COLUMNS: &str = "id, channel_uri, sip_address, https_address, started_at, \
     heartbeat_at, connections, joined, cpu_permille, queued_bytes";

impl Store {
    /// Parts for the joins left open by servers that stopped without recording them and
    /// have no node row; see [`SqliteStore::close_open_joins`].
    ///
    /// [`SqliteStore::close_open_joins`]: crate::SqliteStore::close_open_joins
    pub async fn close_open_joins(&self, reason: &str, at: i64) -> Result<u64> {
        engine!(self, s => s.close_open_joins(reason, at).await)
    }

    /// Writes a node's row (replacing one of the same id): a server joining the pool.
    pub async fn register_node(&self, node: &Node) -> Result<()> {
        engine!(self, s => s.register_node(node).await)
    }

    /// Moves a node's heartbeat (unix milliseconds) and load; false when its row is gone
    /// (another node found it dead).
    pub async fn node_heartbeat(&self, id: &str, at: i64, load: &Load) -> Result<bool> {
        engine!(self, s => s.node_heartbeat(id, at, load).await)
    }

    /// Removes a node's row (a clean shutdown); false when there was none.
    pub async fn remove_node(&self, id: &str) -> Result<bool> {
        engine!(self, s => s.remove_node(id).await)
    }

    /// Every node's row, live or dead, oldest first.
    pub async fn nodes(&self) -> Result<Vec<Node>> {
        engine!(self, s => s.nodes().await)
    }

    /// Removes a dead node (heartbeat older than `stale_before`, unix milliseconds),
    /// closes its open joins (parts with `reason`, at `at` unix nanoseconds) and takes its
    /// connections off the signed-in table, in one transaction, exactly once however many
    /// nodes try: `Some(parts)` to the one that did.
    pub async fn reap_node(
        &self,
        id: &str,
        stale_before: i64,
        reason: &str,
        at: i64,
    ) -> Result<Option<u64>> {
        engine!(self, s => s.reap_node(id, stale_before, reason, at).await)
    }

    /// Takes or renews the lease `name` for `holder` until `expires_at` (unix milliseconds);
    /// false while another holder's lease is unexpired at `now`. Of concurrent takers, one
    /// wins.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool> {
        engine!(self, s => s.acquire_lease(name, holder, now, expires_at).await)
    }

    /// Gives up a lease `holder` has; false when it had none.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        engine!(self, s => s.release_lease(name, holder).await)
    }

    /// Every lease as recorded, expired ones included, by name.
    pub async fn leases(&self) -> Result<Vec<Lease>> {
        engine!(self, s => s.leases().await)
    }
}
