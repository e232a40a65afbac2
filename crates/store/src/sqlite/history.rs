//! Messages, history reads, compliance events, invitations and preferences on SQLite.
//! Every action that compliance must see writes its outbox row in its own transaction;
//! a history read writes its row beside the read (a read has no transaction to share).

use sqlx::Row;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use super::SqliteStore;
use super::changes::record_change;
use super::compliance::session_event;
use super::files::link_files;
use crate::changes::ChangeKind;
use crate::engine::foreign_key_as_not_found;
use crate::error::{Result, StoreError};
use crate::history::{
    ComplianceEvent, ComplianceKind, HistoryQuery, Invitation, NewComplianceEvent, Post,
    Preference, StoredMessage, backchat_content, fts_in_rooms, scoped_words,
};
use crate::rows;

const MESSAGE_COLUMNS: &str =
    "m.room_id, m.seq, p.uri AS author_uri, m.posted_at, m.content, m.alert, m.rtf";

/// What a stored preference costs besides its label and content (its row), so that many
/// empty blobs count too.
const PREFERENCE_OVERHEAD: u64 = 64;

/// Messages found by an [`fts_in_rooms`] query, the full-text index driving the search.
const FTS_SEARCH: &str = "SELECT m.room_id, m.seq, p.uri AS author_uri, m.posted_at, m.content, m.alert, m.rtf \
     FROM messages_fts f JOIN messages m ON m.id = f.rowid JOIN principals p ON p.id = m.author_id \
     WHERE messages_fts MATCH ?";

impl SqliteStore {
    /// Stores a message with the room's next sequence number, its compliance event and its
    /// links to the files it names (`linked_files`: repository names; only complete files
    /// of the room are linked), in one short transaction. The commit order is the room's
    /// order.
    pub async fn post_message(
        &self,
        room_id: i64,
        author_id: i64,
        post: &Post<'_>,
        posted_at: i64,
    ) -> Result<StoredMessage> {
        let Post {
            content,
            linked_files,
            alert,
            rtf,
        } = *post;
        // Split before the writer is taken: the transaction only inserts.
        let words = scoped_words(room_id, content);
        let mut tx = self.begin_write().await?;
        let seq: i64 = sqlx::query_scalar(
            "UPDATE rooms SET next_seq = next_seq + 1 WHERE id = ? RETURNING next_seq - 1",
        )
        .bind(room_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound("room".into()))?;
        let id: i64 = sqlx::query_scalar("INSERT INTO messages (room_id, seq, author_id, posted_at, content, alert, rtf) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id")
            .bind(room_id)
            .bind(seq)
            .bind(author_id)
            .bind(posted_at)
            .bind(content)
            .bind(alert)
            .bind(rtf)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| foreign_key_as_not_found(e, "author"))?;
        sqlx::query("INSERT INTO messages_fts (rowid, words) VALUES (?, ?)")
            .bind(id)
            .bind(words)
            .execute(&mut *tx)
            .await?;
        link_files(&mut tx, room_id, seq, linked_files).await?;
        outbox(
            &mut tx,
            ComplianceKind::Chat,
            room_id,
            author_id,
            Some(seq),
            content,
            posted_at,
        )
        .await?;
        let author_uri: String = sqlx::query_scalar("SELECT uri FROM principals WHERE id = ?")
            .bind(author_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(StoredMessage {
            room_id,
            seq,
            author_uri,
            posted_at,
            content: content.to_owned(),
            alert,
            rtf: rtf.map(str::to_owned),
        })
    }

    /// Reserves the room's next sequence numbers and inserts the rows in multi-row
    /// statements: a million rows take seconds rather than the minutes of one statement each.
    pub async fn import_messages(
        &self,
        room_id: i64,
        author_id: i64,
        messages: &[(&str, i64)],
    ) -> Result<i64> {
        // 5 parameters a row; SQLite allows 32,766 per statement.
        const ROWS_PER_STATEMENT: usize = 500;
        let count = i64::try_from(messages.len()).map_err(|_| StoreError::Invalid {
            what: "import",
            why: "too many messages".into(),
        })?;
        let words: Vec<String> = messages
            .iter()
            .map(|(content, _)| scoped_words(room_id, content))
            .collect();
        let mut tx = self.begin_write().await?;
        let first: i64 = sqlx::query_scalar(
            "UPDATE rooms SET next_seq = next_seq + ? WHERE id = ? RETURNING next_seq - ?",
        )
        .bind(count)
        .bind(room_id)
        .bind(count)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound("room".into()))?;
        let mut seq = first;
        for (chunk, chunk_words) in messages
            .chunks(ROWS_PER_STATEMENT)
            .zip(words.chunks(ROWS_PER_STATEMENT))
        {
            let chunk_first = seq;
            let mut sql = String::from(
                "INSERT INTO messages (room_id, seq, author_id, posted_at, content) VALUES ",
            );
            sql.push_str(&vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", "));
            sql.push_str(" RETURNING seq, id");
            let mut query = sqlx::query_as::<_, (i64, i64)>(&sql);
            for (content, posted_at) in chunk {
                query = query
                    .bind(room_id)
                    .bind(seq)
                    .bind(author_id)
                    .bind(*posted_at)
                    .bind(*content);
                seq += 1;
            }
            // SQLite returns the new rows in no promised order: each id goes with the
            // words of its sequence number.
            let ids = query
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| foreign_key_as_not_found(e, "author"))?;
            let mut sql = String::from("INSERT INTO messages_fts (rowid, words) VALUES ");
            sql.push_str(&vec!["(?, ?)"; ids.len()].join(", "));
            let mut index = sqlx::query(&sql);
            for (row_seq, id) in ids {
                let words = usize::try_from(row_seq - chunk_first)
                    .ok()
                    .and_then(|i| chunk_words.get(i))
                    .ok_or_else(|| StoreError::Invalid {
                        what: "import",
                        why: "a message came back with a sequence number outside its batch".into(),
                    })?;
                index = index.bind(id).bind(words);
            }
            index.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(seq - 1)
    }

    /// Appends compliance events in one transaction, in multi-row statements: for load
    /// generation (`parlance bench compliance`), a million rows in seconds.
    pub async fn import_compliance_events(&self, events: &[NewComplianceEvent<'_>]) -> Result<()> {
        // 6 parameters a row; SQLite allows 32,766 per statement.
        const ROWS_PER_STATEMENT: usize = 500;
        let mut tx = self.begin_write().await?;
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO compliance_outbox (kind, room_id, principal_id, message_seq, content, at) VALUES ",
            );
            sql.push_str(&vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", "));
            let mut query = sqlx::query(&sql);
            for e in chunk {
                query = query
                    .bind(e.kind.as_str())
                    .bind(e.room_id)
                    .bind(e.principal_id)
                    .bind(e.message_seq)
                    .bind(e.content)
                    .bind(e.at);
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(|e| foreign_key_as_not_found(e, "room or principal"))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Reads history (oldest first) and records the read as a compliance event whose
    /// content is what was read ([`backchat_content`]). The read runs first, on a reader,
    /// and the record after it: the writer is held for one insert only, never during a
    /// search. Nothing read is returned unless the record was written; a read that fails
    /// (a search stopped at its time limit) is recorded with the query instead.
    pub async fn read_history(
        &self,
        room_id: i64,
        viewer_id: i64,
        query: &HistoryQuery,
        at: i64,
    ) -> Result<Vec<StoredMessage>> {
        let rows = self.history_rows(room_id, query).await;
        let mut messages: Vec<StoredMessage> = match rows {
            Ok(rows) => rows.iter().map(rows::message).collect(),
            Err(e) => {
                let description = match query {
                    HistoryQuery::Last(n) => format!("last {n}"),
                    HistoryQuery::Before { seq, n } => format!("before {seq} {n}"),
                    HistoryQuery::After { seq, n } => format!("after {seq} {n}"),
                    HistoryQuery::Search { text, n } => format!("search {n} {text}"),
                };
                let room = std::slice::from_ref(&room_id);
                self.record_events(ComplianceKind::Backchat, room, viewer_id, &description, at)
                    .await?;
                return Err(e);
            }
        };
        messages.reverse();
        let content = backchat_content(&messages);
        self.record_events(
            ComplianceKind::Backchat,
            std::slice::from_ref(&room_id),
            viewer_id,
            &content,
            at,
        )
        .await?;
        Ok(messages)
    }

    /// Up to `n` messages of a room after `seq`, oldest first, recording nothing: a pool node
    /// re-reading what the relay did not bring it.
    pub async fn messages_after(
        &self,
        room_id: i64,
        seq: i64,
        n: u32,
    ) -> Result<Vec<StoredMessage>> {
        let rows = self
            .history_rows(room_id, &HistoryQuery::After { seq, n })
            .await?;
        Ok(rows.iter().rev().map(rows::message).collect())
    }

    /// The sequence number of each room's newest message (0 for none yet), for the rooms of
    /// `room_ids` that exist, by room id.
    pub async fn last_seqs(&self, room_ids: &[i64]) -> Result<Vec<(i64, i64)>> {
        // One bound JSON array rather than a statement per room or a query text per size.
        let ids = format!(
            "[{}]",
            room_ids
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT id, next_seq - 1 FROM rooms WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
        )
        .bind(ids)
        .fetch_all(&self.reads)
        .await?;
        Ok(rows)
    }

    /// The rows a history query asks for, newest first.
    async fn history_rows(&self, room_id: i64, query: &HistoryQuery) -> Result<Vec<SqliteRow>> {
        let base = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN principals p ON p.id = m.author_id"
        );
        Ok(match query {
            HistoryQuery::Last(n) => {
                sqlx::query(&format!(
                    "{base} WHERE m.room_id = ? ORDER BY m.seq DESC LIMIT ?"
                ))
                .bind(room_id)
                .bind(i64::from(*n))
                .fetch_all(&self.reads)
                .await?
            }
            HistoryQuery::Before { seq, n } => {
                sqlx::query(&format!(
                    "{base} WHERE m.room_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?"
                ))
                .bind(room_id)
                .bind(seq)
                .bind(i64::from(*n))
                .fetch_all(&self.reads)
                .await?
            }
            HistoryQuery::After { seq, n } => {
                let mut rows = sqlx::query(&format!(
                    "{base} WHERE m.room_id = ? AND m.seq > ? ORDER BY m.seq ASC LIMIT ?"
                ))
                .bind(room_id)
                .bind(seq)
                .bind(i64::from(*n))
                .fetch_all(&self.reads)
                .await?;
                rows.reverse();
                rows
            }
            HistoryQuery::Search { text, n } => match fts_in_rooms(&[room_id], text) {
                None => Vec::new(),
                Some(fts) => {
                    let mut conn = self.search_connection().await?;
                    sqlx::query(&format!("{FTS_SEARCH} ORDER BY f.rowid DESC LIMIT ?"))
                        .bind(fts)
                        .bind(i64::from(*n))
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(|e| self.search_error(e))?
                }
            },
        })
    }

    /// Searches the history of several rooms (the caller passes the rooms the viewer may
    /// read), newest first, and records one compliance event per room searched, after the
    /// search as [`SqliteStore::read_history`] does, each with what was found in its room.
    pub async fn search_history(
        &self,
        room_ids: &[i64],
        viewer_id: i64,
        text: &str,
        limit: u32,
        at: i64,
    ) -> Result<Vec<StoredMessage>> {
        let Some(fts) = fts_in_rooms(room_ids, text) else {
            return Ok(Vec::new());
        };
        let search = async {
            let mut conn = self.search_connection().await?;
            sqlx::query(&format!(
                "{FTS_SEARCH} ORDER BY m.posted_at DESC, f.rowid DESC LIMIT ?"
            ))
            .bind(fts)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.search_error(e))
        };
        let messages: Vec<StoredMessage> = match search.await {
            Ok(rows) => rows.iter().map(rows::message).collect(),
            Err(e) => {
                let description = format!("search {text}");
                self.record_events(
                    ComplianceKind::Backchat,
                    room_ids,
                    viewer_id,
                    &description,
                    at,
                )
                .await?;
                return Err(e);
            }
        };
        // One row per room searched, each with what was found there.
        let mut tx = self.begin_write().await?;
        for &room_id in room_ids {
            let found: Vec<StoredMessage> = messages
                .iter()
                .filter(|m| m.room_id == room_id)
                .rev()
                .cloned()
                .collect();
            let content = backchat_content(&found);
            outbox(
                &mut tx,
                ComplianceKind::Backchat,
                room_id,
                viewer_id,
                None,
                &content,
                at,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(messages)
    }

    /// Records a join or part (or any event without its own row) for compliance. One row is
    /// one statement, a transaction of its own: every member's join and part writes one,
    /// and without a `BEGIN` and a `COMMIT` around it the writer's thread is handed one
    /// command instead of three. Being a write from its first step, the statement waits
    /// for SQLite's lock in the busy handler like `BEGIN IMMEDIATE` ([`SqliteStore::begin_write`]).
    pub async fn record_event(
        &self,
        kind: ComplianceKind,
        room_id: i64,
        principal_id: i64,
        content: &str,
        at: i64,
    ) -> Result<()> {
        let mut conn = self.writes.acquire().await?;
        self.event_row(&mut conn, kind, room_id, principal_id, content, at)
            .await
    }

    /// One compliance event per room, in one transaction: all are recorded or none.
    async fn record_events(
        &self,
        kind: ComplianceKind,
        room_ids: &[i64],
        principal_id: i64,
        content: &str,
        at: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for room_id in room_ids {
            self.event_row(&mut tx, kind, *room_id, principal_id, content, at)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes one compliance event on `conn`: a join or part names this handle's node.
    async fn event_row(
        &self,
        conn: &mut SqliteConnection,
        kind: ComplianceKind,
        room_id: i64,
        principal_id: i64,
        content: &str,
        at: i64,
    ) -> Result<()> {
        if kind.is_session() {
            let (place, node) = ((room_id, principal_id), self.node.as_deref());
            session_event(conn, kind, place, node, content, at).await
        } else {
            outbox(conn, kind, room_id, principal_id, None, content, at).await
        }
    }

    /// Compliance events after `after_id`, oldest first.
    pub async fn compliance_events(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<ComplianceEvent>> {
        let rows = sqlx::query(
            "SELECT id, kind, room_id, principal_id, message_seq, content, at FROM compliance_outbox \
             WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.reads)
        .await?;
        Ok(rows.iter().map(rows::event).collect())
    }

    /// Invites principals to a room; each gets the next invitation id of their own. Already
    /// invited principals are left as they are. Each new invitation is written with its
    /// access change, through which a running server pushes it. Returns how many are new.
    pub async fn invite(&self, room_id: i64, principal_ids: &[i64]) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut invited = 0;
        for p in principal_ids {
            let new = sqlx::query(
                "INSERT OR IGNORE INTO invitations (principal_id, invite_id, room_id, created_at) \
                 SELECT ?1, COALESCE(MAX(invite_id), 0) + 1, ?2, ?3 FROM invitations WHERE principal_id = ?1",
            )
            .bind(p)
            .bind(room_id)
            .bind(crate::now())
            .execute(&mut *tx)
            .await
            .map_err(|e| foreign_key_as_not_found(e, "room or principal"))?
            .rows_affected();
            if new > 0 {
                let change = ChangeKind::Invite {
                    principal_id: *p,
                    room_id,
                };
                record_change(&mut tx, &change).await?;
                invited += new;
            }
        }
        tx.commit().await?;
        Ok(invited)
    }

    /// Invitations with an id of at least `from_id`, in order.
    pub async fn invitations(&self, principal_id: i64, from_id: i64) -> Result<Vec<Invitation>> {
        let rows = sqlx::query(
            "SELECT invite_id, room_id, created_at FROM invitations WHERE principal_id = ? AND invite_id >= ? ORDER BY invite_id",
        )
        .bind(principal_id)
        .bind(from_id)
        .fetch_all(&self.reads)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Invitation {
                invite_id: r.get("invite_id"),
                room_id: r.get("room_id"),
                created_at: r.get("created_at"),
            })
            .collect())
    }

    pub async fn preference(&self, principal_id: i64, label: &str) -> Result<Option<Preference>> {
        let row = sqlx::query(
            "SELECT label, seq, content FROM preferences WHERE principal_id = ? AND label = ?",
        )
        .bind(principal_id)
        .bind(label)
        .fetch_optional(&self.reads)
        .await?;
        Ok(row.map(|r| Preference {
            label: r.get("label"),
            seq: r.get("seq"),
            content: r.get("content"),
        }))
    }

    /// Stores a preference blob with the next sequence number; returns it. Each blob counts
    /// its label, its content and [`PREFERENCE_OVERHEAD`] against `quota_bytes`.
    pub async fn set_preference(
        &self,
        principal_id: i64,
        label: &str,
        content: &str,
        quota_bytes: u64,
    ) -> Result<Preference> {
        let mut tx = self.begin_write().await?;
        let others: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(length(CAST(label AS BLOB)) + length(CAST(content AS BLOB)) + ?), 0) \
             FROM preferences WHERE principal_id = ? AND label <> ?",
        )
        .bind(PREFERENCE_OVERHEAD as i64)
        .bind(principal_id)
        .bind(label)
        .fetch_one(&mut *tx)
        .await?;
        let total = others as u64 + (label.len() + content.len()) as u64 + PREFERENCE_OVERHEAD;
        if total > quota_bytes {
            return Err(StoreError::QuotaExceeded {
                what: "preferences",
                limit: quota_bytes,
            });
        }
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO preferences (principal_id, label, seq, content) VALUES (?, ?, 1, ?) \
             ON CONFLICT (principal_id, label) DO UPDATE SET seq = seq + 1, content = excluded.content RETURNING seq",
        )
        .bind(principal_id)
        .bind(label)
        .bind(content)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Preference {
            label: label.to_owned(),
            seq,
            content: content.to_owned(),
        })
    }
}

/// Appends a compliance row inside the transaction of the action it records.
pub(super) async fn outbox(
    conn: &mut SqliteConnection,
    kind: ComplianceKind,
    room_id: i64,
    principal_id: i64,
    message_seq: Option<i64>,
    content: &str,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO compliance_outbox (kind, room_id, principal_id, message_seq, content, at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(kind.as_str())
    .bind(room_id)
    .bind(principal_id)
    .bind(message_seq)
    .bind(content)
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(|e| foreign_key_as_not_found(e, "room or principal"))?;
    Ok(())
}
