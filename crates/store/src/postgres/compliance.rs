//! Compliance bookkeeping that spans events rather than recording one: open joins, and the
//! exporter's cursor, reads and pruning.

use sqlx::{Postgres, Row, Transaction};

use super::{FeedLock, PgStore};
use crate::engine::foreign_key_as_not_found;
use crate::error::{Result, StoreError};
use crate::history::{ComplianceKind, CompliancePage, CompliancePrincipal, ComplianceRoom};
use crate::rows;

/// Outbox ids one pruning transaction covers: the rows it deletes stay locked for a few
/// milliseconds at a time, never through a long delete.
const PRUNE_SPAN: i64 = 2_000;

impl PgStore {
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
    tx: &mut Transaction<'_, Postgres>,
    of: JoinsOf<'_>,
    reason: &str,
    at: i64,
) -> Result<u64> {
    // Taken before the count: no join can be written between the count and the parts, and
    // two nodes closing the same joins count one after the other.
    FeedLock::ComplianceOutbox.take(tx).await?;
    let filter = match of {
        JoinsOf::Node(_) => "node = $1",
        JoinsOf::Unregistered => {
            "(node IS NULL OR NOT EXISTS (SELECT 1 FROM nodes WHERE nodes.id = compliance_outbox.node))"
        }
    };
    let select = format!(
        "SELECT room_id, principal_id, node, open FROM ( \
             SELECT room_id, principal_id, node, \
                    SUM(CASE kind WHEN 'join' THEN 1 ELSE -1 END) AS open \
             FROM compliance_outbox WHERE kind IN ('join', 'part') AND {filter} \
             GROUP BY room_id, principal_id, node) counts \
         WHERE open > 0"
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
    tx: &mut Transaction<'_, Postgres>,
    kind: ComplianceKind,
    (room_id, principal_id): (i64, i64),
    node: Option<&str>,
    content: &str,
    at: i64,
) -> Result<()> {
    FeedLock::ComplianceOutbox.take(tx).await?;
    sqlx::query(
        "INSERT INTO compliance_outbox (kind, room_id, principal_id, content, at, node) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(kind.as_str())
    .bind(room_id)
    .bind(principal_id)
    .bind(content)
    .bind(at)
    .bind(node)
    .execute(&mut **tx)
    .await
    .map_err(|e| foreign_key_as_not_found(e, "room or principal"))?;
    Ok(())
}

impl PgStore {
    /// The id of the last outbox row the archive holds durably (0 before any export).
    pub async fn export_cursor(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT exported_id FROM compliance_export WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Outbox rows after the export cursor: what the compliance archive does not hold yet.
    pub async fn compliance_backlog(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM compliance_outbox \
             WHERE id > (SELECT exported_id FROM compliance_export WHERE id = 1)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(count.unsigned_abs())
    }

    /// Moves the export cursor from `from` to `to`, refused with
    /// [`StoreError::ExportCursorMoved`] when it is no longer at `from`.
    pub async fn move_export_cursor(&self, from: i64, to: i64, at: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let found: i64 =
            sqlx::query_scalar("SELECT exported_id FROM compliance_export WHERE id = 1 FOR UPDATE")
                .fetch_one(&mut *tx)
                .await?;
        if found != from {
            return Err(StoreError::ExportCursorMoved {
                expected: from,
                found,
            });
        }
        sqlx::query("UPDATE compliance_export SET exported_id = $1, updated_at = $2 WHERE id = 1")
            .bind(to)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The outbox after `after_id`, `limit` rows a page, with the principals and rooms each
    /// page names.
    pub fn compliance_pages(&self, after_id: i64, limit: u32) -> PageReader {
        PageReader {
            store: self.clone(),
            after: after_id,
            limit,
            ended: false,
        }
    }

    /// Outbox rows after `after_id`, oldest first, at most `limit`, with the principals and
    /// rooms they name: the rows, then the names of those they name once each, in one
    /// snapshot. A read: it locks nothing.
    async fn compliance_page(&self, after_id: i64, limit: u32) -> Result<CompliancePage> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(
            "SELECT id, kind, room_id, principal_id, message_seq, content, at \
             FROM compliance_outbox WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut page = CompliancePage {
            events: rows.iter().map(rows::event).collect(),
            ..CompliancePage::default()
        };
        if page.events.is_empty() {
            return Ok(page);
        }
        let names = sqlx::query(
            "SELECT 'principal' AS of, id, uri AS name, display_name AS detail \
             FROM principals WHERE id = ANY($1) \
             UNION ALL \
             SELECT 'room', id, guid, name FROM rooms WHERE id = ANY($2)",
        )
        .bind(page.principal_ids())
        .bind(page.room_ids())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        for row in &names {
            let (id, name, detail) = (row.get("id"), row.get("name"), row.get("detail"));
            match row.get::<&str, _>("of") {
                "principal" => {
                    page.principals.insert(
                        id,
                        CompliancePrincipal {
                            uri: name,
                            display_name: detail,
                        },
                    );
                }
                _ => {
                    page.rooms.insert(
                        id,
                        ComplianceRoom {
                            guid: name,
                            name: detail,
                        },
                    );
                }
            }
        }
        Ok(page)
    }

    /// Deletes exported rows (ids up to `exported_id`) recorded before `before` (unix
    /// nanoseconds), in short transactions, and returns how many went.
    ///
    /// A join stays until its part goes with it: [`PgStore::close_open_joins`] finds
    /// the joins a stopped server left open by counting joins less parts per principal,
    /// room and node, so rows of those kinds leave in pairs and that count never changes. A part with
    /// no join left before it is deleted alone: its join was already taken by another part,
    /// so it only ever lowered the count.
    ///
    /// Rows leave in outbox order: the first exported row not yet old enough ends the
    /// prune (see the SQLite store's).
    pub async fn prune_exported(&self, exported_id: i64, before: i64) -> Result<u64> {
        let young: Option<i64> = sqlx::query_scalar(
            "SELECT id - 1 FROM compliance_outbox WHERE id <= $1 AND at >= $2 ORDER BY id LIMIT 1",
        )
        .bind(exported_id)
        .bind(before)
        .fetch_optional(&self.pool)
        .await?;
        let exported_id = young.unwrap_or(exported_id);
        let mut pruned = 0;
        let mut lo: Option<i64> =
            sqlx::query_scalar("SELECT MIN(id) - 1 FROM compliance_outbox WHERE id <= $1")
                .bind(exported_id)
                .fetch_one(&self.pool)
                .await?;
        while let Some(from) = lo {
            let to = from.saturating_add(PRUNE_SPAN).min(exported_id);
            let mut tx = self.begin_write().await?;
            pruned += sqlx::query(
                "DELETE FROM compliance_outbox WHERE id > $1 AND id <= $2 AND at < $3 \
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
                 WHERE id > $1 AND id <= $2 AND at < $3 AND kind = 'part' ORDER BY id",
            )
            .bind(from)
            .bind(to)
            .bind(before)
            .fetch_all(&mut *tx)
            .await?;
            for part in &parts {
                let id: i64 = part.get("id");
                pruned += sqlx::query(
                    "DELETE FROM compliance_outbox WHERE id = $1 OR id = ( \
                         SELECT id FROM compliance_outbox \
                         WHERE room_id = $2 AND principal_id = $3 \
                         AND node IS NOT DISTINCT FROM $4 AND kind = 'join' AND id < $5 \
                         ORDER BY id LIMIT 1)",
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
            // Joins still open, and rows kept for the retention, lie below; skip to the next row.
            lo = sqlx::query_scalar(
                "SELECT MIN(id) - 1 FROM compliance_outbox WHERE id > $1 AND id <= $2",
            )
            .bind(to)
            .bind(exported_id)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(pruned)
    }
}

/// The outbox read page after page ([`PgStore::compliance_pages`]), each page in a snapshot
/// of its own.
#[derive(Debug)]
pub struct PageReader {
    store: PgStore,
    after: i64,
    limit: u32,
    /// The last page came short, the end of the outbox for now: the next call says so.
    ended: bool,
}

impl PageReader {
    /// The next page; empty at the end of the outbox, and a later call reads what was
    /// recorded since.
    pub async fn next(&mut self) -> Result<CompliancePage> {
        if std::mem::take(&mut self.ended) {
            return Ok(CompliancePage::default());
        }
        let page = self.store.compliance_page(self.after, self.limit).await?;
        if let Some(last) = page.events.last() {
            self.after = last.id;
            self.ended = page.events.len() < self.limit as usize;
        }
        Ok(page)
    }
}
