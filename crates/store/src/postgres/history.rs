//! Messages, history reads, compliance events, invitations and preferences on PostgreSQL.
//! Every action that compliance must see writes its outbox row in its own transaction;
//! a history read writes its row beside the read (a read has no transaction to share).

use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::changes::record_change;
use super::compliance::session_event;
use super::files::link_files;
use super::search::{all_words_query, search_lexemes};
use super::{FeedLock, PgStore};
use crate::changes::ChangeKind;
use crate::engine::foreign_key_as_not_found;
use crate::error::{Result, StoreError};
use crate::history::{
    ComplianceEvent, ComplianceKind, HistoryQuery, Invitation, NewComplianceEvent, Post,
    Preference, StoredMessage, backchat_content,
};
use crate::rows;

const MESSAGE_COLUMNS: &str =
    "m.room_id, m.seq, p.uri AS author_uri, m.posted_at, m.content, m.alert, m.rtf";

/// What a stored preference costs besides its label and content (its row), so that many
/// empty blobs count too.
const PREFERENCE_OVERHEAD: u64 = 64;

/// Messages holding every word of the [`all_words_query`] `$1`, found through the GIN
/// index of `messages.search`. Its words are scoped to the rooms searched, so it names the
/// rooms too.
const FTS_SEARCH: &str = "SELECT m.room_id, m.seq, p.uri AS author_uri, m.posted_at, m.content, m.alert, m.rtf \
     FROM messages m JOIN principals p ON p.id = m.author_id \
     WHERE m.search @@ $1::tsquery";

impl PgStore {
    /// Stores a message with the room's next sequence number, its compliance event and its
    /// links to the files it names (only complete files of the room are linked), in one
    /// short transaction. The commit order is the room's order.
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
        let mut tx = self.begin_write().await?;
        let seq: i64 = sqlx::query_scalar(
            "UPDATE rooms SET next_seq = next_seq + 1 WHERE id = $1 RETURNING next_seq - 1",
        )
        .bind(room_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound("room".into()))?;
        sqlx::query(
            "INSERT INTO messages (room_id, seq, author_id, posted_at, content, alert, rtf, search) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, array_to_tsvector($8::text[]))",
        )
        .bind(room_id)
        .bind(seq)
        .bind(author_id)
        .bind(posted_at)
        .bind(content)
        .bind(alert)
        .bind(rtf)
        .bind(search_lexemes(room_id, content))
        .execute(&mut *tx)
        .await
        .map_err(|e| foreign_key_as_not_found(e, "author"))?;
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
        let author_uri: String = sqlx::query_scalar("SELECT uri FROM principals WHERE id = $1")
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
        // 6 parameters a row; PostgreSQL allows 65,535 per statement.
        const ROWS_PER_STATEMENT: usize = 500;
        let count = i64::try_from(messages.len()).map_err(|_| StoreError::Invalid {
            what: "import",
            why: "too many messages".into(),
        })?;
        let mut tx = self.begin_write().await?;
        let first: i64 = sqlx::query_scalar(
            "UPDATE rooms SET next_seq = next_seq + $1 WHERE id = $2 RETURNING next_seq - $3",
        )
        .bind(count)
        .bind(room_id)
        .bind(count)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound("room".into()))?;
        let mut seq = first;
        for chunk in messages.chunks(ROWS_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO messages (room_id, seq, author_id, posted_at, content, search) VALUES ",
            );
            sql.push_str(&placeholders(chunk.len(), 6, Some(6)));
            let mut query = sqlx::query(&sql);
            for (content, posted_at) in chunk {
                query = query
                    .bind(room_id)
                    .bind(seq)
                    .bind(author_id)
                    .bind(*posted_at)
                    .bind(*content)
                    .bind(search_lexemes(room_id, content));
                seq += 1;
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(|e| foreign_key_as_not_found(e, "author"))?;
        }
        tx.commit().await?;
        Ok(seq - 1)
    }

    /// Appends compliance events in one transaction, in multi-row statements: for load
    /// generation (`parlance bench compliance`), a million rows in seconds.
    pub async fn import_compliance_events(&self, events: &[NewComplianceEvent<'_>]) -> Result<()> {
        // 6 parameters a row; PostgreSQL allows 65,535 per statement.
        const ROWS_PER_STATEMENT: usize = 500;
        let mut tx = self.begin_write().await?;
        FeedLock::ComplianceOutbox.take(&mut tx).await?;
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO compliance_outbox (kind, room_id, principal_id, message_seq, content, at) VALUES ",
            );
            sql.push_str(&placeholders(chunk.len(), 6, None));
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
    /// content is what was read ([`backchat_content`]). The read runs first and the record
    /// after it: the outbox's lock is held for one insert only, never during a search.
    /// Nothing read is returned unless the record was written; a read that fails (a search
    /// stopped at its time limit) is recorded with the query instead.
    pub async fn read_history(
        &self,
        room_id: i64,
        viewer_id: i64,
        query: &HistoryQuery,
        at: i64,
    ) -> Result<Vec<StoredMessage>> {
        let room = std::slice::from_ref(&room_id);
        let mut messages: Vec<StoredMessage> = match self.history_rows(room_id, query).await {
            Ok(rows) => rows.iter().map(rows::message).collect(),
            Err(e) => {
                let description = match query {
                    HistoryQuery::Last(n) => format!("last {n}"),
                    HistoryQuery::Before { seq, n } => format!("before {seq} {n}"),
                    HistoryQuery::After { seq, n } => format!("after {seq} {n}"),
                    HistoryQuery::Search { text, n } => format!("search {n} {text}"),
                };
                self.record_events(ComplianceKind::Backchat, room, viewer_id, &description, at)
                    .await?;
                return Err(e);
            }
        };
        messages.reverse();
        let content = backchat_content(&messages);
        self.record_events(ComplianceKind::Backchat, room, viewer_id, &content, at)
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
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT id, next_seq - 1 FROM rooms WHERE id = ANY($1) ORDER BY id")
                .bind(room_ids)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows)
    }

    /// The rows a history query asks for, newest first.
    async fn history_rows(&self, room_id: i64, query: &HistoryQuery) -> Result<Vec<PgRow>> {
        let base = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN principals p ON p.id = m.author_id"
        );
        Ok(match query {
            HistoryQuery::Last(n) => {
                sqlx::query(&format!(
                    "{base} WHERE m.room_id = $1 ORDER BY m.seq DESC LIMIT $2"
                ))
                .bind(room_id)
                .bind(i64::from(*n))
                .fetch_all(&self.pool)
                .await?
            }
            HistoryQuery::Before { seq, n } => {
                sqlx::query(&format!(
                    "{base} WHERE m.room_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3"
                ))
                .bind(room_id)
                .bind(seq)
                .bind(i64::from(*n))
                .fetch_all(&self.pool)
                .await?
            }
            HistoryQuery::After { seq, n } => {
                let mut rows = sqlx::query(&format!(
                    "{base} WHERE m.room_id = $1 AND m.seq > $2 ORDER BY m.seq ASC LIMIT $3"
                ))
                .bind(room_id)
                .bind(seq)
                .bind(i64::from(*n))
                .fetch_all(&self.pool)
                .await?;
                rows.reverse();
                rows
            }
            HistoryQuery::Search { text, n } => match all_words_query(&[room_id], text) {
                None => Vec::new(),
                Some(words) => {
                    let mut conn = self.search_connection().await?;
                    sqlx::query(&format!("{FTS_SEARCH} ORDER BY m.id DESC LIMIT $2"))
                        .bind(words)
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
    /// search as [`PgStore::read_history`] does, each with what was found in its room.
    pub async fn search_history(
        &self,
        room_ids: &[i64],
        viewer_id: i64,
        text: &str,
        limit: u32,
        at: i64,
    ) -> Result<Vec<StoredMessage>> {
        let Some(words) = all_words_query(room_ids, text) else {
            return Ok(Vec::new());
        };
        let search = async {
            let mut conn = self.search_connection().await?;
            sqlx::query(&format!(
                "{FTS_SEARCH} ORDER BY m.posted_at DESC, m.id DESC LIMIT $2"
            ))
            .bind(words)
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

    /// Records a join or part (or any event without its own row) for compliance.
    pub async fn record_event(
        &self,
        kind: ComplianceKind,
        room_id: i64,
        principal_id: i64,
        content: &str,
        at: i64,
    ) -> Result<()> {
        self.record_events(kind, &[room_id], principal_id, content, at)
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
            if kind.is_session() {
                let (place, node) = ((*room_id, principal_id), self.node.as_deref());
                session_event(&mut tx, kind, place, node, content, at).await?;
            } else {
                outbox(&mut tx, kind, *room_id, principal_id, None, content, at).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Compliance events after `after_id`, oldest first.
    pub async fn compliance_events(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<ComplianceEvent>> {
        let rows = sqlx::query(
            "SELECT id, kind, room_id, principal_id, message_seq, content, at FROM compliance_outbox \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(rows::event).collect())
    }

    /// Invites principals to a room; each gets the next invitation id of their own. Already
    /// invited principals are left as they are. Each new invitation is written with its
    /// access change, through which a running server pushes it. Returns how many are new.
    pub async fn invite(&self, room_id: i64, principal_ids: &[i64]) -> Result<u64> {
        let mut invited = 0;
        let mut tx = self.begin_write().await?;
        for p in principal_ids {
            // The principal's row is locked first: two nodes inviting the same principal at
            // once would otherwise both read the same highest id.
            lock_principal(&mut tx, *p).await?;
            let new = sqlx::query(
                "INSERT INTO invitations (principal_id, invite_id, room_id, created_at) \
                 SELECT $1, COALESCE(MAX(invite_id), 0) + 1, $2, $3 FROM invitations WHERE principal_id = $1 \
                 ON CONFLICT DO NOTHING",
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
            "SELECT invite_id, room_id, created_at FROM invitations WHERE principal_id = $1 AND invite_id >= $2 ORDER BY invite_id",
        )
        .bind(principal_id)
        .bind(from_id)
        .fetch_all(&self.pool)
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
            "SELECT label, seq, content FROM preferences WHERE principal_id = $1 AND label = $2",
        )
        .bind(principal_id)
        .bind(label)
        .fetch_optional(&self.pool)
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
        // Locked, so that two preferences written at once are checked against each other.
        lock_principal(&mut tx, principal_id).await?;
        let others: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(octet_length(label) + octet_length(content) + $1), 0)::BIGINT \
             FROM preferences WHERE principal_id = $2 AND label <> $3",
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
            "INSERT INTO preferences (principal_id, label, seq, content) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (principal_id, label) DO UPDATE SET seq = preferences.seq + 1, content = excluded.content RETURNING seq",
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
    tx: &mut Transaction<'_, Postgres>,
    kind: ComplianceKind,
    room_id: i64,
    principal_id: i64,
    message_seq: Option<i64>,
    content: &str,
    at: i64,
) -> Result<()> {
    FeedLock::ComplianceOutbox.take(tx).await?;
    sqlx::query(
        "INSERT INTO compliance_outbox (kind, room_id, principal_id, message_seq, content, at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(kind.as_str())
    .bind(room_id)
    .bind(principal_id)
    .bind(message_seq)
    .bind(content)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(|e| foreign_key_as_not_found(e, "room or principal"))?;
    Ok(())
}

/// Locks a principal's row until the transaction ends; a principal that does not exist is
/// [`StoreError::NotFound`].
pub(super) async fn lock_principal(tx: &mut Transaction<'_, Postgres>, id: i64) -> Result<()> {
    sqlx::query("SELECT id FROM principals WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| StoreError::NotFound("principal".into()))
}

/// `rows` groups of `columns` numbered placeholders for a multi-row `VALUES`; the column
/// `tsvector` (1-based) is made from its parameter, a text array of lexemes.
pub(super) fn placeholders(rows: usize, columns: usize, tsvector: Option<usize>) -> String {
    (0..rows)
        .map(|row| {
            let values: Vec<String> = (1..=columns)
                .map(|c| {
                    let n = row * columns + c;
                    if Some(c) == tsvector {
                        format!("array_to_tsvector(${n}::text[])")
                    } else {
                        format!("${n}")
                    }
                })
                .collect();
            format!("({})", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
