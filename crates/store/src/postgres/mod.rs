//! The pooled engine: PostgreSQL, which several Parlance nodes share. Nothing a node keeps in
//! memory here is state the others would need: sequence numbers, ids, quotas and cursors are
//! rows, and every check-then-write holds a row lock (or, for the two feeds the server and
//! the exporter read by id, an advisory lock) in its transaction.
mod categories;
mod changes;
mod compliance;
mod copy;
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

pub(crate) use compliance::PageReader;
pub use copy::TableCopy;

use std::time::Duration;

use sip_proto::auth::Algorithm;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};

use crate::accounts::{DigestSecret, Mechanisms, PasswordSecrets, User};
use crate::changes::ChangeKind;
use crate::error::{Result, StoreError};
use crate::migrate::{self, POSTGRES};
use crate::rows;
use crate::sqlite::DEFAULT_SEARCH_TIME_LIMIT;
use changes::record_change;

/// One pool for reads and writes: PostgreSQL runs writers side by side, and the transactions
/// that must not interleave lock the rows they depend on. Searches have connections of their
/// own, each under a statement timeout ([`PgStore::set_search_time_limit`]), so that a
/// search running for its whole time limit never holds a connection a post needs.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    pub(crate) searches: PgPool,
    /// The node registry's heartbeats and reads, on a connection of their own: a burst of
    /// writers holding every connection of `pool` (waiting on a feed lock, say) must not
    /// silence a live node's heartbeat until the others declare it dead.
    pub(crate) registry: PgPool,
    pub(crate) search_time: Duration,
    /// The server node whose chat sessions this handle records joins and parts for
    /// ([`crate::Store::set_node`]); `None` outside a server: such rows name no node.
    pub(crate) node: Option<std::sync::Arc<str>>,
}

/// Connections for reads and writes, per node.
const CONNECTIONS: u32 = 16;
/// Connections for searches, per node: how many may run at once.
const SEARCHERS: u32 = 2;
/// Connections for the node registry, per node: one heartbeat or lookup read at a time.
const REGISTRY: u32 = 1;
/// How long a statement waits for a connection, a new one included, before it fails.
/// While PostgreSQL is unreachable every statement waits this long: a client's request
/// must be refused well within its SIP transaction's 32 s, not after sqlx's default 30 s.
/// Once PostgreSQL is back, the pool replaces the broken connections (each is checked
/// before use) and nothing needs restarting.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// The accounts not removed, as `rows::user` reads them; callers add conditions.
const LIVE_USERS: &str = "SELECT id, uri, display_name, created_at, mechanisms, disabled, admin, persistent_chat \
     FROM principals WHERE kind = 'user' AND removed_at IS NULL";

/// The two feeds read by id from a cursor: the access changes a server applies, and the
/// compliance outbox the exporter archives. An identity hands out ids when rows are
/// inserted, not when they commit; with writers side by side, a reader could see id 8
/// committed while id 7 is still to commit, move its cursor past 7 and never see it. So a
/// transaction takes its feed's lock (held until it ends) before it inserts: ids then
/// commit in order. Only writers of the same feed wait for each other, and only for the
/// rest of a short transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FeedLock {
    AccessChanges,
    ComplianceOutbox,
}

impl FeedLock {
    /// The advisory lock's key: "parl" and a number, unlikely to meet another program's.
    fn key(self) -> i64 {
        const PARLANCE: i64 = 0x7061_726c << 16;
        PARLANCE
            | match self {
                FeedLock::AccessChanges => 1,
                FeedLock::ComplianceOutbox => 2,
            }
    }

    pub(crate) async fn take(self, tx: &mut Transaction<'_, Postgres>) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(self.key())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

impl PgStore {
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Connects to the database at `url` (`postgres://user:password@host/db`) and applies the
    /// migrations this build has and the database lacks: for the commands that create or
    /// upgrade an installation. sqlx's migrator holds an advisory lock while it runs, so
    /// nodes starting together migrate once.
    pub async fn open(url: &str) -> Result<PgStore> {
        let (pool, options) = connect(url).await?;
        POSTGRES
            .run(&pool)
            .await
            .map_err(|e| migrate::error(&POSTGRES, e))?;
        Self::with_pool(pool, options).await
    }

    /// Connects to a database that is at this build's schema, changing nothing:
    /// [`StoreError::SchemaTooOld`] (an empty database too) or [`StoreError::SchemaTooNew`]
    /// otherwise. For the commands that run beside a server, which must never migrate
    /// under it.
    pub async fn open_existing(url: &str) -> Result<PgStore> {
        let (pool, options) = connect(url).await?;
        if let Err(e) = check_schema(&pool).await {
            pool.close().await;
            return Err(e);
        }
        Self::with_pool(pool, options).await
    }

    async fn with_pool(pool: PgPool, options: PgConnectOptions) -> Result<PgStore> {
        let searches = PgPoolOptions::new()
            .max_connections(SEARCHERS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        let registry = PgPoolOptions::new()
            .max_connections(REGISTRY)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(PgStore {
            pool,
            searches,
            registry,
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
                "UPDATE principals SET removed_at = NULL, disabled = FALSE, admin = FALSE, persistent_chat = TRUE, display_name = $1, created_at = $2, mechanisms = $3 \
                 WHERE uri = $4 AND kind = 'user' AND removed_at IS NOT NULL RETURNING id",
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
        sqlx::query("DELETE FROM digest_secrets WHERE principal_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM ntlm_secrets WHERE principal_id = $1")
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
        sqlx::query(
            "UPDATE principals SET removed_at = $1, disabled = FALSE, admin = FALSE WHERE id = $2",
        )
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
            sqlx::query(&format!("DELETE FROM {table} WHERE principal_id = $1"))
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
        sqlx::query("UPDATE principals SET disabled = $1 WHERE id = $2")
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
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(rows::user).collect())
    }

    pub async fn user(&self, uri: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("{LIVE_USERS} AND uri = $1"))
            .bind(uri)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(rows::user))
    }

    /// An account by principal id, unless removed.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query(&format!("{LIVE_USERS} AND id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(rows::user))
    }

    pub async fn password_phc(&self, uri: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT h.phc FROM password_hashes h JOIN principals p ON p.id = h.principal_id WHERE p.uri = $1",
        )
        .bind(uri)
        .fetch_optional(&self.pool)
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
             WHERE p.uri = $1 AND d.algorithm = $2 AND d.username = $3 AND strpos(p.mechanisms, 'digest') > 0",
        )
        .bind(uri)
        .bind(algorithm.as_str())
        .bind(username)
        .fetch_optional(&self.pool)
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
             WHERE p.uri = $1 AND strpos(p.mechanisms, 'ntlm') > 0",
        )
        .bind(uri)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Restricts (or widens) the mechanisms of an account; the secrets of mechanisms no
    /// longer allowed are deleted.
    pub async fn set_mechanisms(&self, uri: &str, mechanisms: Mechanisms) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "UPDATE principals SET mechanisms = $1 WHERE uri = $2 AND kind = 'user' AND removed_at IS NULL RETURNING id",
        )
        .bind(mechanisms.to_string())
        .bind(uri)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(uri.to_owned()))?;
        if !mechanisms.digest {
            sqlx::query("DELETE FROM digest_secrets WHERE principal_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if !mechanisms.ntlm {
            sqlx::query("DELETE FROM ntlm_secrets WHERE principal_id = $1")
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
        self.pool.close().await;
        self.searches.close().await;
        self.registry.close().await;
    }
}

/// The pool for reads and writes, and the options the search pool connects with.
///
/// Every pool here keeps sqlx's check before lending a connection (`test_before_acquire`,
/// on by default; the SQLite engine turns it off): a connection to PostgreSQL dies with a
/// server restart, a failover or the network between, and the ping finds a dead one and
/// replaces it, where a statement sent on it would fail the client's request. It costs a
/// round trip to the database per statement's acquire, the price of surviving that.
async fn connect(url: &str) -> Result<(PgPool, PgConnectOptions)> {
    let options: PgConnectOptions = url.parse()?;
    let pool = PgPoolOptions::new()
        .max_connections(CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await?;
    Ok((pool, options))
}

/// Refuses a schema other than this build's, as the SQLite engine's `check_schema` does:
/// older (migrations to run; a database without sqlx's table has none) or newer.
async fn check_schema(pool: &PgPool) -> Result<()> {
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    let applied: Vec<i64> = if migrated {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    migrate::check_applied(&POSTGRES, &applied)
}

/// The id of an account that exists and is not removed.
pub(super) async fn live_user_id(tx: &mut Transaction<'_, Postgres>, uri: &str) -> Result<i64> {
    sqlx::query_scalar(
        "SELECT id FROM principals WHERE uri = $1 AND kind = 'user' AND removed_at IS NULL",
    )
    .bind(uri)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(uri.to_owned()))
}

/// Inserts a user principal; a taken URI is `Duplicate`, a removed account's `Removed`.
async fn insert_user(
    tx: &mut Transaction<'_, Postgres>,
    uri: &str,
    display_name: &str,
    created_at: i64,
    mechanisms: Mechanisms,
) -> Result<i64> {
    // A failed statement would end the transaction: the conflict is asked about, not caught.
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO principals (kind, uri, display_name, created_at, mechanisms) VALUES ('user', $1, $2, $3, $4) \
         ON CONFLICT (uri) DO NOTHING RETURNING id",
    )
    .bind(uri)
    .bind(display_name)
    .bind(created_at)
    .bind(mechanisms.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = inserted {
        return Ok(id);
    }
    let removed: Option<i64> = sqlx::query_scalar(
        "SELECT removed_at FROM principals WHERE uri = $1 AND removed_at IS NOT NULL",
    )
    .bind(uri)
    .fetch_optional(&mut **tx)
    .await?;
    Err(match removed {
        Some(_) => StoreError::Removed(uri.to_owned()),
        None => StoreError::Duplicate(uri.to_owned()),
    })
}

async fn write_secrets(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    secrets: &PasswordSecrets,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO password_hashes (principal_id, phc, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (principal_id) DO UPDATE SET phc = excluded.phc, updated_at = excluded.updated_at",
    )
    .bind(id)
    .bind(&secrets.phc)
    .bind(crate::now())
    .execute(&mut **tx)
    .await?;
    if let Some(sealed) = &secrets.sealed_nt_hash {
        sqlx::query("INSERT INTO ntlm_secrets (principal_id, sealed_nt_hash) VALUES ($1, $2)")
            .bind(id)
            .bind(sealed)
            .execute(&mut **tx)
            .await?;
    }
    for d in &secrets.digest {
        sqlx::query(
            "INSERT INTO digest_secrets (principal_id, algorithm, username, realm, sealed_ha1) VALUES ($1, $2, $3, $4, $5)",
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
