//! Parlance storage.
//!
//! Everything durable goes through [`Store`], an enum over the storage engines: SQLite
//! embedded by default (one file, no service to run), and PostgreSQL for a pool of servers
//! sharing one database. Both pass one shared test suite.
//!
//! Password-equivalent secrets are sealed with a [`ServerKey`] kept outside the database.

/// `as_str`, `Display` and a case-insensitive `FromStr` for an enum stored as text. Defined
/// before the modules so that each can use it.
macro_rules! text_enum {
    ($t:ty { $($v:ident = $s:literal),* $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                match s.to_ascii_lowercase().as_str() {
                    $($s => Ok(Self::$v),)*
                    _ => Err(format!("{s:?} is not one of: {}", [$($s),*].join(", "))),
                }
            }
        }
    };
}

/// Calls the same method on whichever engine is in use. Defined before the modules, whose
/// `impl Store` blocks use it.
macro_rules! engine {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            $crate::Store::Sqlite($s) => $call,
            $crate::Store::Postgres($s) => $call,
        }
    };
}

pub mod accounts;
pub mod audit;
pub mod changes;
mod engine;
mod error;
pub mod files;
pub mod history;
pub mod installation;
pub mod lock;
mod migrate;
pub mod nodes;
mod postgres;
pub mod retention;
pub mod rooms;
mod rows;
mod secrets;
mod shared_text;
pub mod signed_in;
mod sqlite;

use std::path::Path;

pub use accounts::{Mechanisms, User};
pub use changes::{AccessChange, ChangeKind};
pub use error::{Result, StoreError};
pub use installation::{FileLocation, Installation};
pub use lock::LockFile;
pub use postgres::{PgStore, TableCopy};
pub use secrets::ServerKey;
pub use shared_text::SharedText;
pub use sqlite::{DEFAULT_SEARCH_TIME_LIMIT, SqliteStore};

use history::{ComplianceEvent, ComplianceKind, CompliancePages, NewComplianceEvent, Pages};
use retention::{HoldTarget, LegalHold};

/// The storage engine in use.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Opens the store a URL names: `sqlite:PATH` (the embedded file, created as needed) or
    /// `postgres://…` / `postgresql://…` (a database several servers may share). Either is
    /// migrated to this build's schema: for the commands that create or upgrade an
    /// installation.
    pub async fn open(url: &str) -> Result<Store> {
        match StoreUrl::parse(url)? {
            StoreUrl::Sqlite(path) => Store::open_sqlite(&path).await,
            StoreUrl::Postgres(url) => Ok(Store::Postgres(PgStore::open(&url).await?)),
        }
    }

    /// Opens the existing store a URL names at this build's schema, changing nothing (no
    /// file created, no migration run): [`StoreError::NoDatabase`] for a missing SQLite
    /// file, [`StoreError::SchemaTooOld`] (an empty PostgreSQL database too) or
    /// [`StoreError::SchemaTooNew`]. For commands that may run beside a server.
    pub async fn open_existing(url: &str) -> Result<Store> {
        match StoreUrl::parse(url)? {
            StoreUrl::Sqlite(path) => Store::open_sqlite_existing(&path).await,
            StoreUrl::Postgres(url) => Ok(Store::Postgres(PgStore::open_existing(&url).await?)),
        }
    }

    /// Copies the SQLite installation at `from` (`sqlite:PATH`) into the empty PostgreSQL
    /// database at `to` (`postgres://…`, migrated first), verified table by table by count
    /// and checksum; see [`PgStore::copy_from_sqlite`].
    pub async fn migrate(from: &str, to: &str) -> Result<Vec<TableCopy>> {
        let wrong = |why: &str| StoreError::Invalid {
            what: "store URL",
            why: why.into(),
        };
        let StoreUrl::Sqlite(path) = StoreUrl::parse(from)? else {
            return Err(wrong("--from must be a sqlite: URL"));
        };
        let StoreUrl::Postgres(url) = StoreUrl::parse(to)? else {
            return Err(wrong("--to must be a postgres:// URL"));
        };
        // Opening would create an empty database where a mistyped path points.
        if !path.is_file() {
            return Err(StoreError::NotFound(path.display().to_string()));
        }
        let source = SqliteStore::open(&path).await?;
        let target = PgStore::open(&url).await?;
        let copied = target.copy_from_sqlite(&source).await;
        source.close().await;
        target.close().await;
        copied
    }

    /// Opens (creating and migrating as needed) the embedded SQLite database at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Store> {
        Ok(Store::Sqlite(SqliteStore::open(path).await?))
    }

    /// Opens an existing SQLite database at this build's schema without changing it (no
    /// file created, no migration run): for commands that may run beside a server.
    pub async fn open_sqlite_existing(path: &Path) -> Result<Store> {
        Ok(Store::Sqlite(SqliteStore::open_existing(path).await?))
    }

    /// The newest schema version this build knows.
    pub fn known_schema() -> i64 {
        migrate::latest(&migrate::SQLITE)
    }

    /// The newest schema version applied to the database.
    pub async fn schema_version(&self) -> Result<i64> {
        engine!(self, s => s.schema_version().await)
    }

    /// How long one search (history or rooms) may run before it is stopped with
    /// [`StoreError::SearchTimeLimit`]; [`DEFAULT_SEARCH_TIME_LIMIT`] until set.
    pub fn set_search_time_limit(&mut self, limit: std::time::Duration) {
        engine!(self, s => s.set_search_time_limit(limit))
    }

    /// Names the server node whose chat sessions this handle (and its clones made after)
    /// records joins and parts for, and whose connections it writes on the signed-in table:
    /// a dead node's open joins are then closed, and its connections taken off, without
    /// touching a live node's ([`Store::reap_node`]).
    pub fn set_node(&mut self, node: &str) {
        engine!(self, s => s.node = Some(node.into()))
    }

    pub async fn close(&self) {
        engine!(self, s => s.close().await)
    }

    /// Appends compliance events in one transaction (load generation: `parlance bench`).
    pub async fn import_compliance_events(&self, events: &[NewComplianceEvent<'_>]) -> Result<()> {
        engine!(self, s => s.import_compliance_events(events).await)
    }

    pub async fn record_event(
        &self,
        kind: ComplianceKind,
        room_id: i64,
        principal_id: i64,
        content: &str,
        at: i64,
    ) -> Result<()> {
        engine!(self, s => s.record_event(kind, room_id, principal_id, content, at).await)
    }

    pub async fn compliance_events(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<ComplianceEvent>> {
        engine!(self, s => s.compliance_events(after_id, limit).await)
    }

    /// The id of the last outbox row the compliance archive holds durably (0 before any).
    pub async fn export_cursor(&self) -> Result<i64> {
        engine!(self, s => s.export_cursor().await)
    }

    /// Outbox rows the compliance archive does not hold yet (after the export cursor).
    pub async fn compliance_backlog(&self) -> Result<u64> {
        engine!(self, s => s.compliance_backlog().await)
    }

    /// Moves the export cursor from `from` to `to`; [`StoreError::ExportCursorMoved`] when
    /// another exporter moved it meanwhile.
    pub async fn move_export_cursor(&self, from: i64, to: i64, at: i64) -> Result<()> {
        engine!(self, s => s.move_export_cursor(from, to, at).await)
    }

    /// The outbox after `after_id`, read page after page, at most `limit` rows each (on
    /// SQLite, a span of `limit` ids), with the principals and rooms each page names: what
    /// an export reads, every row once. On SQLite the reader holds two reading connections
    /// from its first page until it reaches the end of the outbox or is dropped; the
    /// store's `close` waits for them.
    pub fn compliance_pages(&self, after_id: i64, limit: u32) -> CompliancePages {
        CompliancePages(match self {
            Store::Sqlite(s) => Pages::Sqlite(s.compliance_pages(after_id, limit)),
            Store::Postgres(s) => Pages::Postgres(s.compliance_pages(after_id, limit)),
        })
    }

    /// Deletes exported outbox rows (ids up to `exported_id`) recorded before `before`,
    /// in outbox order up to the first one recorded later, joins only with their parts;
    /// returns how many went.
    pub async fn prune_exported(&self, exported_id: i64, before: i64) -> Result<u64> {
        engine!(self, s => s.prune_exported(exported_id, before).await)
    }

    /// Places a legal hold (`placed_by`: the operating-system account; `at`: unix
    /// nanoseconds); [`StoreError::Duplicate`] when one is in force on the target already.
    pub async fn place_hold(
        &self,
        target: HoldTarget,
        reason: &str,
        placed_by: &str,
        at: i64,
    ) -> Result<LegalHold> {
        engine!(self, s => s.place_hold(target, reason, placed_by, at).await)
    }

    /// Releases the hold in force on a target (its row stays, as released); false when
    /// there was none.
    pub async fn release_hold(
        &self,
        target: HoldTarget,
        released_by: &str,
        at: i64,
    ) -> Result<bool> {
        engine!(self, s => s.release_hold(target, released_by, at).await)
    }

    /// Holds in force, oldest first; with `released`, the released ones too.
    pub async fn legal_holds(&self, released: bool) -> Result<Vec<LegalHold>> {
        engine!(self, s => s.legal_holds(released).await)
    }
}

/// What a store URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite:PATH` (also `sqlite://PATH`).
    Sqlite(std::path::PathBuf),
    /// `postgres://…` or `postgresql://…`, as given.
    Postgres(String),
}

impl StoreUrl {
    pub fn parse(url: &str) -> Result<StoreUrl> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(StoreError::Invalid {
                    what: "store URL",
                    why: "sqlite: needs a file path".into(),
                });
            }
            return Ok(StoreUrl::Sqlite(path.into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(url.to_owned()));
        }
        Err(StoreError::Invalid {
            what: "store URL",
            why: "expected sqlite:PATH or postgres://…".into(),
        })
    }
}

/// A fresh random (version 4) GUID in its usual lower-case text form.
pub fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
