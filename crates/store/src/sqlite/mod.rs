//! The embedded engine: one SQLite file in WAL mode, shared safely by the server and the
//! admin commands running beside it.
mod categories;
mod changes;
mod compliance;
mod compliance_page;
mod files;
mod history;
mod installation;
mod manage;
mod nodes;
mod people;
mod retention;
mod room_delete;
mod rooms;
mod search;
mod signed_in;

pub(crate) use compliance_page::PageReader;

use std::path::Path;
use std::time::Duration;

use sip_proto::auth::Algorithm;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::accounts::{DigestSecret, Mechanisms, PasswordSecrets, User};
use crate::changes::ChangeKind;
use crate::error::{Result, StoreError};
use crate::migrate::{self, SQLITE};
use crate::rows;
use changes::record_change;

/// Readers share a pool; every write goes through one connection. SQLite admits one writer
/// at a time anyway, and writers that race for the lock wait in its busy handler, which
/// sleeps in steps of up to 100 ms; queueing them in the pool instead keeps a burst of
/// joins or posts moving at the speed of the commits.
///
/// Searches have connections of their own, each statement under a deadline
/// ([`SqliteStore::set_search_time_limit`]): a search may run for its whole time limit, and
/// the lookups every post and join makes on the readers must not queue behind it.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) reads: SqlitePool,
    pub(crate) writes: SqlitePool,
    pub(crate) searches: SqlitePool,
    pub(crate) search_time: Duration,
    /// The server node whose chat sessions this handle records joins and parts for
    /// ([`crate::Store::set_node`]); `None` outside a server: such rows name no node.
    pub(crate) node: Option<std::sync::Arc<str>>,
}

/// Connections for readers (history pages run beside the writer in WAL mode).
const READERS: u32 = 8;
/// Connections for searches: how many may run at once, server-wide. The machine's other
/// cores stay free for posts, joins and history pages however many users search.
const SEARCHERS: u32 = 2;
/// The accounts not removed, as `rows::user` reads them; callers add conditions.
const LIVE_USERS: &str = "SELECT id, uri, display_name, created_at, mechanisms, disabled, admin, persistent_chat \
     FROM principals WHERE kind = 'user' AND removed_at IS NULL";
/// How long one search may run unless the server sets another limit.
pub const DEFAULT_SEARCH_TIME_LIMIT: Duration = Duration::from_secs(1);

impl SqliteStore {
    /// A write transaction, holding SQLite's write lock from its first statement. A deferred
    /// one that read first would ask for the lock only at its first write, and if another
    /// process (an admin command, the compliance export) had written since it began reading,
    /// SQLite would refuse it at once — "database is locked" — rather than wait in its busy
    /// handler. Taken at `BEGIN IMMEDIATE`, the lock is waited for like any other.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writes.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Opens the database at `path`, creating it when missing and applying every migration
    /// this build knows: for the commands that create or upgrade an installation.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        owner_only(path)?;
        let options = connect_options(path).create_if_missing(true);
        let writes = writer(&options).await?;
        // The schema must exist before a reader looks at it.
        adopt_legacy_versions(&writes).await?;
        SQLITE
            .run(&writes)
            .await
            .map_err(|e| migrate::error(&SQLITE, e))?;
        Self::with_writer(writes, options).await
    }

    /// Opens an existing database that is at this build's schema, changing nothing:
    /// [`StoreError::NoDatabase`] when there is no file, [`StoreError::SchemaTooOld`] or
    /// [`StoreError::SchemaTooNew`] when another build's migrations are needed. For the
    /// commands that run beside a server, which must never migrate under it.
    pub async fn open_existing(path: &Path) -> Result<SqliteStore> {
        if !path.is_file() {
            return Err(StoreError::NoDatabase(path.display().to_string()));
        }
        owner_only(path)?;
        let options = connect_options(path).create_if_missing(false);
        let writes = writer(&options).await?;
        if let Err(e) = check_schema(&writes).await {
            writes.close().await;
            return Err(e);
        }
        Self::with_writer(writes, options).await
    }

    async fn with_writer(writes: SqlitePool, options: SqliteConnectOptions) -> Result<SqliteStore> {
        let reads = pool(READERS).connect_with(options.clone()).await?;
        let searches = pool(SEARCHERS).connect_with(options).await?;
        Ok(SqliteStore {
            reads,
            writes,
            searches,
            search_time: DEFAULT_SEARCH_TIME_LIMIT,
            node: None,
        })
    }

    /// How long one search (of history or of rooms) may run before it is stopped with
    /// [`StoreError::SearchTimeLimit`].
    pub fn set_search_time_limit(&mut self, limit: Duration) {
        self.search_time = limit;
    }

    /// A new account with its secrets. With `revive`, the address of a removed account goes
    /// to the new one: the tombstone becomes the new account (same principal, so the old
    /// messages show the same author, as their address already did); an address never used,
    /// or not removed, is added as usual.
    pub async fn create_user(
        &self,
        uri: &str,
        display_name: &str,
        secrets: &PasswordSecrets,
        revive: bool,
    ) -> Result<User> {
        let mut tx = self.begin_write().await?;
        let created_at = crate::now();
        let mechanisms = secrets.mechanisms();
        let revived: Option<i64> = if revive {
            sqlx::query_scalar(
                "UPDATE principals SET removed_at = NULL, disabled = 0, admin = 0, persistent_chat = 1, display_name = ?, created_at = ?, mechanisms = ? \
                 WHERE uri = ? AND kind = 'user' AND removed_at IS NOT NULL RETURNING id",
            )
            .bind(display_name)
            .bind(created_at)
            .bind(mechanisms.to_string())
            .bind(uri)
            .fetch_optional(&mut *tx)
            .await?
        } else {
            None
        };
        let id = match revived {
            Some(id) => id,
            None => insert_user(&mut tx, uri, display_name, created_at, mechanisms).await?,
        };
        write_secrets(&mut tx, id, secrets).await?;
        tx.commit().await?;
        Ok(User {
            id,
            uri: uri.to_owned(),
            display_name: display_name.to_owned(),
            created_at,
            mechanisms,
            disabled: false,
            admin: false,
            persistent_chat: true,
        })
    }

    /// `uris` are normalised. No secret rows: Digest and NTLM find nothing to check against.
    pub async fn add_users_without_password(&self, uris: &[String]) -> Result<Vec<User>> {
        let mut tx = self.begin_write().await?;
        let created_at = crate::now();
        let mechanisms = Mechanisms {
            digest: true,
            ntlm: false,
        };
        let mut users = Vec::with_capacity(uris.len());
        for uri in uris {
            let id = insert_user(&mut tx, uri, "", created_at, mechanisms).await?;
            users.push(User {
                id,
                uri: uri.clone(),
                display_name: String::new(),
                created_at,
                mechanisms,
                disabled: false,
                admin: false,
                persistent_chat: true,
            });
        }
        tx.commit().await?;
        Ok(users)
    }

    pub async fn set_password(&self, uri: &str, secrets: &PasswordSecrets) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id = live_user_id(&mut tx, uri).await?;
        sqlx::query("DELETE FROM digest_secrets WHERE principal_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM ntlm_secrets WHERE principal_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        write_secrets(&mut tx, id, secrets).await?;
        // Sessions signed in with the old password end: it may be why it was changed.
        record_change(&mut tx, &ChangeKind::sign_out(uri, "password changed")).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes an account, keeping a tombstone: its messages and compliance rows keep their
    /// author, everything that let it sign in or act goes, and its sessions end.
    pub async fn remove_user(&self, uri: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id = live_user_id(&mut tx, uri).await?;
        sqlx::query("UPDATE principals SET removed_at = ?, disabled = 0, admin = 0 WHERE id = ?")
            .bind(crate::now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for table in [
            "password_hashes",
            "digest_secrets",
            "ntlm_secrets",
            "room_roles",
            "category_creators",
            "category_scope",
            "invitations",
            "preferences",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE principal_id = ?"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        record_change(&mut tx, &ChangeKind::sign_out(uri, "account removed")).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables an account (its sessions end and sign-in is refused) or enables it again.
    pub async fn set_disabled(&self, uri: &str, disabled: bool) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id = live_user_id(&mut tx, uri).await?;
        sqlx::query("UPDATE principals SET disabled = ? WHERE id = ?")
            .bind(disabled)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            record_change(&mut tx, &ChangeKind::sign_out(uri, "account disabled")).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!("{LIVE_USERS} ORDER BY uri"))
            .fetch_all(&self.reads)
            .await?;
        Ok(rows.iter().map(rows::user).collect())
    }

    pub async fn user(&self, uri: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("{LIVE_USERS} AND uri = ?"))
            .bind(uri)
            .fetch_optional(&self.reads)
            .await?;
        Ok(row.as_ref().map(rows::user))
    }

    /// An account by principal id, unless removed.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query(&format!("{LIVE_USERS} AND id = ?"))
            .bind(id)
            .fetch_optional(&self.reads)
            .await?;
        Ok(row.as_ref().map(rows::user))
    }

    pub async fn password_phc(&self, uri: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT h.phc FROM password_hashes h JOIN principals p ON p.id = h.principal_id WHERE p.uri = ?",
        )
        .bind(uri)
        .fetch_optional(&self.reads)
        .await?)
    }

    pub async fn digest_secret(
        &self,
        uri: &str,
        algorithm: Algorithm,
        username: &str,
    ) -> Result<Option<DigestSecret>> {
        let row = sqlx::query(
            "SELECT d.realm, d.sealed_ha1 FROM digest_secrets d JOIN principals p ON p.id = d.principal_id \
             WHERE p.uri = ? AND d.algorithm = ? AND d.username = ? AND instr(p.mechanisms, 'digest') > 0",
        )
        .bind(uri)
        .bind(algorithm.as_str())
        .bind(username)
        .fetch_optional(&self.reads)
        .await?;
        Ok(row.map(|r| DigestSecret {
            algorithm,
            username: username.to_owned(),
            realm: r.get("realm"),
            sealed_ha1: r.get("sealed_ha1"),
        }))
    }

    /// The sealed NT hash of an account that allows NTLM.
    pub async fn ntlm_secret(&self, uri: &str) -> Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar(
            "SELECT n.sealed_nt_hash FROM ntlm_secrets n JOIN principals p ON p.id = n.principal_id \
             WHERE p.uri = ? AND instr(p.mechanisms, 'ntlm') > 0",
        )
        .bind(uri)
        .fetch_optional(&self.reads)
        .await?)
    }

    /// Restricts (or widens) the mechanisms of an account; the secrets of mechanisms no
    /// longer allowed are deleted.
    pub async fn set_mechanisms(&self, uri: &str, mechanisms: Mechanisms) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "UPDATE principals SET mechanisms = ? WHERE uri = ? AND kind = 'user' AND removed_at IS NULL RETURNING id",
        )
        .bind(mechanisms.to_string())
        .bind(uri)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(uri.to_owned()))?;
        if !mechanisms.digest {
            sqlx::query("DELETE FROM digest_secrets WHERE principal_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if !mechanisms.ntlm {
            sqlx::query("DELETE FROM ntlm_secrets WHERE principal_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        // A session may have signed in with a mechanism no longer allowed.
        record_change(&mut tx, &ChangeKind::sign_out(uri, "mechanisms changed")).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.writes.close().await;
        self.reads.close().await;
        self.searches.close().await;
    }
}

/// The id of an account that exists and is not removed.
pub(super) async fn live_user_id(tx: &mut Transaction<'_, Sqlite>, uri: &str) -> Result<i64> {
    sqlx::query_scalar(
        "SELECT id FROM principals WHERE uri = ? AND kind = 'user' AND removed_at IS NULL",
    )
    .bind(uri)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(uri.to_owned()))
}

/// Inserts a user principal; a taken URI is `Duplicate`, a removed account's `Removed`.
async fn insert_user(
    tx: &mut Transaction<'_, Sqlite>,
    uri: &str,
    display_name: &str,
    created_at: i64,
    mechanisms: Mechanisms,
) -> Result<i64> {
    let inserted = sqlx::query(
        "INSERT INTO principals (kind, uri, display_name, created_at, mechanisms) VALUES ('user', ?, ?, ?, ?)",
    )
    .bind(uri)
    .bind(display_name)
    .bind(created_at)
    .bind(mechanisms.to_string())
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(r) => Ok(r.last_insert_rowid()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            let removed: Option<i64> = sqlx::query_scalar(
                "SELECT removed_at FROM principals WHERE uri = ? AND removed_at IS NOT NULL",
            )
            .bind(uri)
            .fetch_optional(&mut **tx)
            .await?;
            Err(match removed {
                Some(_) => StoreError::Removed(uri.to_owned()),
                None => StoreError::Duplicate(uri.to_owned()),
            })
        }
        Err(e) => Err(e.into()),
    }
}

async fn write_secrets(
    tx: &mut Transaction<'_, Sqlite>,
    id: i64,
    secrets: &PasswordSecrets,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO password_hashes (principal_id, phc, updated_at) VALUES (?, ?, ?) \
         ON CONFLICT (principal_id) DO UPDATE SET phc = excluded.phc, updated_at = excluded.updated_at",
    )
    .bind(id)
    .bind(&secrets.phc)
    .bind(crate::now())
    .execute(&mut **tx)
    .await?;
    if let Some(sealed) = &secrets.sealed_nt_hash {
        sqlx::query("INSERT INTO ntlm_secrets (principal_id, sealed_nt_hash) VALUES (?, ?)")
            .bind(id)
            .bind(sealed)
            .execute(&mut **tx)
            .await?;
    }
    for d in &secrets.digest {
        sqlx::query(
            "INSERT INTO digest_secrets (principal_id, algorithm, username, realm, sealed_ha1) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(d.algorithm.as_str())
        .bind(&d.username)
        .bind(&d.realm)
        .bind(&d.sealed_ha1)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn connect_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        // The admin CLI may write while the server runs: wait for the lock, don't fail.
        .busy_timeout(Duration::from_secs(10))
}

async fn writer(options: &SqliteConnectOptions) -> Result<SqlitePool> {
    Ok(pool(1).connect_with(options.clone()).await?)
}

/// A pool of `connections`, none of them checked before use. sqlx pings a connection
/// before lending it unless told not to, which suits a database across a network; here a
/// connection is a file handle in this process, held by a thread of its own, and cannot go
/// stale between two statements: the ping would only be one more round trip to that thread
/// (a ninth of the server's CPU while thousands of members sign in and join). A statement
/// that fails on a connection fails with its error either way.
fn pool(connections: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(connections)
        .test_before_acquire(false)
}

/// Refuses a schema other than this build's: older (migrations to run) or newer (written
/// by a later Parlance). A database of the runner before sqlx counts as older.
async fn check_schema(pool: &SqlitePool) -> Result<()> {
    let table = |name: &'static str| {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)",
        )
        .bind(name)
        .fetch_one(pool)
    };
    let applied: Vec<i64> = if table("_sqlx_migrations").await? {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?
    } else if table("schema_migrations").await? {
        sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    migrate::check_applied(&SQLITE, &applied)
}

/// Databases created before sqlx ran the migrations listed the versions applied in a
/// `schema_migrations` table of their own. Once, in one transaction, those versions are
/// recorded as applied in sqlx's table (with the checksums of the files this build embeds:
/// the files are the ones that ran) and the old table goes; sqlx then applies the rest.
///
/// Pre-sqlx builds opening the database afterwards find no versions, try the first
/// migration again and stop on its `CREATE TABLE` (rolled back, nothing changed).
async fn adopt_legacy_versions(pool: &SqlitePool) -> Result<()> {
    use sqlx::migrate::Migrate;

    let mut tx = pool.begin().await?;
    let legacy: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
    )
    .fetch_one(&mut *tx)
    .await?;
    if !legacy {
        return Ok(());
    }
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            .fetch_one(&mut *tx)
            .await?;
    let known = migrate::latest(&SQLITE);
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    tx.ensure_migrations_table()
        .await
        .map_err(StoreError::Migration)?;
    for m in SQLITE.iter().filter(|m| m.version <= current) {
        // The columns sqlx's own bookkeeping writes; `installed_on` has its default.
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?, ?, TRUE, ?, 0)",
        )
        .bind(m.version)
        .bind(&*m.description)
        .bind(&*m.checksum)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DROP TABLE schema_migrations")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Makes the database file (created empty if missing) and its WAL and shared-memory files
/// readable by their owner only, whatever the umask: SQLite gives the `-wal` and `-shm` files
/// it creates the mode of the database file.
fn owner_only(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |file: &std::ffi::OsStr| {
        let path = file.to_string_lossy().into_owned();
        move |source| StoreError::Io { path, source }
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path.as_os_str()))?;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other.map_err(io(&file))?,
        }
    }
    Ok(())
}
