//! The node registry and the singleton leases, on PostgreSQL: the statements several nodes
//! run at once are each a single conditional statement, or one transaction whose first
//! statement locks the row it depends on.

use super::PgStore;
use super::compliance::{JoinsOf, close_joins};
use crate::error::Result;
use crate::nodes::{Lease, Load, NODE_COLUMNS, Node, load_columns};
use crate::rows;

impl PgStore {
    /// Writes a node's row (replacing one of the same id).
    pub async fn register_node(&self, node: &Node) -> Result<()> {
        let [connections, joined, cpu, queued] = load_columns(&node.load);
        sqlx::query(&format!(
            "INSERT INTO nodes ({NODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO UPDATE SET channel_uri = excluded.channel_uri, \
             sip_address = excluded.sip_address, https_address = excluded.https_address, \
             started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, \
             connections = excluded.connections, joined = excluded.joined, \
             cpu_permille = excluded.cpu_permille, queued_bytes = excluded.queued_bytes"
        ))
        .bind(&node.id)
        .bind(&node.channel_uri)
        .bind(&node.sip_address)
        .bind(&node.https_address)
        .bind(node.started_at)
        .bind(node.heartbeat_at)
        .bind(connections)
        .bind(joined)
        .bind(cpu)
        .bind(queued)
        .execute(&self.registry)
        .await?;
        Ok(())
    }

    /// Moves a node's heartbeat and load; false when its row is gone (another node found
    /// it dead and removed it).
    pub async fn node_heartbeat(&self, id: &str, at: i64, load: &Load) -> Result<bool> {
        let [connections, joined, cpu, queued] = load_columns(load);
        let updated = sqlx::query(
            "UPDATE nodes SET heartbeat_at = $1, connections = $2, joined = $3, cpu_permille = $4, \
             queued_bytes = $5 WHERE id = $6",
        )
        .bind(at)
        .bind(connections)
        .bind(joined)
        .bind(cpu)
        .bind(queued)
        .bind(id)
        .execute(&self.registry)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Removes a node's row (a clean shutdown); false when there was none.
    pub async fn remove_node(&self, id: &str) -> Result<bool> {
        let removed = sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(id)
            .execute(&self.registry)
            .await?;
        Ok(removed.rows_affected() == 1)
    }

    /// Every node's row, oldest first.
    pub async fn nodes(&self) -> Result<Vec<Node>> {
        let rows = sqlx::query(&format!(
            "SELECT {NODE_COLUMNS} FROM nodes ORDER BY started_at, id"
        ))
        .fetch_all(&self.registry)
        .await?;
        Ok(rows.iter().map(rows::node).collect())
    }

    /// Removes a dead node's row, if its heartbeat is still older than `stale_before`, and
    /// writes a part (content `reason`, at `at`) for each join its sessions left open, in
    /// one transaction: of several nodes trying at once, one does it. `None` when the row
    /// was not removed here (gone already, or alive again); else how many parts.
    pub async fn reap_node(
        &self,
        id: &str,
        stale_before: i64,
        reason: &str,
        at: i64,
    ) -> Result<Option<u64>> {
        let mut tx = self.begin_write().await?;
        let removed = sqlx::query("DELETE FROM nodes WHERE id = $1 AND heartbeat_at < $2")
            .bind(id)
            .bind(stale_before)
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() == 0 {
            return Ok(None);
        }
        let parts = close_joins(&mut tx, JoinsOf::Node(id), reason, at).await?;
        // Its connections went with it.
        sqlx::query("DELETE FROM signed_in WHERE node = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(parts))
    }

    /// Takes the lease `name` for `holder` until `expires_at`, or renews it when `holder`
    /// has it; refused (false) while another holder's lease has not expired at `now`.
    /// One statement: of several takers at once, one wins.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool> {
        let taken = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(expires_at)
        .bind(now)
        .execute(&self.registry)
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Gives up a lease `holder` has; false when it had none.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        let released = sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.registry)
            .await?;
        Ok(released.rows_affected() == 1)
    }

    /// Every lease as recorded, expired ones included, by name.
    pub async fn leases(&self) -> Result<Vec<Lease>> {
        let rows = sqlx::query("SELECT name, holder, expires_at FROM leases ORDER BY name")
            .fetch_all(&self.registry)
            .await?;
        Ok(rows.iter().map(rows::lease).collect())
    }
}
