//! The servers of a pool as the store records them: one row per running node with its
//! load and heartbeat (how the lookup chooses a node and how the others notice one died),
//! and the leases through which exactly one node runs each singleton task.

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
