//! Compliance bookkeeping that spans events rather than recording one: open joins, and the
//! exporter's cursor, reads and pruning.

use sqlx::sqlite::SqliteConnection;
use sqlx::{Row, Sqlite, Transaction};

use super::SqliteStore;
use super::compliance_page::PageReader;
use crate::engine::foreign_key_as_not_found;
use crate::error::{Result, StoreError};
use crate::history::ComplianceKind;

/// Outbox ids one pruning transaction covers: the single writer is held for a few
/// milliseconds at a time, so chat commits queue behind no long delete.
const PRUNE_SPAN: i64 = 2_000;

impl SqliteStore {
    /// Writes a part, with `reason` as its content, for every join without one that no
    /// registered node holds: what a server that stopped without recording its departures
    /// (a crash, `kill -9`) left open, and what was recorded before joins named their node.
    /// Joins and parts are recorded per chat session, so a principal's open joins in a room
    /// on a node are its joins there less its parts. Returns how many parts were written.
    pub async fn close_open_joins(&self, reason: &str, at: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let written = close_joins(&mut tx, JoinsOf::Unregistered, reason, at).await?;
        tx.commit().await?;
        Ok(written)
    }
}

/// Whose open joins [`close_joins`] closes.
#[derive(Debug, Clone, Copy)]
pub(super) enum JoinsOf<'a> {
    /// One node's.
    Node(&'a str),
    /// Those of nodes without a row (and of no node at all).
    Unregistered,
}

/// Writes a part for every open join of `of`, inside the caller's transaction.
pub(super) async fn close_joins(
    tx: &mut Transaction<'_, Sqlite>,
    of: JoinsOf<'_>,
    reason: &str,
    at: i64,
) -> Result<u64> {
    let filter = match of {
        JoinsOf::Node(_) => "node = ?",
        JoinsOf::Unregistered => "(node IS NULL OR node NOT IN (SELECT id FROM nodes))",
    };
    let select = format!(
        "SELECT room_id, principal_id, node, \
                SUM(kind = 'join') - SUM(kind = 'part') AS open \
         FROM compliance_outbox WHERE kind IN ('join', 'part') AND {filter} \
         GROUP BY room_id, principal_id, node HAVING open > 0"
    );
    let mut query = sqlx::query(&select);
    if let JoinsOf::Node(node) = of {
        query = query.bind(node);
    }
    let open = query.fetch_all(&mut **tx).await?;
    let mut written = 0;
    for row in &open {
        let node: Option<String> = row.get("node");
        for _ in 0..row.get::<i64, _>("open") {
            session_event(
                tx,
                ComplianceKind::Part,
                (row.get("room_id"), row.get("principal_id")),
                node.as_deref(),
                reason,
                at,
            )
            .await?;
            written += 1;
        }
    }
    Ok(written)
}

/// Appends a join or part row of a session of `node` to the outbox; `place` is the room
/// and the principal.
pub(super) async fn session_event(
    conn: &mut SqliteConnection,
    kind: ComplianceKind,
    (room_id, principal_id): (i64, i64),
    node: Option<&str>,
    content: &str,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO compliance_outbox (kind, room_id, principal_id, content, at, node) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(kind.as_str())
    .bind(room_id)
    .bind(principal_id)
    .bind(content)
    .bind(at)
    .bind(node)
    .execute(&mut *conn)
    .await
    .map_err(|e| foreign_key_as_not_found(e, "room or principal"))?;
    Ok(())
}

impl SqliteStore {
    /// The id of the last outbox row the archive holds durably (0 before any export).
    pub async fn export_cursor(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT exported_id FROM compliance_export WHERE id = 1")
                .fetch_one(&self.reads)
                .await?,
        )
    }

    /// Outbox rows after the export cursor: what the compliance archive does not hold yet.
    pub async fn compliance_backlog(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM compliance_outbox \
             WHERE id > (SELECT exported_id FROM compliance_export WHERE id = 1)",
        )
        .fetch_one(&self.reads)
        .await?;
        Ok(count.unsigned_abs())
    }

    /// Moves the export cursor from `from` to `to`, refused with
    /// [`StoreError::ExportCursorMoved`] when it is no longer at `from`.
    ///
    /// One statement: the writer is held only while SQLite runs it. The exporter's threads
    /// run at a low priority, and a transaction of several statements would hold the writer
    /// across each of their waits for a core, while a chat commit that found it taken
    /// sleeps in SQLite's busy handler, longer at each retry.
    pub async fn move_export_cursor(&self, from: i64, to: i64, at: i64) -> Result<()> {
        let moved = sqlx::query(
            "UPDATE compliance_export SET exported_id = ?, updated_at = ? \
             WHERE id = 1 AND exported_id = ?",
        )
        .bind(to)
        .bind(at)
        .bind(from)
        .execute(&self.writes)
        .await?
        .rows_affected();
        if moved == 0 {
            return Err(StoreError::ExportCursorMoved {
                expected: from,
                found: self.export_cursor().await?,
            });
        }
        Ok(())
    }

    /// The outbox after `after_id`, `limit` rows a page, with the principals and rooms each
    /// page names, read as packed values ([`super::compliance_page`]). Read on the readers'
    /// pool: the writer is not held.
    pub fn compliance_pages(&self, after_id: i64, limit: u32) -> PageReader {
        PageReader::new(self.reads.clone(), after_id, limit)
    }

    /// Deletes exported rows (ids up to `exported_id`) recorded before `before` (unix
    /// nanoseconds), in short transactions, and returns how many went.
    ///
    /// A join stays until its part goes with it: [`SqliteStore::close_open_joins`] finds
    /// the joins a stopped server left open by counting joins less parts per principal,
    /// room and node, so rows of those kinds leave in pairs and that count never changes. A part with
    /// no join left before it is deleted alone: its join was already taken by another part,
    /// so it only ever lowered the count.
    ///
    /// Rows leave in outbox order: the first exported row not yet old enough ends the
    /// prune. A retention keeps every row at least as long as it says, and one whose time a
    /// stepped-back clock set early waits for the rows recorded before it; and a prune of
    /// rows kept for a long retention reads up to the first of them, not all of them.
    ///
    /// The writer is taken only for spans that hold something to delete, found on the
    /// readers' pool: rows kept for the retention (or open joins) cost a read, not a
    /// write transaction each. After each step the writer is left free for as long as the
    /// step held it, so that chat commits get it between steps rather than retrying in
    /// SQLite's busy handler until the prune ends.
    pub async fn prune_exported(&self, exported_id: i64, before: i64) -> Result<u64> {
        let young: Option<i64> = sqlx::query_scalar(
            "SELECT id - 1 FROM compliance_outbox WHERE id <= ? AND at >= ? ORDER BY id LIMIT 1",
        )
        .bind(exported_id)
        .bind(before)
        .fetch_optional(&self.reads)
        .await?;
        let exported_id = young.unwrap_or(exported_id);
        let mut pruned = 0;
        let mut lo = self.next_prunable(0, exported_id, before).await?;
        while let Some(from) = lo {
            let to = from.saturating_add(PRUNE_SPAN).min(exported_id);
            let step = std::time::Instant::now();
            let mut tx = self.begin_write().await?;
            pruned += sqlx::query(
                "DELETE FROM compliance_outbox WHERE id > ? AND id <= ? AND at < ? \
                 AND kind NOT IN ('join', 'part')",
            )
            .bind(from)
            .bind(to)
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let parts = sqlx::query(
                "SELECT id, room_id, principal_id, node FROM compliance_outbox \
                 WHERE id > ? AND id <= ? AND at < ? AND kind = 'part' ORDER BY id",
            )
            .bind(from)
            .bind(to)
            .bind(before)
            .fetch_all(&mut *tx)
            .await?;
            for part in &parts {
                let id: i64 = part.get("id");
                pruned += sqlx::query(
                    "DELETE FROM compliance_outbox WHERE id = ? OR id = ( \
                         SELECT id FROM compliance_outbox \
                         WHERE room_id = ? AND principal_id = ? AND node IS ? AND kind = 'join' \
                         AND id < ? ORDER BY id LIMIT 1)",
                )
                .bind(id)
                .bind(part.get::<i64, _>("room_id"))
                .bind(part.get::<i64, _>("principal_id"))
                .bind(part.get::<Option<String>, _>("node"))
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            tokio::time::sleep(step.elapsed()).await;
            lo = self.next_prunable(to, exported_id, before).await?;
        }
        Ok(pruned)
    }

    /// Where the next pruning step starts (the id before the first row after `after`, up to
    /// `exported_id`, that a step would delete), or `None`: joins still open, and rows kept
    /// for the retention, are skipped.
    async fn next_prunable(
        &self,
        after: i64,
        exported_id: i64,
        before: i64,
    ) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(id) - 1 FROM compliance_outbox \
             WHERE id > ? AND id <= ? AND at < ? AND kind <> 'join'",
        )
        .bind(after)
        .bind(exported_id)
        .bind(before)
        .fetch_one(&self.reads)
        .await?)
    }
}
