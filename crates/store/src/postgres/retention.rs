//! Retention policies, legal holds and purging on PostgreSQL. A purge runs in steps of a bounded
//! number of messages and files, one short transaction each, so that the locks it takes (the
//! outbox's among them) are held briefly; each step writes the compliance record of what it
//! removed in its own transaction.

use std::collections::BTreeMap;

use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::PgStore;
use super::files::{FILE_COLUMNS, delete_file_rows};
use super::history::outbox;
use crate::engine::{hold_columns, purge_summaries};
use crate::error::{Result, StoreError};
use crate::history::ComplianceKind;
use crate::retention::{HoldTarget, LegalHold, Purged, RetainedRoom};
use crate::rows;

/// The principals under a hold in force, as SQL to test an author or uploader against.
const HELD_USERS: &str =
    "SELECT principal_id FROM legal_holds WHERE principal_id IS NOT NULL AND released_at IS NULL";

const HOLD_COLUMNS: &str =
    "id, room_id, principal_id, reason, placed_by, placed_at, released_by, released_at";

impl PgStore {
    /// Sets how many days a category's rooms keep their messages (`None`: forever).
    pub async fn set_category_retention(&self, category_id: i64, days: Option<u32>) -> Result<()> {
        let changed = sqlx::query("UPDATE categories SET retention_days = $1 WHERE id = $2")
            .bind(days.map(i64::from))
            .bind(category_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("category".into()));
        }
        Ok(())
    }

    /// The retention of every category that has one, by category id.
    pub async fn category_retentions(&self) -> Result<BTreeMap<i64, u32>> {
        let rows = sqlx::query(
            "SELECT id, retention_days FROM categories WHERE retention_days IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("id"), rows::retention_days(r)))
            .collect())
    }

    /// The rooms of categories with a retention, less those a hold keeps whole.
    pub async fn retained_rooms(&self) -> Result<Vec<RetainedRoom>> {
        let rows = sqlx::query(
            "SELECT r.id, r.guid, c.retention_days FROM rooms r JOIN categories c ON c.id = r.category_id \
             WHERE c.retention_days IS NOT NULL AND r.id NOT IN \
             (SELECT room_id FROM legal_holds WHERE room_id IS NOT NULL AND released_at IS NULL) \
             ORDER BY r.id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| RetainedRoom {
                room_id: r.get("id"),
                room_guid: r.get("guid"),
                days: rows::retention_days(r),
            })
            .collect())
    }

    /// Places a hold; [`StoreError::Duplicate`] when one is in force on the same target.
    pub async fn place_hold(
        &self,
        target: HoldTarget,
        reason: &str,
        placed_by: &str,
        at: i64,
    ) -> Result<LegalHold> {
        let (room_id, principal_id) = hold_columns(target);
        let row = sqlx::query(&format!(
            "INSERT INTO legal_holds (room_id, principal_id, reason, placed_by, placed_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {HOLD_COLUMNS}"
        ))
        .bind(room_id)
        .bind(principal_id)
        .bind(reason)
        .bind(placed_by)
        .bind(at)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Duplicate("a legal hold on it".into())
            }
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                StoreError::NotFound("room or user".into())
            }
            other => other.into(),
        })?;
        Ok(rows::hold(&row))
    }

    /// Releases the hold in force on a target; false when there was none.
    pub async fn release_hold(
        &self,
        target: HoldTarget,
        released_by: &str,
        at: i64,
    ) -> Result<bool> {
        let (room_id, principal_id) = hold_columns(target);
        let released = sqlx::query(
            "UPDATE legal_holds SET released_by = $1, released_at = $2 \
             WHERE room_id IS NOT DISTINCT FROM $3 AND principal_id IS NOT DISTINCT FROM $4 \
             AND released_at IS NULL",
        )
        .bind(released_by)
        .bind(at)
        .bind(room_id)
        .bind(principal_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(released > 0)
    }

    /// Holds in force, oldest first; with `released`, the released ones too.
    pub async fn legal_holds(&self, released: bool) -> Result<Vec<LegalHold>> {
        let filter = if released {
            ""
        } else {
            "WHERE released_at IS NULL"
        };
        let rows = sqlx::query(&format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds {filter} ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(rows::hold).collect())
    }

    /// One step of a purge: deletes at most `limit` of a room's messages posted before
    /// `before` (any when `None`), oldest first, then at most `limit` complete files that
    /// nothing links any more and that were uploaded before the same moment (those the
    /// deleted messages linked, those never posted). Held users' messages and files stay;
    /// a held room loses nothing ([`StoreError::Held`]). One `purge` compliance row per
    /// author and per file says what went, `reason` first. Call again while
    /// [`Purged::full`].
    pub async fn purge_history(
        &self,
        room_id: i64,
        before: Option<i64>,
        limit: u32,
        reason: &str,
        at: i64,
    ) -> Result<Purged> {
        let before = before.unwrap_or(i64::MAX);
        let mut tx = self.begin_write().await?;
        refuse_held_room(&mut tx, room_id).await?;
        let deleted = sqlx::query(&format!(
            "DELETE FROM messages WHERE id IN (SELECT id FROM messages \
             WHERE room_id = $1 AND posted_at < $2 AND author_id NOT IN ({HELD_USERS}) \
             ORDER BY posted_at LIMIT $3) RETURNING author_id, seq"
        ))
        .bind(room_id)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        record_messages(&mut tx, room_id, &deleted, reason, at).await?;
        let orphans = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE room_id = $1 AND state = 'complete' \
             AND created_at < $2 AND id NOT IN (SELECT file_id FROM message_files) \
             AND uploader_id NOT IN ({HELD_USERS}) ORDER BY id LIMIT $3"
        ))
        .bind(room_id)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(rows::file)
        .collect::<Result<Vec<_>>>()?;
        for file in &orphans {
            delete_file_rows(&mut tx, file.id).await?;
            let what = format!("{reason}: file {} ({})", file.name, file.original_name);
            outbox(
                &mut tx,
                ComplianceKind::Purge,
                room_id,
                file.uploader_id,
                None,
                &what,
                at,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Purged {
            messages: deleted.len() as u64,
            files: orphans,
        })
    }
}

/// One `purge` row per author of the deleted messages: how many, and the first and last
/// sequence numbers (the last also as the row's `message_seq`).
/// [`StoreError::Held`] while a legal hold is in force on the room: nothing of it may go.
pub(super) async fn refuse_held_room(
    tx: &mut Transaction<'_, Postgres>,
    room_id: i64,
) -> Result<()> {
    let held: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM legal_holds WHERE room_id = $1 AND released_at IS NULL)",
    )
    .bind(room_id)
    .fetch_one(&mut **tx)
    .await?;
    if held {
        return Err(StoreError::Held("the room".into()));
    }
    Ok(())
}

async fn record_messages(
    tx: &mut Transaction<'_, Postgres>,
    room_id: i64,
    deleted: &[PgRow],
    reason: &str,
    at: i64,
) -> Result<()> {
    let deleted = deleted.iter().map(|r| (r.get("author_id"), r.get("seq")));
    for (author, last, what) in purge_summaries(deleted, reason) {
        outbox(
            tx,
            ComplianceKind::Purge,
            room_id,
            author,
            Some(last),
            &what,
            at,
        )
        .await?;
    }
    Ok(())
}
