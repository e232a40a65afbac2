//! The signed-in connections and the accounts' last sign-in, on PostgreSQL.

use std::collections::BTreeMap;

use sqlx::Row;

use super::PgStore;
use crate::error::Result;
use crate::signed_in::SignedIn;

/// A new sign-in moves an account's last sign-in only when this much later (seconds): a
/// client reconnecting in a loop costs one update a minute at most.
const LAST_SIGN_IN_STEP: i64 = 60;

impl PgStore {
    /// Takes this node's connections `ended` off the table and puts `started` on it as
    /// this node's, moving the last sign-in of their accounts; one transaction.
    pub async fn note_signed_in(&self, ended: &[u64], started: &[SignedIn]) -> Result<()> {
        let node = self.node.as_deref().unwrap_or_default();
        let mut tx = self.begin_write().await?;
        let ended: Vec<i64> = ended
            .iter()
            .map(|c| i64::try_from(*c).unwrap_or(i64::MAX))
            .collect();
        sqlx::query("DELETE FROM signed_in WHERE node = $1 AND connection = ANY($2)")
            .bind(node)
            .bind(&ended)
            .execute(&mut *tx)
            .await?;
        for s in started {
            sqlx::query(
                "INSERT INTO signed_in (node, connection, account, transport, remote, since) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (node, connection) DO UPDATE SET account = excluded.account, \
                 transport = excluded.transport, remote = excluded.remote, since = excluded.since",
            )
            .bind(node)
            .bind(i64::try_from(s.connection).unwrap_or(i64::MAX))
            .bind(&s.account)
            .bind(&s.transport)
            .bind(&s.remote)
            .bind(s.since)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE principals SET last_sign_in_at = $1 \
                 WHERE kind = 'user' AND removed_at IS NULL AND uri = lower($2) \
                 AND (last_sign_in_at IS NULL OR last_sign_in_at < $1 - $3)",
            )
            .bind(s.since)
            .bind(&s.account)
            .bind(LAST_SIGN_IN_STEP)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes this node's rows, and those of nodes without a registry row (they stopped):
    /// a server starting or stopping, whose connections are all closed. Another live node's
    /// rows stay.
    pub async fn clear_signed_in(&self) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM signed_in WHERE node = $1 \
             OR NOT EXISTS (SELECT 1 FROM nodes WHERE nodes.id = signed_in.node)",
        )
        .bind(self.node.as_deref().unwrap_or_default())
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// The signed-in connections, by account, oldest first.
    pub async fn signed_in(&self) -> Result<Vec<SignedIn>> {
        let rows = sqlx::query(
            "SELECT connection, account, transport, remote, since FROM signed_in \
             ORDER BY account, since, connection",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| SignedIn {
                connection: u64::try_from(r.get::<i64, _>("connection")).unwrap_or_default(),
                account: r.get("account"),
                transport: r.get("transport"),
                remote: r.get("remote"),
                since: r.get("since"),
            })
            .collect())
    }

    /// The last sign-in (unix seconds) of every account that has signed in, by principal id.
    pub async fn last_sign_ins(&self) -> Result<BTreeMap<i64, i64>> {
        let rows = sqlx::query(
            "SELECT id, last_sign_in_at FROM principals WHERE last_sign_in_at IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("id"), r.get("last_sign_in_at")))
            .collect())
    }
}
