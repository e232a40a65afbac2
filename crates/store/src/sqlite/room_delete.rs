//! Deleting a room for good on SQLite (`parlance room delete`).

use super::SqliteStore;
use super::changes::record_change;
use super::retention::refuse_held_room;
use crate::changes::ChangeKind;
use crate::error::{Result, StoreError};

/// What refers to a room, children first; its roles and invitations go by cascade.
const ROOM_ROWS: &[&str] = &[
    "DELETE FROM message_files WHERE room_id = ?",
    "DELETE FROM messages WHERE room_id = ?",
    "DELETE FROM file_tokens WHERE room_id = ?",
    "DELETE FROM files WHERE room_id = ?",
    "DELETE FROM compliance_outbox WHERE room_id = ?",
    "DELETE FROM audit_log WHERE room_id = ?",
    "DELETE FROM legal_holds WHERE room_id = ?",
    "DELETE FROM rooms WHERE id = ?",
];

impl SqliteStore {
    /// Deletes a room with everything that refers to it, in one transaction; refused while
    /// a legal hold is in force on it. The caller purges its history first in steps
    /// ([`SqliteStore::purge_history`]), so that this transaction stays short, and removes
    /// the stored bytes of its files afterwards. A running server parts whoever is still
    /// in it.
    pub async fn delete_room(&self, room_id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        refuse_held_room(&mut tx, room_id).await?;
        let mut deleted = 0;
        for sql in ROOM_ROWS {
            deleted = sqlx::query(sql)
                .bind(room_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        // The last statement deleted the room itself.
        if deleted == 0 {
            return Err(StoreError::NotFound("room".into()));
        }
        record_change(&mut tx, &ChangeKind::rights_in_room(room_id, None)).await?;
        tx.commit().await?;
        Ok(())
    }
}
