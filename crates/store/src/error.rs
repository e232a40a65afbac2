use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(sqlx::migrate::MigrateError),
    #[error(
        "the database was written by a newer Parlance (schema {found}, this build knows {known})"
    )]
    SchemaTooNew { found: i64, known: i64 },
    /// Migrations this build knows have not run on the database.
    #[error(
        "the database has schema {found}, older than this build's {known}: it needs `parlance migrate`"
    )]
    SchemaTooOld { found: i64, known: i64 },
    #[error("there is no database at {0}")]
    NoDatabase(String),
    /// `parlance backup` copies a SQLite database only; a PostgreSQL one has the database
    /// server's own backups.
    #[error(
        "the store is PostgreSQL, which `parlance backup` does not copy: back up the database with pg_dump (or the server's base backups), and server.key with it"
    )]
    NoSnapshot,
    #[error("{what} would take more than the quota of {limit} bytes")]
    QuotaExceeded { what: &'static str, limit: u64 },
    /// A count limit: `limit` of `what` are held already.
    #[error("at most {limit} {what} at once")]
    TooMany { what: &'static str, limit: u64 },
    #[error("{0} already exists")]
    Duplicate(String),
    #[error(
        "{0} belonged to a removed account whose messages keep that address; re-using it must be asked for"
    )]
    Removed(String),
    /// A purge of what a legal hold covers.
    #[error("{0} is under legal hold")]
    Held(String),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("invalid {what}: {why}")]
    Invalid { what: &'static str, why: String },
    #[error("server key: {0}")]
    Key(String),
    #[error("a sealed secret could not be opened (wrong server key or tampered row)")]
    Unseal,
    /// A search ran longer than the store allows and was stopped.
    #[error("the search ran past its time limit of {limit_ms} ms and was stopped")]
    SearchTimeLimit { limit_ms: u64 },
    /// The compliance export cursor was not where the exporter left it: another exporter ran.
    #[error("the export cursor is at {found}, not {expected}: another exporter moved it")]
    ExportCursorMoved { expected: i64, found: i64 },
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
