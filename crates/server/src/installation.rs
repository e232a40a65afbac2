//! The data directory as one installation: who may create it, the lock a running server
//! holds on it, and the identity (domain, server key) every command checks before it
//! touches the database (docs/operations.md).
//!
//! Only `serve` and `init` create an installation, and only they and `migrate` change the
//! schema. Every other command opens what is there at this build's schema or refuses:
//! a mistyped `--data-dir` must not become a new empty installation, and an upgrade must
//! not migrate the database under a running older server.

use std::path::{Path, PathBuf};

use parlance_store::{Installation, LockFile, ServerKey, Store, StoreError, StoreUrl};

use crate::config::Config;

/// What a command may do to the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `serve`, `init`: create the directory and database when missing, migrate, and
    /// record the identity at the first start.
    Create,
    /// `migrate`: the installation must exist; its schema is brought to this build's.
    Migrate,
    /// Every other command: the installation must exist at this build's schema, with its
    /// identity recorded; nothing is created or migrated.
    Existing,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallationError {
    #[error(
        "no Parlance installation in {path}: run `parlance init` (or `parlance serve`) to create one there, or give the right --data-dir or data_dir"
    )]
    Missing { path: PathBuf },
    #[error(
        "the installation in {path} has not been started by this version yet: run `parlance init` or `parlance serve` once"
    )]
    NotRecorded { path: PathBuf },
    #[error("cannot create the data directory {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot take the lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another Parlance process{} holds {lock}: a server is running on this data directory", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked { lock: PathBuf, pid: Option<u32> },
    #[error(
        "this installation serves the domain {recorded}, but {configured} is configured: correct `domain` (or --domain), or change the installation's domain with `parlance domain set {configured}`"
    )]
    Domain {
        recorded: String,
        configured: String,
    },
    #[error(
        "the server key {path} is missing, but the database holds passwords and files sealed under it: restore server.key from the backup of this installation into {dir} (a new key would make every sign-in fail)"
    )]
    KeyMissing { path: PathBuf, dir: PathBuf },
    #[error(
        "the server key {path} is not the key this installation's passwords and files are sealed under: restore the server.key that belongs to this database (from its backup)"
    )]
    KeyWrong { path: PathBuf },
    #[error(
        "the database {path} has schema {found}, older than this build's {known}: stop the server and run `parlance migrate`"
    )]
    SchemaTooOld {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "the database {path} was written by a newer Parlance (schema {found}, this build knows {known}): run that version, or restore a backup taken by this one"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(transparent)]
    Store(StoreError),
}

impl InstallationError {
    fn store(path: &Path) -> impl FnOnce(StoreError) -> InstallationError + '_ {
        move |e| match e {
            StoreError::SchemaTooOld { found, known } => InstallationError::SchemaTooOld {
                path: path.to_owned(),
                found,
                known,
            },
            StoreError::SchemaTooNew { found, known } => InstallationError::SchemaTooNew {
                path: path.to_owned(),
                found,
                known,
            },
            e => InstallationError::Store(e),
        }
    }
}

/// Creates the data directory (owner only, whatever the umask: it holds the server key
/// and every user's sealed secrets) when missing.
pub fn create_dir(config: &Config) -> Result<(), InstallationError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|source| InstallationError::Create {
            path: dir.clone(),
            source,
        })
}

/// Takes the data directory's lock for the life of a server (or of a command that must not
/// run beside one), recording this process's id in it. The directory must exist.
pub fn lock(config: &Config) -> Result<LockFile, InstallationError> {
    let path = config.lock_path();
    let io = |source| InstallationError::Lock {
        path: path.clone(),
        source,
    };
    match LockFile::try_take(&path).map_err(io)? {
        Some(mut lock) => {
            lock.record_pid().map_err(io)?;
            Ok(lock)
        }
        None => Err(InstallationError::Locked {
            pid: LockFile::holder(&path),
            lock: path,
        }),
    }
}

/// Whether an installation exists: its SQLite database, or, with a PostgreSQL store
/// (`store.url`), the data directory that holds its server key (the database says the rest
/// when it is opened: an empty one has no schema yet).
pub fn exists(config: &Config) -> bool {
    match StoreUrl::parse(&config.store_url()) {
        Ok(StoreUrl::Sqlite(path)) => path.is_file(),
        Ok(StoreUrl::Postgres(_)) => config.data_dir.is_dir(),
        // Opening it names what is wrong with the URL.
        Err(_) => true,
    }
}

/// The store as errors name it: the SQLite file, or the PostgreSQL URL without its password.
fn store_name(url: &str) -> PathBuf {
    match StoreUrl::parse(url) {
        Ok(StoreUrl::Sqlite(path)) => path,
        _ => PathBuf::from(without_password(url)),
    }
}

/// `postgres://user:secret@host/db` as `postgres://user:…@host/db`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:…{}", &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Opens the installation's store and server key as `access` allows, and checks its
/// identity against `config`.
pub async fn open(
    config: &Config,
    access: Access,
) -> Result<(Store, ServerKey), InstallationError> {
    let (store, key, installation) = open_unchecked(config, access).await?;
    if installation.domain != config.domain {
        store.close().await;
        return Err(InstallationError::Domain {
            recorded: installation.domain,
            configured: config.domain.clone(),
        });
    }
    Ok((store, key))
}

/// Opens an existing installation whatever domain `config` names, and returns its recorded
/// identity: for the command that changes the domain.
pub async fn open_any_domain(
    config: &Config,
) -> Result<(Store, ServerKey, Installation), InstallationError> {
    open_unchecked(config, Access::Existing).await
}

async fn open_unchecked(
    config: &Config,
    access: Access,
) -> Result<(Store, ServerKey, Installation), InstallationError> {
    let url = config.store_url();
    let db = store_name(&url);
    if access == Access::Create {
        create_dir(config)?;
    } else if !exists(config) {
        return Err(InstallationError::Missing {
            path: config.data_dir.clone(),
        });
    }
    // A database without any schema (an empty PostgreSQL database) is no installation yet:
    // only `serve` and `init` make one there, as in an empty data directory.
    let missing = || InstallationError::Missing {
        path: config.data_dir.clone(),
    };
    let store = match access {
        Access::Create => Store::open(&url).await,
        Access::Migrate => match Store::open_existing(&url).await {
            Err(StoreError::SchemaTooOld { found: 0, .. }) => return Err(missing()),
            Err(StoreError::SchemaTooOld { .. }) => Store::open(&url).await,
            opened => opened,
        },
        Access::Existing => Store::open_existing(&url).await,
    }
    .map_err(|e| match e {
        StoreError::SchemaTooOld { found: 0, .. } => missing(),
        e => InstallationError::store(&db)(e),
    })?;
    match identify(config, access, &store).await {
        Ok((key, installation)) => Ok((store, key, installation)),
        Err(e) => {
            store.close().await;
            Err(e)
        }
    }
}

/// The server key, checked against the recorded identity; at the first start of a build
/// that records one, the key (made when there is none and nothing is sealed yet) and the
/// configured domain are recorded.
async fn identify(
    config: &Config,
    access: Access,
    store: &Store,
) -> Result<(ServerKey, Installation), InstallationError> {
    let path = config.server_key_path();
    let missing = || InstallationError::KeyMissing {
        path: path.clone(),
        dir: config.data_dir.clone(),
    };
    let store_error = InstallationError::Store;
    match store.installation().await.map_err(store_error)? {
        Some(installation) => {
            if !path.exists() {
                return Err(missing());
            }
            let key = ServerKey::load(&path).map_err(|e| match e {
                StoreError::Key(_) => InstallationError::KeyWrong { path: path.clone() },
                e => store_error(e),
            })?;
            if key.check_value()[..] != installation.key_check[..] {
                return Err(InstallationError::KeyWrong { path });
            }
            Ok((key, installation))
        }
        None if access == Access::Existing => Err(InstallationError::NotRecorded {
            path: config.data_dir.clone(),
        }),
        None => {
            if !path.exists() && store.holds_sealed_data().await.map_err(store_error)? {
                return Err(missing());
            }
            let key = ServerKey::load_or_create(&path).map_err(store_error)?;
            let installation = store
                .record_installation(&config.domain, &key.check_value())
                .await
                .map_err(store_error)?;
            tracing::info!(domain = %installation.domain, data_dir = %config.data_dir.display(), "installation identity recorded");
            Ok((key, installation))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn a_store_url_is_named_without_its_password() {
        let cases = [
            (
                "postgres://parlance:s3cret@db/chat",
                "postgres://parlance:…@db/chat",
            ),
            ("postgres://parlance@db/chat", "postgres://parlance@db/chat"),
            ("postgresql://db/chat?user=a", "postgresql://db/chat?user=a"),
            ("postgres://u:p@ss@db/x", "postgres://u:…@db/x"),
        ];
        for (url, shown) in cases {
            assert_eq!(without_password(url), shown, "{url}");
        }
    }
}
