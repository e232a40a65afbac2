//! A page of the compliance outbox read as one value. The exporter reads every row of the
//! outbox once, and handing rows from sqlx's worker thread to the caller one at a time (a
//! channel message, a wake-up and a boxed value per column) cost more than the export's
//! writing; so did packing them as JSON (quoting every string in SQLite, unquoting it
//! again here). SQLite concatenates the page's rows into one string in a shape that costs
//! next to nothing to build or take apart: per row, a header of decimal numbers — the
//! row's integers, then the byte length of each of its six strings — ended by `;`, followed
//! by the strings themselves, back to back. Nothing is quoted or escaped, so content of any
//! kind (markup, line breaks, NUL) passes through as it is stored, and reading a string is
//! slicing it.

use sqlx::SqlitePool;

use crate::error::{Result, StoreError};
use crate::history::{ComplianceEvent, ComplianceRecord};

/// Outbox rows after `after_id`, oldest first, at most `limit`, each with its principal and
/// room. Outer joins: a row is archived even if its principal or room could not be found.
pub async fn read(reads: &SqlitePool, after_id: i64, limit: u32) -> Result<Vec<ComplianceRecord>> {
    let packed: Option<String> = sqlx::query_scalar(
        "SELECT group_concat( \
                    id || ',' || room_id || ',' || principal_id || ',' || \
                    COALESCE(message_seq, '') || ',' || at || ',' || \
                    octet_length(kind) || ',' || octet_length(content) || ',' || \
                    octet_length(uri) || ',' || octet_length(name) || ',' || \
                    octet_length(guid) || ',' || octet_length(room) || ';' || \
                    kind || content || uri || name || guid || room, \
                    '' ORDER BY id) \
         FROM (SELECT o.id, o.room_id, o.principal_id, o.message_seq, o.at, o.kind, \
                      o.content, COALESCE(p.uri, '') AS uri, \
                      COALESCE(p.display_name, '') AS name, COALESCE(r.guid, '') AS guid, \
                      COALESCE(r.name, '') AS room \
               FROM (SELECT * FROM compliance_outbox WHERE id > ? ORDER BY id LIMIT ?) o \
               LEFT JOIN principals p ON p.id = o.principal_id \
               LEFT JOIN rooms r ON r.id = o.room_id)",
    )
    .bind(after_id)
    .bind(i64::from(limit))
    .fetch_one(reads)
    .await?;
    // An empty page concatenates to NULL.
    let packed = packed.unwrap_or_default();
    unpack(&packed, limit as usize)
        .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))
}

/// A page that is not in the shape [`read`] asks SQLite for.
#[derive(Debug, thiserror::Error)]
#[error("a packed page of the compliance outbox is malformed at byte {0}")]
pub struct Malformed(usize);

/// The strings of a row: kind, content, principal URI and name, room GUID and name.
const STRINGS: usize = 6;

fn unpack(packed: &str, rows: usize) -> std::result::Result<Vec<ComplianceRecord>, Malformed> {
    let mut page = Reader { packed, at: 0 };
    let mut records = Vec::with_capacity(rows);
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
        let mut lengths = [0usize; STRINGS];
        for (i, length) in lengths.iter_mut().enumerate() {
            let end = if i == STRINGS - 1 { b';' } else { b',' };
            *length = usize::try_from(page.number(end)?).map_err(|_| page.malformed())?;
        }
        let [kind, content, uri, name, guid, room] = lengths;
        records.push(ComplianceRecord {
            event: ComplianceEvent {
                id,
                kind: page.text(kind)?,
                room_id,
                principal_id,
                message_seq,
                content: page.text(content)?,
                at,
            },
            principal_uri: page.text(uri)?,
            principal_name: page.text(name)?,
            room_guid: page.text(guid)?,
            room_name: page.text(room)?,
        });
    }
    Ok(records)
}

struct Reader<'a> {
    packed: &'a str,
    at: usize,
}

impl Reader<'_> {
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

    /// The next `len` bytes, which must be whole characters.
    fn text(&mut self, len: usize) -> std::result::Result<String, Malformed> {
        let text = self
            .at
            .checked_add(len)
            .and_then(|end| self.packed.get(self.at..end))
            .ok_or_else(|| self.malformed())?;
        self.at += len;
        Ok(text.to_owned())
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
            "7,2,3,41,-5,4,{},7,5,4,6;chat{content}sip:a@xAliceGUIDLobby!\
             8,2,3,,9,4,0,0,0,0,0;part",
            content.len()
        );
        let records = unpack(&packed, 2).unwrap();
        assert_eq!(records.len(), 2);
        let first = &records[0];
        assert_eq!(
            (
                first.event.id,
                first.event.room_id,
                first.event.principal_id
            ),
            (7, 2, 3)
        );
        assert_eq!(first.event.message_seq, Some(41));
        assert_eq!(first.event.at, -5);
        assert_eq!(first.event.kind, "chat");
        assert_eq!(first.event.content, content);
        assert_eq!(first.principal_uri, "sip:a@x");
        assert_eq!(first.principal_name, "Alice");
        assert_eq!(first.room_guid, "GUID");
        assert_eq!(first.room_name, "Lobby!");
        let second = &records[1];
        assert_eq!(second.event.message_seq, None);
        assert_eq!(second.event.kind, "part");
        assert_eq!(second.principal_uri, "");
        assert!(unpack("", 0).unwrap().is_empty());
    }

    #[test]
    fn a_malformed_page_is_an_error_not_a_panic() {
        for bad in [
            "7,2,3,,5,4,0,0,0,0,0;cha",
            "7,2,3,,5,4,0,0,0,0,0:chat",
            "7,2,x,,5,4,0,0,0,0,0;chat",
            "99999999999999999999,2,3,,5,4,0,0,0,0,0;chat",
            "7,2,3,,5,1,0,0,0,0,0;é",
            "7,2,3,,5,-4,0,0,0,0,0;chat",
            "7,2",
        ] {
            assert!(unpack(bad, 1).is_err(), "{bad:?}");
        }
    }
}
