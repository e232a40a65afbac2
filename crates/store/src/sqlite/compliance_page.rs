//! A page of the compliance outbox read as one value. The exporter reads every row of the
//! outbox once, and handing rows from sqlx's worker thread to the caller one at a time (a
//! channel message, a wake-up and a boxed value per column) cost more than the export's
//! writing; so did packing them as JSON (quoting every string in SQLite, unquoting it
//! again here). SQLite concatenates the page's rows into one string in a shape that costs
//! next to nothing to build or take apart: per row, a header — its integers in decimal,
//! its kind, and the byte length of its content, separated by `,` and ended by `;` —
//! followed by the content itself. Nothing is quoted or escaped, so content of any kind
//! (markup, line breaks, NUL) passes through as it is stored, and reading it is slicing.
//!
//! What SQLite does per row is most of an export's cost, so the query does as little as it
//! can: one `concat` of the row's id, its header as written with the row, and its content
//! (a chain of `||` copies the growing string at every step); no `ORDER BY` inside
//! `group_concat` (that sorts the page's rows with their strings; a range of rowids is read
//! in order anyway, and [`unpack`] checks it); and no join: the principals and rooms the
//! pages name are read by a second query in the same read transaction, once each for all
//! the pages read in it instead of once per row, and packed alike (per principal or room:
//! its id and the byte lengths of its two strings, `;`, the strings). Every row a query
//! hands over is a wake-up of the caller: each query here hands over one.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnection, SqliteTransactionManager};
use sqlx::{Sqlite, SqlitePool, TransactionManager};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::SharedText;
use crate::error::{Result, StoreError};
use crate::history::{ComplianceEvent, CompliancePage, CompliancePrincipal, ComplianceRoom};

/// The rows of the page of ids from `?1` (exclusive) to `?2`, packed, and the newest row
/// of the snapshot: every row with an id up to it is in the snapshot (one writer at a time,
/// ids given in order), and any later one gets a greater id. A page is a span of ids, not a
/// count of rows, so that its bounds are known before the page before it is read: the
/// pages are read on several connections at once. The rest of a row's header was packed
/// when the row was written (`packed_header`, migration 0018): turning five integers into
/// text per row was most of this query's work. A row's kind is one of the outbox's fixed
/// words, never a `,`.
const PAGE: &str = "SELECT (SELECT max(id) FROM compliance_outbox), \
    (SELECT group_concat(concat(id, ',', packed_header, content), '') \
     FROM compliance_outbox WHERE id > ?1 AND id <= ?2)";

/// The principals and rooms of a page, by their ids as JSON arrays, packed.
const NAMES: &str = "SELECT \
    (SELECT group_concat(concat(id, ',', octet_length(uri), ',', octet_length(display_name), \
                                ';', uri, display_name), '') \
     FROM principals WHERE id IN (SELECT value FROM json_each(?1))), \
    (SELECT group_concat(concat(id, ',', octet_length(guid), ',', octet_length(name), \
                                ';', guid, name), '') \
     FROM rooms WHERE id IN (SELECT value FROM json_each(?2)))";

/// Pages a lane reads in one read transaction before it ends and the next begins: a reader
/// holding its snapshot keeps SQLite from checkpointing the WAL past it, so it is held for
/// a tenth of a second of reading or so (40 of the exporter's pages of 2,500 rows), not a
/// whole export.
const PAGES_PER_SNAPSHOT: u32 = 40;

/// Connections reading pages at once. One page's query is SQLite's work on its
/// connection's thread, and an export waited for it page after page: two connections read
/// every other page each, in parallel (SQLite, built without its allocation statistics,
/// shares nothing between them but the file).
const LANES: usize = 2;

/// Reads the outbox page after page, each page a span of `width` ids (so at most `width`
/// rows), with the principals and rooms each page names read in the page's own snapshot.
///
/// The pages are read ahead by [`LANES`] tasks, each on a connection of its own, held from
/// its first page until the end of the outbox (or until the reader is dropped; a store
/// closes only once it is): lane `n` reads pages `n`, `n + LANES`, …, each into a queue of
/// one, and [`PageReader::next`] takes them in turn. A lane's snapshot lasts
/// [`PAGES_PER_SNAPSHOT`] of its pages; its principals and rooms are read once in it.
#[derive(Debug)]
pub struct PageReader {
    reads: SqlitePool,
    /// Every row up to this id was handed out (or does not exist).
    after: i64,
    width: u32,
    /// Started by the first call after the end of the outbox or an error.
    lanes: Option<Lanes>,
    /// The last page returned was the end of the outbox for now: the next call says so.
    ended: bool,
}

#[derive(Debug)]
struct Lanes {
    pages: Vec<mpsc::Receiver<Result<LanePage>>>,
    turn: usize,
    /// Aborted, their connections' transactions rolled back, when the lanes are dropped.
    _tasks: JoinSet<()>,
}

/// A page as a lane read it.
#[derive(Debug)]
struct LanePage {
    page: CompliancePage,
    /// Every row up to this id was in the page's snapshot: the page's end, or the newest
    /// row before it.
    covered: i64,
    /// Whether the snapshot held no row past the page: the end of the outbox for now.
    last: bool,
}

/// The principals and rooms read in one snapshot, by id (`None`: not found). In a snapshot
/// they cannot change, so each is read once, not once for every page that names it.
#[derive(Debug, Default)]
struct Names {
    principals: HashMap<i64, Option<CompliancePrincipal>>,
    rooms: HashMap<i64, Option<ComplianceRoom>>,
}

impl PageReader {
    pub fn new(reads: SqlitePool, after_id: i64, width: u32) -> PageReader {
        PageReader {
            reads,
            after: after_id,
            width: width.max(1),
            lanes: None,
            ended: false,
        }
    }

    /// The next page: the rows after the last one read, oldest first, at most `width`,
    /// with the principals and rooms they name. Empty at the end of the outbox as the last
    /// page found it; a later call reads what was recorded since. After an error, the next
    /// call begins again after the last page returned.
    pub async fn next(&mut self) -> Result<CompliancePage> {
        if std::mem::take(&mut self.ended) {
            return Ok(CompliancePage::default());
        }
        loop {
            let lanes = match &mut self.lanes {
                Some(lanes) => lanes,
                None => self
                    .lanes
                    .insert(Lanes::start(&self.reads, self.after, self.width)),
            };
            let turn = lanes.turn;
            lanes.turn = (turn + 1) % lanes.pages.len();
            let read = match lanes.pages[turn].recv().await {
                Some(Ok(read)) => read,
                Some(Err(e)) => {
                    self.lanes = None;
                    return Err(e);
                }
                None => {
                    self.lanes = None;
                    return Err(StoreError::Database(sqlx::Error::WorkerCrashed));
                }
            };
            self.after = self.after.max(read.covered);
            if read.last {
                // Pages read ahead past it may hold rows recorded since, but not the rows
                // between them and this page's snapshot: the next call starts again here.
                self.lanes = None;
                self.ended = !read.page.events.is_empty();
                return Ok(read.page);
            }
            if !read.page.events.is_empty() {
                return Ok(read.page);
            }
            // A span of ids whose rows are gone (a room's events deleted with it).
        }
    }
}

impl Lanes {
    fn start(reads: &SqlitePool, after: i64, width: u32) -> Lanes {
        let mut tasks = JoinSet::new();
        let pages = (0..LANES)
            .map(|lane| {
                let (pages, taken) = mpsc::channel(1);
                let reads = reads.clone();
                let first = after.saturating_add(i64::from(width) * lane as i64);
                tasks.spawn(read_lane(reads, first, width, pages));
                taken
            })
            .collect();
        Lanes {
            pages,
            turn: 0,
            _tasks: tasks,
        }
    }
}

/// A lane: the pages of `width` ids from `first` on, every [`LANES`]th, into `pages`, until
/// the end of the outbox, an error, or the reader is gone.
async fn read_lane(
    reads: SqlitePool,
    first: i64,
    width: u32,
    pages: mpsc::Sender<Result<LanePage>>,
) {
    let mut lane = match reads.acquire().await {
        Ok(connection) => Lane {
            connection,
            open: false,
        },
        Err(e) => {
            let _ = pages.send(Err(e.into())).await;
            return;
        }
    };
    let stride = i64::from(width) * LANES as i64;
    let mut from = first;
    let (mut names, mut read_in_snapshot) = (Names::default(), 0);
    loop {
        if read_in_snapshot == PAGES_PER_SNAPSHOT {
            if let Err(e) = lane.end_snapshot().await {
                let _ = pages.send(Err(e)).await;
                return;
            }
            (names, read_in_snapshot) = (Names::default(), 0);
        }
        read_in_snapshot += 1;
        let to = from.saturating_add(i64::from(width));
        let read = lane.page(from, to, width, &mut names).await;
        let last = read.as_ref().map_or(true, |read| read.last);
        if pages.send(read).await.is_err() || last {
            return;
        }
        from = from.saturating_add(stride);
    }
}

/// A lane's connection and whether a read transaction is open on it.
struct Lane {
    connection: PoolConnection<Sqlite>,
    open: bool,
}

impl Lane {
    /// The page of ids after `from` up to `to`, in this lane's snapshot.
    async fn page(
        &mut self,
        from: i64,
        to: i64,
        width: u32,
        names: &mut Names,
    ) -> Result<LanePage> {
        if !self.open {
            SqliteTransactionManager::begin(&mut self.connection, None).await?;
            self.open = true;
        }
        let (newest, rows): (Option<i64>, Option<String>) = sqlx::query_as(PAGE)
            .bind(from)
            .bind(to)
            .fetch_one(&mut *self.connection)
            .await?;
        let newest = newest.unwrap_or(0);
        // An empty page concatenates to NULL.
        let rows = Arc::new(rows.unwrap_or_default());
        let events = unpack(&rows, width as usize).map_err(malformed)?;
        let page = read_names(&mut self.connection, names, events).await?;
        Ok(LanePage {
            page,
            covered: newest.clamp(from, to),
            last: newest <= to,
        })
    }

    async fn end_snapshot(&mut self) -> Result<()> {
        self.open = false;
        SqliteTransactionManager::commit(&mut self.connection).await?;
        Ok(())
    }
}

impl Drop for Lane {
    /// Ends the read transaction, if one is open, without waiting: the rollback is queued
    /// on the connection ahead of anything else, so that it never goes back to the pool
    /// inside this lane's snapshot.
    fn drop(&mut self) {
        if self.open {
            SqliteTransactionManager::start_rollback(&mut self.connection);
        }
    }
}

/// The page of `events`, with the principals and rooms they name as `connection`'s snapshot
/// sees them: those not `known` in it yet are read, the others taken from there.
async fn read_names(
    connection: &mut SqliteConnection,
    known: &mut Names,
    events: Vec<ComplianceEvent>,
) -> Result<CompliancePage> {
    let mut page = CompliancePage {
        events,
        ..CompliancePage::default()
    };
    let (principal_ids, room_ids) = (page.principal_ids(), page.room_ids());
    let new_principals: Vec<i64> = (principal_ids.iter().copied())
        .filter(|id| !known.principals.contains_key(id))
        .collect();
    let new_rooms: Vec<i64> = (room_ids.iter().copied())
        .filter(|id| !known.rooms.contains_key(id))
        .collect();
    if !new_principals.is_empty() || !new_rooms.is_empty() {
        let (principals, rooms): (Option<String>, Option<String>) = sqlx::query_as(NAMES)
            .bind(json_array(&new_principals))
            .bind(json_array(&new_rooms))
            .fetch_one(&mut *connection)
            .await?;
        // Absent ones are remembered too: their events still come, without names.
        known
            .principals
            .extend(new_principals.iter().map(|&id| (id, None)));
        known.rooms.extend(new_rooms.iter().map(|&id| (id, None)));
        for (id, uri, display_name) in
            unpack_names(&principals.unwrap_or_default()).map_err(malformed)?
        {
            known
                .principals
                .insert(id, Some(CompliancePrincipal { uri, display_name }));
        }
        for (id, guid, name) in unpack_names(&rooms.unwrap_or_default()).map_err(malformed)? {
            known.rooms.insert(id, Some(ComplianceRoom { guid, name }));
        }
    }
    page.principals = principal_ids
        .into_iter()
        .filter_map(|id| Some((id, known.principals.get(&id)?.clone()?)))
        .collect();
    page.rooms = room_ids
        .into_iter()
        .filter_map(|id| Some((id, known.rooms.get(&id)?.clone()?)))
        .collect();
    Ok(page)
}

fn malformed(e: Malformed) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(Box::new(e)))
}

/// Ids as a JSON array, for `json_each`.
fn json_array(ids: &[i64]) -> String {
    let listed: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("[{}]", listed.join(","))
}

/// A page that is not in the shape [`PAGE`] asks SQLite for.
#[derive(Debug, thiserror::Error)]
#[error("a packed page of the compliance outbox is malformed at byte {0}")]
pub struct Malformed(usize);

/// The events of a page, their kinds and contents cut from it.
fn unpack(
    packed: &Arc<String>,
    rows: usize,
) -> std::result::Result<Vec<ComplianceEvent>, Malformed> {
    let shared = |(start, end)| SharedText::cut(packed, start, end).ok_or(Malformed(start));
    let mut page = Reader { packed, at: 0 };
    let mut events = Vec::with_capacity(rows);
    while page.at < packed.len() {
        let id = page.number(b',')?;
        let room_id = page.number(b',')?;
        let principal_id = page.number(b',')?;
        let message_seq = match page.peek() {
            Some(b',') => {
                page.at += 1;
                None
            }
            _ => Some(page.number(b',')?),
        };
        let at = page.number(b',')?;
        let kind = page.until(b',')?;
        let length = usize::try_from(page.number(b';')?).map_err(|_| page.malformed())?;
        let content = page.span(length)?;
        events.push(ComplianceEvent {
            id,
            kind: shared(kind)?,
            room_id,
            principal_id,
            message_seq,
            content: shared(content)?,
            at,
        });
    }
    // Rows come in rowid order, as the range is scanned; should a later SQLite hand the
    // aggregate its rows otherwise, the page is still put in order here.
    if !events.is_sorted_by_key(|e| e.id) {
        events.sort_unstable_by_key(|e| e.id);
    }
    Ok(events)
}

/// Principals or rooms as [`NAMES`] packs them: id, and two strings.
fn unpack_names(packed: &str) -> std::result::Result<Vec<(i64, String, String)>, Malformed> {
    let mut page = Reader { packed, at: 0 };
    let mut names = Vec::new();
    while page.at < packed.len() {
        let id = page.number(b',')?;
        let first = usize::try_from(page.number(b',')?).map_err(|_| page.malformed())?;
        let second = usize::try_from(page.number(b';')?).map_err(|_| page.malformed())?;
        names.push((
            id,
            page.text(first)?.to_owned(),
            page.text(second)?.to_owned(),
        ));
    }
    Ok(names)
}

struct Reader<'a> {
    packed: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.packed.as_bytes().get(self.at).copied()
    }

    /// A decimal integer ended by `end`, which is consumed.
    fn number(&mut self, end: u8) -> std::result::Result<i64, Malformed> {
        let bytes = self.packed.as_bytes();
        let negative = self.peek() == Some(b'-');
        let start = self.at + usize::from(negative);
        let mut value: i64 = 0;
        let mut i = start;
        while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            // Accumulated below zero, so that i64::MIN fits.
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_sub(i64::from(b - b'0')))
                .ok_or(Malformed(i))?;
            i += 1;
        }
        if i == start || bytes.get(i) != Some(&end) {
            return Err(Malformed(i));
        }
        self.at = i + 1;
        match negative {
            true => Ok(value),
            false => value.checked_neg().ok_or(Malformed(start)),
        }
    }

    /// Where the text up to `end` is; `end` is consumed.
    fn until(&mut self, end: u8) -> std::result::Result<(usize, usize), Malformed> {
        let len = self.packed.as_bytes()[self.at..]
            .iter()
            .position(|&b| b == end)
            .ok_or_else(|| self.malformed())?;
        let span = self.span(len)?;
        self.at += 1;
        Ok(span)
    }

    /// The next `len` bytes, which must be whole characters.
    fn text(&mut self, len: usize) -> std::result::Result<&'a str, Malformed> {
        let (start, end) = self.span(len)?;
        Ok(&self.packed[start..end])
    }

    /// Where the next `len` bytes are, which must be whole characters.
    fn span(&mut self, len: usize) -> std::result::Result<(usize, usize), Malformed> {
        let start = self.at;
        let end = (start.checked_add(len))
            .filter(|&end| self.packed.get(start..end).is_some())
            .ok_or_else(|| self.malformed())?;
        self.at = end;
        Ok((start, end))
    }

    fn malformed(&self) -> Malformed {
        Malformed(self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_with_and_without_a_message_and_content_of_any_kind() {
        let content = "a,b;c\0\n<é>";
        let packed = format!(
            "7,2,3,41,-5,chat,{};{content}8,2,3,,9,part,0;",
            content.len()
        );
        let events = unpack(&Arc::new(packed), 2).unwrap();
        assert_eq!(
            events,
            [
                ComplianceEvent {
                    id: 7,
                    kind: "chat".into(),
                    room_id: 2,
                    principal_id: 3,
                    message_seq: Some(41),
                    content: content.into(),
                    at: -5,
                },
                ComplianceEvent {
                    id: 8,
                    kind: "part".into(),
                    room_id: 2,
                    principal_id: 3,
                    message_seq: None,
                    content: SharedText::default(),
                    at: 9,
                },
            ]
        );
        assert!(unpack(&Arc::default(), 0).unwrap().is_empty());
    }

    #[test]
    fn rows_out_of_order_are_put_in_order() {
        let events = unpack(&Arc::new("9,1,1,,5,join,0;8,1,1,,4,join,0;".into()), 2).unwrap();
        assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), [8, 9]);
    }

    #[test]
    fn a_malformed_page_is_an_error_not_a_panic() {
        for bad in [
            "7,2,3,,5,chat,4;cha",
            "7,2,3,,5,chat,0:",
            "7,2,x,,5,chat,0;",
            "99999999999999999999,2,3,,5,chat,0;",
            "7,2,3,,5,chat,1;é",
            "7,2,3,,5,chat,-4;chat",
            "7,2,3,,5,chat",
            "7,2",
        ] {
            assert!(unpack(&Arc::new(bad.into()), 1).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_of_any_kind() {
        let names = unpack_names("3,7,5;sip:a@xA;l,c12,6,0;room12").unwrap();
        assert_eq!(
            names,
            [
                (3, "sip:a@x".to_owned(), "A;l,c".to_owned()),
                (12, "room12".to_owned(), String::new()),
            ]
        );
        assert!(unpack_names("").unwrap().is_empty());
        assert!(unpack_names("3,7,5;sip:a@x").is_err());
    }

    #[test]
    fn ids_as_json() {
        assert_eq!(json_array(&[-2, 1, 3]), "[-2,1,3]");
        assert_eq!(json_array(&[]), "[]");
    }
}
