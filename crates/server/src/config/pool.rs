//! `[pool]`: how a server takes part in a pool of servers sharing one store.

use std::time::Duration;

use serde::Deserialize;

use super::{Config, ConfigError};

/// Every server keeps a row in the store's node registry and moves its heartbeat; a node
/// whose heartbeat is older than `node_timeout_ms` is dead, and the others remove it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    /// How often the node writes its heartbeat and load, and looks at the others'.
    pub heartbeat_ms: u64,
    /// A node silent this long is dead: its sessions leave their rooms (parts written),
    /// its leases pass to others. At least twice `heartbeat_ms`.
    pub node_timeout_ms: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            heartbeat_ms: 1000,
            node_timeout_ms: 3000,
        }
    }
}

impl PoolConfig {
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    pub fn node_timeout(&self) -> Duration {
        Duration::from_millis(self.node_timeout_ms)
    }
}

impl Config {
    pub(super) fn validate_pool(&self) -> Result<(), ConfigError> {
        let p = &self.pool;
        if p.heartbeat_ms == 0 {
            return Err(ConfigError::Invalid(
                "pool.heartbeat_ms must be at least 1".into(),
            ));
        }
        // One late heartbeat must not make a node dead.
        if p.node_timeout_ms < p.heartbeat_ms.saturating_mul(2) {
            return Err(ConfigError::Invalid(
                "pool.node_timeout_ms must be at least twice pool.heartbeat_ms".into(),
            ));
        }
        Ok(())
    }
}
