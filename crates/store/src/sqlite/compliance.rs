//! Compliance bookkeeping that spans events rather than recording one.

use sqlx::Row;

use super::SqliteStore;
use crate::error::Result;
use crate::history::ComplianceKind;

impl SqliteStore {
    /// Writes a part, with `reason` as its content, for every join without one: what a
    /// server that stopped without recording its departures (a crash, `kill -9`) left open.
    /// Joins and parts are recorded per chat session, so a principal's open joins in a room
    /// are its joins there less its parts. Returns how many parts were written.
    pub async fn close_open_joins(&self, reason: &str, at: i64) -> Result<u64> {
        let mut tx = self.writes.begin().await?;
        let open = sqlx::query(
            "SELECT room_id, principal_id, \
                    SUM(kind = 'join') - SUM(kind = 'part') AS open \
             FROM compliance_outbox WHERE kind IN ('join', 'part') \
             GROUP BY room_id, principal_id HAVING open > 0",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut written = 0;
        for row in &open {
            let (room_id, principal_id): (i64, i64) = (row.get("room_id"), row.get("principal_id"));
            for _ in 0..row.get::<i64, _>("open") {
                sqlx::query(
                    "INSERT INTO compliance_outbox (kind, room_id, principal_id, content, at) \
                     VALUES (?, ?, ?, ?, ?)",
                )
                .bind(ComplianceKind::Part.as_str())
                .bind(room_id)
                .bind(principal_id)
                .bind(reason)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                written += 1;
            }
        }
        tx.commit().await?;
        Ok(written)
    }
}
