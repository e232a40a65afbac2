//! Parlance storage.
//!
//! Everything durable goes through [`Store`], an enum over the storage engines: SQLite
//! embedded by default (one file, no service to run). A PostgreSQL variant for server pools
//! joins later behind the same methods, and both pass one shared test suite.
//!
//! Password-equivalent secrets are sealed with a [`ServerKey`] kept outside the database.

pub mod accounts;
mod error;
mod migrate;
mod secrets;
mod sqlite;

use std::path::Path;

use sip_proto::auth::Algorithm;

pub use accounts::User;
pub use error::{Result, StoreError};
pub use secrets::ServerKey;
pub use sqlite::SqliteStore;

use accounts::{DigestSecret, digest_context, normalize_user_uri};

/// The storage engine in use.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
}

impl Store {
    /// Opens (creating and migrating as needed) the embedded SQLite database at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Store> {
        Ok(Store::Sqlite(SqliteStore::open(path).await?))
    }

    /// Creates a user with a password. `realm` is the Digest realm the HA1 values are for.
    pub async fn add_user(
        &self,
        uri: &str,
        display_name: &str,
        password: &str,
        realm: &str,
        key: &ServerKey,
    ) -> Result<User> {
        let uri = normalize_user_uri(uri)?;
        let secrets = derive(&uri, password, realm, key).await?;
        match self {
            Store::Sqlite(s) => s.add_user(&uri, display_name, &secrets).await,
        }
    }

    /// Replaces a user's password (argon2 hash and every Digest HA1).
    pub async fn set_password(&self, uri: &str, password: &str, realm: &str, key: &ServerKey) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        let secrets = derive(&uri, password, realm, key).await?;
        match self {
            Store::Sqlite(s) => s.set_password(&uri, &secrets).await,
        }
    }

    pub async fn remove_user(&self, uri: &str) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        match self {
            Store::Sqlite(s) => s.remove_user(&uri).await,
        }
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        match self {
            Store::Sqlite(s) => s.users().await,
        }
    }

    pub async fn user(&self, uri: &str) -> Result<Option<User>> {
        let uri = normalize_user_uri(uri)?;
        match self {
            Store::Sqlite(s) => s.user(&uri).await,
        }
    }

    /// Checks a password against the stored argon2 hash (web login).
    pub async fn verify_password(&self, uri: &str, password: &str) -> Result<bool> {
        let uri = normalize_user_uri(uri)?;
        let phc = match self {
            Store::Sqlite(s) => s.password_phc(&uri).await?,
        };
        let Some(phc) = phc else { return Ok(false) };
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || accounts::verify_password(&phc, &password))
            .await
            .map_err(|e| StoreError::PasswordHash(e.to_string()))
    }

    /// The HA1 of `uri` for a Digest `username` and algorithm, opened with the server key.
    /// `None` when the account does not exist or has no secret for that form or realm.
    pub async fn digest_ha1(
        &self,
        uri: &str,
        algorithm: Algorithm,
        username: &str,
        realm: &str,
        key: &ServerKey,
    ) -> Result<Option<String>> {
        let uri = normalize_user_uri(uri)?;
        let secret: Option<DigestSecret> = match self {
            Store::Sqlite(s) => s.digest_secret(&uri, algorithm.base(), username).await?,
        };
        let Some(secret) = secret.filter(|s| s.realm == realm) else { return Ok(None) };
        let context = digest_context(&uri, secret.algorithm, username, realm);
        let plain = key.open(&context, &secret.sealed_ha1)?;
        String::from_utf8(plain).map(Some).map_err(|_| StoreError::Unseal)
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
        }
    }
}

async fn derive(uri: &str, password: &str, realm: &str, key: &ServerKey) -> Result<accounts::PasswordSecrets> {
    // Argon2 takes tens of milliseconds of CPU on purpose; keep it off the async workers.
    let (uri, password, realm) = (uri.to_owned(), password.to_owned(), realm.to_owned());
    let key = key.clone();
    tokio::task::spawn_blocking(move || accounts::derive_password_secrets(&uri, &password, &realm, &key))
        .await
        .map_err(|e| StoreError::PasswordHash(e.to_string()))?
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
