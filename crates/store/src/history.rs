//! Chat history, compliance events, invitations and preferences: the types every engine
//! stores, and the [`Store`] methods for history, invitations and preferences (those of the
//! compliance outbox are in the crate root).

use std::collections::BTreeMap;

use crate::error::Result;
use crate::{SharedText, Store};

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub room_id: i64,
    /// Per room, dense, in commit order.
    pub seq: i64,
    pub author_uri: String,
    /// Unix nanoseconds, server time.
    pub posted_at: i64,
    pub content: String,
    /// A high-importance message (the original's `isAlert`).
    pub alert: bool,
    /// The RTF copy of the text as the client sent it (the original's `rtf`).
    pub rtf: Option<String>,
}

/// A message to post: its text, the repository names of the files it links (only complete
/// files of the room are linked), whether it is an alert, and its RTF copy if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Post<'a> {
    pub content: &'a str,
    pub linked_files: &'a [&'a str],
    pub alert: bool,
    pub rtf: Option<&'a str>,
}

impl<'a> Post<'a> {
    /// An ordinary message linking `linked_files`.
    pub fn text(content: &'a str, linked_files: &'a [&'a str]) -> Self {
        Self {
            content,
            linked_files,
            alert: false,
            rtf: None,
        }
    }
}

/// The most a BACKCHAT compliance row keeps of the history it records, in bytes: a read
/// may return hundreds of messages (up to `chat.history_max`, each up to a story's size),
/// and the archive must not grow by that much per read.
pub const BACKCHAT_CONTENT_MAX_BYTES: usize = 32 * 1024;

/// The content of a BACKCHAT compliance row: the history returned, as the original's
/// BACKCHAT `content` carries it (reference §6) — one entry per message, oldest first,
/// `#<seq> <author>: <text>`, separated by line feeds. Whole messages are kept up to
/// [`BACKCHAT_CONTENT_MAX_BYTES`]; a last line then says how many were left out (a first
/// message larger than that alone is cut at a character boundary).
pub fn backchat_content(messages: &[StoredMessage]) -> String {
    let mut out = String::new();
    for (kept, m) in messages.iter().enumerate() {
        let entry = format!("#{} {}: {}", m.seq, m.author_uri, m.content);
        let separator = usize::from(!out.is_empty());
        if out.len() + separator + entry.len() > BACKCHAT_CONTENT_MAX_BYTES {
            if out.is_empty() {
                let mut end = BACKCHAT_CONTENT_MAX_BYTES;
                while !entry.is_char_boundary(end) {
                    end -= 1;
                }
                out.push_str(&entry[..end]);
                return out;
            }
            out.push_str(&format!(
                "\n… {} more messages not kept",
                messages.len() - kept
            ));
            return out;
        }
        if separator == 1 {
            out.push('\n');
        }
        out.push_str(&entry);
    }
    out
}

/// Which part of a room's history to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryQuery {
    /// The newest `n` messages.
    Last(u32),
    /// Up to `n` messages older than `seq`.
    Before { seq: i64, n: u32 },
    /// Up to `n` messages newer than `seq`.
    After { seq: i64, n: u32 },
    /// Up to `n` newest messages matching every word of `text`.
    Search { text: String, n: u32 },
}

/// What a compliance event records (the original's Message types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplianceKind {
    Chat,
    Join,
    Part,
    Backchat,
    FileUpload,
    FileDownload,
    /// Messages or files purged (by retention or an administrator): the original's chat
    /// purge, event code 11. Its content says what went.
    Purge,
}

impl ComplianceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceKind::Chat => "chat",
            ComplianceKind::Join => "join",
            ComplianceKind::Part => "part",
            ComplianceKind::Backchat => "backchat",
            ComplianceKind::FileUpload => "fileupload",
            ComplianceKind::FileDownload => "filedownload",
            ComplianceKind::Purge => "purge",
        }
    }

    /// A join or a part: the rows that say which chat session of which node was in a room.
    pub fn is_session(self) -> bool {
        matches!(self, ComplianceKind::Join | ComplianceKind::Part)
    }
}

/// A compliance event written directly, for load generation
/// ([`crate::Store::import_compliance_events`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewComplianceEvent<'a> {
    pub kind: ComplianceKind,
    pub room_id: i64,
    pub principal_id: i64,
    pub message_seq: Option<i64>,
    pub content: &'a str,
    pub at: i64,
}

/// A row of the compliance outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceEvent {
    pub id: i64,
    pub kind: SharedText,
    pub room_id: i64,
    pub principal_id: i64,
    pub message_seq: Option<i64>,
    pub content: SharedText,
    pub at: i64,
}

/// A page of the compliance outbox as the archive reads it: the rows, oldest first, and once
/// each the principals and rooms they name. A page of a thousand rows names a few of each,
/// so their names are not read again with every row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompliancePage {
    pub events: Vec<ComplianceEvent>,
    /// By id. Removed accounts keep their row (a tombstone), so their events still name
    /// them; a principal or room that cannot be found is absent, and its events still come.
    pub principals: BTreeMap<i64, CompliancePrincipal>,
    pub rooms: BTreeMap<i64, ComplianceRoom>,
}

impl CompliancePage {
    /// The principals the events name, each once, for the query that reads their names.
    pub(crate) fn principal_ids(&self) -> Vec<i64> {
        distinct(self.events.iter().map(|e| e.principal_id))
    }

    /// The rooms the events name, each once.
    pub(crate) fn room_ids(&self) -> Vec<i64> {
        distinct(self.events.iter().map(|e| e.room_id))
    }
}

fn distinct(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The outbox read page after page ([`crate::Store::compliance_pages`]).
#[derive(Debug)]
pub struct CompliancePages(pub(crate) Pages);

#[derive(Debug)]
pub(crate) enum Pages {
    Sqlite(crate::sqlite::PageReader),
    Postgres(crate::postgres::PageReader),
}

impl CompliancePages {
    /// The next page: the rows after the last one read, oldest first, at most the page's
    /// limit, with the principals and rooms they name. Empty at the end of the outbox as
    /// the last page found it; a later call reads what was recorded since.
    pub async fn next(&mut self) -> Result<CompliancePage> {
        match &mut self.0 {
            Pages::Sqlite(pages) => pages.next().await,
            Pages::Postgres(pages) => pages.next().await,
        }
    }
}

/// A principal as the archive names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompliancePrincipal {
    /// `sip:alice@example.com`.
    pub uri: String,
    pub display_name: String,
}

/// A room as the archive names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceRoom {
    pub guid: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub invite_id: i64,
    pub room_id: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preference {
    pub label: String,
    pub seq: i64,
    pub content: String,
}

/// A word as the full-text index holds it: prefixed with its room (`9zdeploy` for `deploy`
/// in room 9). A search in a room then reads only that room's postings of its words; with
/// the room as a term of its own, every search also walked the room's postings, one per
/// message of the room. The prefix cannot be confused: the room id's digits end at the
/// first letter, the `z`, and the word is everything after it.
pub fn scoped_word(room_id: i64, word: &str) -> String {
    format!("{room_id}z{word}")
}

/// What the full-text index of SQLite is given for a message: its words ([`search_terms`])
/// scoped to its room, one space apart. FTS5 folds case and diacritics itself.
pub fn scoped_words(room_id: i64, content: &str) -> String {
    search_terms(content)
        .map(|w| scoped_word(room_id, w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An FTS5 query for messages of these rooms whose text has every word of `text`, each
/// taken literally: a word is a run of letters and digits, so quoting it leaves no
/// operator, column filter or prefix syntax of the text standing.
pub fn fts_in_rooms(room_ids: &[i64], text: &str) -> Option<String> {
    if room_ids.is_empty() {
        return None;
    }
    let words: Vec<String> = search_terms(text)
        .map(|w| {
            let rooms: Vec<String> = room_ids
                .iter()
                .map(|r| format!("\"{}\"", scoped_word(*r, w)))
                .collect();
            match rooms.as_slice() {
                [one] => one.clone(),
                _ => format!("({})", rooms.join(" OR ")),
            }
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" AND "))
}

/// The words of a search text, as a search matches them: runs of letters and digits.
pub fn search_terms(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

impl Store {
    /// Stores a message, its compliance event and its links to the files it names
    /// (`linked_files`: repository names; only complete files of the room are linked), in
    /// one transaction.
    pub async fn post_message(
        &self,
        room_id: i64,
        author_id: i64,
        post: &Post<'_>,
        posted_at: i64,
    ) -> Result<StoredMessage> {
        engine!(self, s => s.post_message(room_id, author_id, post, posted_at).await)
    }

    /// Appends messages to a room's history in one transaction (an import: no compliance
    /// events, nobody chatted now). Each is `(content, posted_at)`; returns the sequence
    /// number of the last one.
    pub async fn import_messages(
        &self,
        room_id: i64,
        author_id: i64,
        messages: &[(&str, i64)],
    ) -> Result<i64> {
        engine!(self, s => s.import_messages(room_id, author_id, messages).await)
    }

    pub async fn read_history(
        &self,
        room_id: i64,
        viewer_id: i64,
        query: &HistoryQuery,
        at: i64,
    ) -> Result<Vec<StoredMessage>> {
        engine!(self, s => s.read_history(room_id, viewer_id, query, at).await)
    }

    /// Up to `n` messages of a room after `seq`, oldest first, without the compliance record
    /// a reader's history gets: what a pool node re-reads to fill a gap in what the relay
    /// brought it, for sessions that already received the messages around it.
    pub async fn messages_after(
        &self,
        room_id: i64,
        seq: i64,
        n: u32,
    ) -> Result<Vec<StoredMessage>> {
        engine!(self, s => s.messages_after(room_id, seq, n).await)
    }

    /// The sequence number of each room's newest message (0 before the first), for those of
    /// `room_ids` that exist, by room id. Deleted or purged messages keep their numbers.
    pub async fn last_seqs(&self, room_ids: &[i64]) -> Result<Vec<(i64, i64)>> {
        engine!(self, s => s.last_seqs(room_ids).await)
    }

    pub async fn search_history(
        &self,
        room_ids: &[i64],
        viewer_id: i64,
        text: &str,
        limit: u32,
        at: i64,
    ) -> Result<Vec<StoredMessage>> {
        engine!(self, s => s.search_history(room_ids, viewer_id, text, limit, at).await)
    }

    /// Invites principals to a room (each invitation with its access change, so that a
    /// running server pushes it); returns how many were not invited already.
    pub async fn invite(&self, room_id: i64, principal_ids: &[i64]) -> Result<u64> {
        engine!(self, s => s.invite(room_id, principal_ids).await)
    }

    pub async fn invitations(&self, principal_id: i64, from_id: i64) -> Result<Vec<Invitation>> {
        engine!(self, s => s.invitations(principal_id, from_id).await)
    }

    pub async fn preference(&self, principal_id: i64, label: &str) -> Result<Option<Preference>> {
        engine!(self, s => s.preference(principal_id, label).await)
    }

    /// Stores a preference blob; refused with [`StoreError::QuotaExceeded`] when the
    /// principal's preferences would take more than `quota_bytes`.
    ///
    /// [`StoreError::QuotaExceeded`]: crate::StoreError::QuotaExceeded
    pub async fn set_preference(
        &self,
        principal_id: i64,
        label: &str,
        content: &str,
        quota_bytes: u64,
    ) -> Result<Preference> {
        engine!(self, s => s.set_preference(principal_id, label, content, quota_bytes).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_becomes_literal_room_scoped_words() {
        assert_eq!(
            fts_in_rooms(&[9], "deploy  Friday!").as_deref(),
            Some("\"9zdeploy\" AND \"9zFriday\"")
        );
        assert_eq!(
            fts_in_rooms(&[9], "\" OR * NEAR(").as_deref(),
            Some("\"9zOR\" AND \"9zNEAR\"")
        );
        assert_eq!(fts_in_rooms(&[9], "  ...  "), None);
        assert_eq!(
            fts_in_rooms(&[3, 14], "deploy now").as_deref(),
            Some("(\"3zdeploy\" OR \"14zdeploy\") AND (\"3znow\" OR \"14znow\")")
        );
        assert_eq!(fts_in_rooms(&[], "deploy"), None);
    }

    #[test]
    fn a_message_is_indexed_as_words_of_its_room() {
        assert_eq!(
            scoped_words(12, "re-run v1.5, Crème"),
            "12zre 12zrun 12zv1 12z5 12zCrème"
        );
        assert_eq!(scoped_words(12, " ... "), "");
    }
}
