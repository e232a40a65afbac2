//! The access change feed on PostgreSQL.

use sqlx::{Postgres, Transaction};

use super::{FeedLock, PgStore};
use crate::changes::{AccessChange, ChangeKind};
use crate::engine::change_columns;
use crate::error::Result;
use crate::rows;

impl PgStore {
    /// The newest change's sequence number (0 when there is none): a server starting now has
    /// no session that an older change could concern.
    pub async fn last_access_change(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM access_changes")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Changes after `seq`, oldest first, at most `limit`.
    pub async fn access_changes_after(&self, seq: i64, limit: u32) -> Result<Vec<AccessChange>> {
        let rows = sqlx::query(
            "SELECT seq, kind, principal_id, room_id, category_id, account, reason FROM access_changes \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().filter_map(rows::access_change).collect())
    }

    /// Asks the server to end every session of `uri` (normalised), which must be an account.
    pub async fn request_sign_out(&self, uri: &str, reason: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        super::live_user_id(&mut tx, uri).await?;
        record_change(&mut tx, &ChangeKind::sign_out(uri, reason)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Asks the server to forget the failed sign-ins of `uri` (normalised).
    pub async fn request_unlock(&self, uri: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        record_change(
            &mut tx,
            &ChangeKind::Unlock {
                account: uri.to_owned(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Appends a change inside the transaction of the change itself.
pub(super) async fn record_change(
    tx: &mut Transaction<'_, Postgres>,
    change: &ChangeKind,
) -> Result<()> {
    let (kind, principal, room, category, account, reason) = change_columns(change);
    FeedLock::AccessChanges.take(tx).await?;
    sqlx::query(
        "INSERT INTO access_changes (kind, principal_id, room_id, category_id, account, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(kind)
    .bind(principal)
    .bind(room)
    .bind(category)
    .bind(account)
    .bind(reason)
    .bind(crate::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
