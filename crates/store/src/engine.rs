//! What both engines share that is not SQL: how database errors read as store errors, and
//! the conversions and summaries computed around the statements.

use std::collections::BTreeMap;

use crate::changes::ChangeKind;
use crate::error::{Result, StoreError};
use crate::retention::HoldTarget;

/// `s` as a LIKE pattern's literal text, with `\` as the escape character.
pub(crate) fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub(crate) fn unique_as_duplicate(e: sqlx::Error, what: &str) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Duplicate(what.to_owned())
        }
        other => other.into(),
    }
}

pub(crate) fn foreign_key_as_not_found(e: sqlx::Error, what: &str) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::NotFound(what.to_owned())
        }
        other => other.into(),
    }
}

/// A file size as the integer column holding it.
pub(crate) fn size_column(bytes: u64) -> Result<i64> {
    i64::try_from(bytes).map_err(|_| StoreError::Invalid {
        what: "file size",
        why: format!("{bytes} bytes"),
    })
}

/// A hold's target as its `(room_id, principal_id)` columns.
pub(crate) fn hold_columns(target: HoldTarget) -> (Option<i64>, Option<i64>) {
    match target {
        HoldTarget::Room(id) => (Some(id), None),
        HoldTarget::User(id) => (None, Some(id)),
    }
}

/// What one purge step removed of each author's messages, from the `(author, seq)` of each
/// deleted message: the author, the last sequence number (the `purge` row's
/// `message_seq`) and the row's text — how many, and the first and last numbers.
pub(crate) fn purge_summaries(
    deleted: impl IntoIterator<Item = (i64, i64)>,
    reason: &str,
) -> Vec<(i64, i64, String)> {
    let mut by_author: BTreeMap<i64, (u64, i64, i64)> = BTreeMap::new();
    for (author, seq) in deleted {
        let entry = by_author.entry(author).or_insert((0, seq, seq));
        entry.0 += 1;
        entry.1 = entry.1.min(seq);
        entry.2 = entry.2.max(seq);
    }
    by_author
        .into_iter()
        .map(|(author, (count, first, last))| {
            (
                author,
                last,
                format!("{reason}: {count} messages, seq {first}-{last}"),
            )
        })
        .collect()
}

/// The columns of an `access_changes` row: kind, principal, room, category, account, reason.
pub(crate) type ChangeColumns<'a> = (
    &'static str,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<&'a str>,
    &'a str,
);

/// How a change is written to the feed (read back by `rows::access_change`).
pub(crate) fn change_columns(change: &ChangeKind) -> ChangeColumns<'_> {
    match change {
        ChangeKind::Rights {
            principal_id,
            room_id,
            category_id,
        } => ("rights", *principal_id, *room_id, *category_id, None, ""),
        ChangeKind::SignOut { account, reason } => {
            ("sign_out", None, None, None, Some(account), reason)
        }
        ChangeKind::Unlock { account } => ("unlock", None, None, None, Some(account), ""),
        ChangeKind::RoomChanged { room_id } => {
            ("room_changed", None, Some(*room_id), None, None, "")
        }
        ChangeKind::Invite {
            principal_id,
            room_id,
        } => (
            "invite",
            Some(*principal_id),
            Some(*room_id),
            None,
            None,
            "",
        ),
    }
}
