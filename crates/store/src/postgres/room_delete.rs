//! Deleting a room for good on PostgreSQL (`parlance room delete`).

use super::PgStore;
use super::changes::record_change;
use super::retention::refuse_held_room;
use crate::changes::ChangeKind;
use crate::error::{Result, StoreError};

/// What refers to a room, children first; its roles and invitations go by cascade.
const ROOM_ROWS: &[&str] = &[
    "DELETE FROM message_files WHERE room_id = $1",
    "DELETE FROM messages WHERE room_id = $1",
    "DELETE FROM file_tokens WHERE room_id = $1",
    "DELETE FROM files WHERE room_id = $1",
    "DELETE FROM compliance_outbox WHERE room_id = $1",
    "DELETE FROM audit_log WHERE room_id = $1",
    "DELETE FROM legal_holds WHERE room_id = $1",
    "DELETE FROM rooms WHERE id = $1",
];

impl PgStore {
    /// Deletes a room with everything that refers to it, in one transaction; refused while
    /// a legal hold is in force on it. The caller purges its history first in steps
    /// ([`PgStore::purge_history`]), so that this transaction stays short, and removes the
    /// stored bytes of its files afterwards. A running server parts whoever is still in it.
    pub async fn delete_room(&self, room_id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // The room's row first: posts and uploads into it wait for this transaction.
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM rooms WHERE id = $1 FOR UPDATE")
                .bind(room_id)
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_none() {
            return Err(StoreError::NotFound("room".into()));
        }
        refuse_held_room(&mut tx, room_id).await?;
        for sql in ROOM_ROWS {
            sqlx::query(sql).bind(room_id).execute(&mut *tx).await?;
        }
        record_change(&mut tx, &ChangeKind::rights_in_room(room_id, None)).await?;
        tx.commit().await?;
        Ok(())
    }
}
