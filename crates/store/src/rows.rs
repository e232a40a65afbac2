//! Rows as both engines return them, read into the store's types by one set of functions.
//! The [`Columns`] trait names the few column types the schema uses; each engine's row type
//! implements it with sqlx's decoding (a SQLite integer flag and a PostgreSQL boolean both
//! read as `bool`).

use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::accounts::{Mechanisms, User};
use crate::changes::{AccessChange, ChangeKind};
use crate::error::{Result, StoreError};
use crate::files::{Direction, FileState, FileToken, StoredFile};
use crate::history::{ComplianceEvent, StoredMessage};
use crate::installation::Installation;
use crate::nodes::{Lease, Load, Node};
use crate::retention::{HoldTarget, LegalHold};
use crate::rooms::{Behavior, Category, Privacy, Role, Room, RoomInfo, RoomStanding};

/// A row's columns by name. A column missing or of another type is a query that does not
/// match the schema, a bug: it panics, as sqlx's `Row::get` does.
pub(crate) trait Columns {
    fn int(&self, name: &str) -> i64;
    fn opt_int(&self, name: &str) -> Option<i64>;
    fn text(&self, name: &str) -> String;
    fn opt_text(&self, name: &str) -> Option<String>;
    fn flag(&self, name: &str) -> bool;
    fn opt_flag(&self, name: &str) -> Option<bool>;
    fn bytes(&self, name: &str) -> Vec<u8>;
}

macro_rules! columns {
    ($row:ty) => {
        impl Columns for $row {
            fn int(&self, name: &str) -> i64 {
                self.get(name)
            }
            fn opt_int(&self, name: &str) -> Option<i64> {
                self.get(name)
            }
            fn text(&self, name: &str) -> String {
                self.get(name)
            }
            fn opt_text(&self, name: &str) -> Option<String> {
                self.get(name)
            }
            fn flag(&self, name: &str) -> bool {
                self.get(name)
            }
            fn opt_flag(&self, name: &str) -> Option<bool> {
                self.get(name)
            }
            fn bytes(&self, name: &str) -> Vec<u8> {
                self.get(name)
            }
        }
    };
}

columns!(SqliteRow);
columns!(PgRow);

/// An account, from a query selecting the columns of `LIVE_USERS`.
pub(crate) fn user(r: &impl Columns) -> User {
    User {
        id: r.int("id"),
        uri: r.text("uri"),
        display_name: r.text("display_name"),
        created_at: r.int("created_at"),
        mechanisms: Mechanisms::parse(&r.text("mechanisms")).unwrap_or(Mechanisms {
            digest: true,
            ntlm: false,
        }),
        disabled: r.flag("disabled"),
        admin: r.flag("admin"),
        persistent_chat: r.flag("persistent_chat"),
    }
}

pub(crate) fn category(r: &impl Columns) -> Category {
    prefixed_category(r, "")
}

/// A category whose columns are prefixed with `prefix` (`c_` beside a room's).
fn prefixed_category(r: &impl Columns, prefix: &str) -> Category {
    let c = |name: &str| format!("{prefix}{name}");
    Category {
        id: r.int(&c("id")),
        guid: r.text(&c("guid")),
        parent_id: r.opt_int(&c("parent_id")),
        name: r.text(&c("name")),
        description: r.text(&c("description")),
        file_post: r.flag(&c("file_post")),
        invitations: r.flag(&c("invitations")),
        logged: r.flag(&c("logged")),
    }
}

/// A room as [`room_info`] reads it, with the principal's roles (`roles`: their names
/// joined by commas, `NULL` for none) and whether it is in the category's scope (`in_scope`).
pub(crate) fn room_standing(r: &impl Columns) -> RoomStanding {
    let list = r.opt_text("roles");
    let mut roles: Vec<Role> = list
        .iter()
        .flat_map(|list| list.split(','))
        .filter_map(|role| role.parse().ok())
        .collect();
    roles.sort();
    RoomStanding {
        info: room_info(r),
        roles,
        in_scope: r.flag("in_scope"),
    }
}

/// A room with its category's columns prefixed `c_`.
pub(crate) fn room_info(r: &impl Columns) -> RoomInfo {
    RoomInfo {
        room: Room {
            id: r.int("id"),
            guid: r.text("guid"),
            category_id: r.int("category_id"),
            name: r.text("name"),
            description: r.text("description"),
            topic: r.text("topic"),
            privacy: r.text("privacy").parse().unwrap_or(Privacy::Secret),
            behavior: r.text("behavior").parse().unwrap_or(Behavior::Auditorium),
            invitations: r.flag("invitations"),
            disabled: r.flag("disabled"),
            file_post: r.opt_flag("file_post"),
        },
        category: prefixed_category(r, "c_"),
    }
}

/// An outbox row, from a query that selects its columns by their names.
pub(crate) fn event(r: &impl Columns) -> ComplianceEvent {
    ComplianceEvent {
        id: r.int("id"),
        kind: r.text("kind").into(),
        room_id: r.int("room_id"),
        principal_id: r.int("principal_id"),
        message_seq: r.opt_int("message_seq"),
        content: r.text("content").into(),
        at: r.int("at"),
    }
}

pub(crate) fn message(r: &impl Columns) -> StoredMessage {
    StoredMessage {
        room_id: r.int("room_id"),
        seq: r.int("seq"),
        author_uri: r.text("author_uri"),
        posted_at: r.int("posted_at"),
        content: r.text("content"),
        alert: r.flag("alert"),
        rtf: r.opt_text("rtf"),
    }
}

pub(crate) fn file(r: &impl Columns) -> Result<StoredFile> {
    Ok(StoredFile {
        id: r.int("id"),
        room_id: r.int("room_id"),
        name: r.text("name"),
        original_name: r.text("original_name"),
        uploader_id: r.int("uploader_id"),
        size: r.int("size") as u64,
        state: parse_column::<FileState>(r, "state")?,
        created_at: r.int("created_at"),
        completed_at: r.opt_int("completed_at"),
    })
}

pub(crate) fn token(r: &impl Columns) -> Result<FileToken> {
    Ok(FileToken {
        token: r.text("token"),
        principal_id: r.int("principal_id"),
        room_id: r.int("room_id"),
        direction: parse_column::<Direction>(r, "direction")?,
        file_url: r.text("file_url"),
        file_id: r.opt_int("file_id"),
        issued_at: r.int("issued_at"),
        expires_at: r.int("expires_at"),
        spent: r.flag("spent"),
        download_recorded: r.flag("download_recorded"),
    })
}

/// A text column holding one of an enum's names; the schema's CHECK makes anything else a
/// damaged database.
fn parse_column<T: std::str::FromStr<Err = String>>(
    r: &impl Columns,
    column: &'static str,
) -> Result<T> {
    r.text(column)
        .parse()
        .map_err(|why| StoreError::Invalid { what: column, why })
}

pub(crate) fn hold(r: &impl Columns) -> LegalHold {
    let target = match r.opt_int("room_id") {
        Some(room) => HoldTarget::Room(room),
        None => HoldTarget::User(r.int("principal_id")),
    };
    LegalHold {
        id: r.int("id"),
        target,
        reason: r.text("reason"),
        placed_by: r.text("placed_by"),
        placed_at: r.int("placed_at"),
        released_by: r.opt_text("released_by"),
        released_at: r.opt_int("released_at"),
    }
}

/// A category's retention in days; the column's CHECK keeps it positive, and no one sets
/// more than `u32::MAX` days.
pub(crate) fn retention_days(r: &impl Columns) -> u32 {
    u32::try_from(r.int("retention_days")).unwrap_or(u32::MAX)
}

/// The installation row, as [`installation`] reads it (the same SQL on both engines).
pub(crate) const INSTALLATION: &str =
    "SELECT domain, key_check, created_at FROM installation WHERE id = 1";

pub(crate) fn installation(r: &impl Columns) -> Installation {
    Installation {
        domain: r.text("domain"),
        key_check: r.bytes("key_check"),
        created_at: r.int("created_at"),
    }
}

/// An access change; `None` for a kind this build does not know (written by a newer one)
/// or a row that lacks what its kind needs.
pub(crate) fn access_change(r: &impl Columns) -> Option<AccessChange> {
    let account = || r.opt_text("account").unwrap_or_default();
    let kind = match r.text("kind").as_str() {
        "rights" => ChangeKind::Rights {
            principal_id: r.opt_int("principal_id"),
            room_id: r.opt_int("room_id"),
            category_id: r.opt_int("category_id"),
        },
        "sign_out" => ChangeKind::SignOut {
            account: account(),
            reason: r.text("reason"),
        },
        "unlock" => ChangeKind::Unlock { account: account() },
        "room_changed" => ChangeKind::RoomChanged {
            room_id: r.opt_int("room_id")?,
        },
        "invite" => ChangeKind::Invite {
            principal_id: r.opt_int("principal_id")?,
            room_id: r.opt_int("room_id")?,
        },
        _ => return None,
    };
    Some(AccessChange {
        seq: r.int("seq"),
        kind,
    })
}

/// A node's row, from a query selecting `nodes::NODE_COLUMNS`.
pub(crate) fn node(r: &impl Columns) -> Node {
    let count = |column: &str| u64::try_from(r.int(column)).unwrap_or_default();
    Node {
        id: r.text("id"),
        channel_uri: r.text("channel_uri"),
        sip_address: r.text("sip_address"),
        https_address: r.text("https_address"),
        started_at: r.int("started_at"),
        heartbeat_at: r.int("heartbeat_at"),
        load: Load {
            connections: count("connections"),
            joined: count("joined"),
            cpu_permille: count("cpu_permille"),
            queued_bytes: count("queued_bytes"),
        },
    }
}

pub(crate) fn lease(r: &impl Columns) -> Lease {
    Lease {
        name: r.text("name"),
        holder: r.text("holder"),
        expires_at: r.int("expires_at"),
    }
}
