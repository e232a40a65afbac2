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
//! (a chain of `||` copies the growing string at every step), no `ORDER BY` inside `group_concat` (that sorts the page's rows with
//! their strings; a range of rowids is read in order anyway, and [`unpack`] checks it), and
//! no join: the principals and rooms the pages name are read by a second query in the same
//! read transaction, once each for all the pages read in it instead of once per row, and
//! packed alike (per principal or room: its id and the byte lengths of its two strings,
//! `;`, the strings). Every row a query hands over is a wake-up of the caller, and with
//! the exporter's threads sharing one core, a switch of threads: each query here hands over
//! one.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnection, SqliteTransactionManager};
use sqlx::{Sqlite, SqlitePool, TransactionManager};

use crate::SharedText;
use crate::error::{Result, StoreError};
use crate::history::{ComplianceEvent, CompliancePage, CompliancePrincipal, ComplianceRoom};

/// The last row of the page after `?1` (at most `?2` rows), and the page's rows packed. The
/// range's end is found first, on rowids alone, so that the rows are read by one range scan
/// rather than through a subquery that hands each of them on; it comes back beside the
/// page, so that the page after it can be asked for before this one is taken apart. The
/// rest of a row's header was packed when the row was written (`packed_header`, migration
/// 0018): turning five integers into text per row was most of this query's work. A row's
/// kind is one of the outbox's fixed words, never a `,`.
const PAGE: &str = "WITH span(last) AS ( \
        SELECT max(id) FROM (SELECT id FROM compliance_outbox WHERE id > ?1 ORDER BY id LIMIT ?2)) \
    SELECT last, (SELECT group_concat( \
        concat(id, ',', packed_header, content), '') \
        FROM compliance_outbox WHERE id > ?1 AND id <= last) \
    FROM span";

/// The principals and rooms of a page, by their ids as JSON arrays, packed.
const NAMES: &str = "SELECT \
    (SELECT group_concat(concat(id, ',', octet_length(uri), ',', octet_length(display_name), \
                                ';', uri, display_name), '') \
     FROM principals WHERE id IN (SELECT value FROM json_each(?1))), \
    (SELECT group_concat(concat(id, ',', octet_length(guid), ',', octet_length(name), \
                                ';', guid, name), '') \
     FROM rooms WHERE id IN (SELECT value FROM json_each(?2)))";

/// Pages read in one read transaction before it ends and the next begins: a reader holding
/// its snapshot keeps SQLite from checkpointing the WAL past it, so it is held for a tenth
/// of a second of reading or so (40 of the exporter's pages of 2,500 rows), not a whole
/// export. Each new one costs a page read without one ahead (measured: snapshots of 16
/// such pages exported ~4 % slower than snapshots of 64).
const PAGES_PER_SNAPSHOT: u32 = 40;

/// Reads the outbox page after page, `limit` rows each, with the principals and rooms each
/// page names read in the page's own snapshot.
///
/// What a page costs is SQLite's query, on its connection's thread, and taking the packed
/// page apart, on the caller's; done in turn, each would wait for the other. So the next
/// page is asked for as soon as a page's last row is known — before it is unpacked — and
/// read in the same transaction while this one is taken apart; its names follow it. A
/// transaction lasts [`PAGES_PER_SNAPSHOT`] pages, then the next page starts a new one
/// (without a page read ahead: the one read ahead belongs to the old snapshot).
///
/// Every snapshot is read on the same connection, held from the first page to the end of
/// the outbox (or until the reader is dropped; a store closes only once it is): the pool
/// lends out its longest idle connection, and taking turns on two of them cost each one
/// its own page cache and its thread's allocations (the export's peak memory grew with its
/// length) and the first page of each snapshot ~1.5 ms instead of ~0.6.
#[derive(Debug)]
pub struct PageReader {
    reads: SqlitePool,
    after: i64,
    limit: u32,
    connection: Option<PoolConnection<Sqlite>>,
    /// The read transaction open on it.
    open: Option<Snapshot>,
}

#[derive(Debug, Default)]
struct Snapshot {
    /// Pages read in it, the one read ahead included.
    pages: u32,
    /// The page after the last one handed out.
    ahead: Option<Packed>,
    names: Names,
}

/// The principals and rooms read in one snapshot, by id (`None`: not found). In a snapshot
/// they cannot change, so each is read once, not once for every page that names it.
#[derive(Debug, Default)]
struct Names {
    principals: HashMap<i64, Option<CompliancePrincipal>>,
    rooms: HashMap<i64, Option<ComplianceRoom>>,
}

/// A page as SQLite packs it: its last row (none when it is empty) and its rows.
#[derive(Debug)]
struct Packed {
    last: Option<i64>,
    rows: Arc<String>,
}

impl PageReader {
    pub fn new(reads: SqlitePool, after_id: i64, limit: u32) -> PageReader {
        PageReader {
            reads,
            after: after_id,
            limit,
            connection: None,
            open: None,
        }
    }

    /// The next page: the rows after the last one read, oldest first, at most `limit`, with
    /// the principals and rooms they name. Empty at the end of the outbox; a later call
    /// reads what was recorded since. After an error, the next call begins again after the
    /// last page returned.
    pub async fn next(&mut self) -> Result<CompliancePage> {
        let page = self.read().await;
        match &page {
            Ok(page) => {
                if let Some(last) = page.events.last() {
                    self.after = last.id;
                }
            }
            Err(_) => self.end_snapshot(),
        }
        page
    }

    async fn read(&mut self) -> Result<CompliancePage> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => self.connection.insert(self.reads.acquire().await?),
        };
        let snapshot = match &mut self.open {
            Some(snapshot) => snapshot,
            None => {
                SqliteTransactionManager::begin(connection, None).await?;
                self.open.insert(Snapshot::default())
            }
        };
        let packed = match snapshot.ahead.take() {
            Some(packed) => packed,
            None => {
                snapshot.pages += 1;
                query(connection, self.after, self.limit).await?
            }
        };
        let Some(last) = packed.last else {
            // Rows recorded from now on are for the next call, in a new snapshot; the
            // connection goes back to the pool meanwhile.
            self.open = None;
            SqliteTransactionManager::commit(connection).await?;
            self.connection = None;
            return Ok(CompliancePage::default());
        };
        let limit = self.limit as usize;
        let events = if snapshot.pages < PAGES_PER_SNAPSHOT {
            snapshot.pages += 1;
            // Polled first, the query is on its way to SQLite's thread before this one
            // turns to unpacking.
            let (ahead, events) = tokio::join!(
                biased;
                query(connection, last, self.limit),
                async { unpack(&packed.rows, limit) },
            );
            snapshot.ahead = Some(ahead?);
            events
        } else {
            unpack(&packed.rows, limit)
        };
        let events = events.map_err(malformed)?;
        let page = names(connection, &mut snapshot.names, events).await?;
        if snapshot.ahead.is_none() {
            self.open = None;
            SqliteTransactionManager::commit(connection).await?;
        }
        Ok(page)
    }

    /// Ends the read transaction, if one is open, without waiting: the rollback is queued
    /// on the connection ahead of anything else, so that it never goes back to the pool
    /// inside this reader's snapshot. Where none is open, sqlx rolls nothing back.
    fn end_snapshot(&mut self) {
        self.open = None;
        if let Some(connection) = &mut self.connection {
            SqliteTransactionManager::start_rollback(connection);
        }
    }
}

impl Drop for PageReader {
    fn drop(&mut self) {
        self.end_snapshot();
    }
}

async fn query(connection: &mut SqliteConnection, after_id: i64, limit: u32) -> Result<Packed> {
    let (last, rows): (Option<i64>, Option<String>) = sqlx::query_as(PAGE)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_one(&mut *connection)
        .await?;
    // An empty page concatenates to NULL.
    Ok(Packed {
        last,
        rows: Arc::new(rows.unwrap_or_default()),
    })
}

/// The page of `events`, with the principals and rooms they name as `connection`'s snapshot
/// sees them: those not `known` in it yet are read, the others taken from there.
async fn names(
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
