//! The installation's identity, as every engine stores it: the domain it serves and a check
//! value of its server key, recorded at the first start. Starting with another domain or
//! another key is refused by the server before anything else runs.

use std::path::Path;

use crate::Store;
use crate::error::Result;

/// The recorded identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub domain: String,
    /// [`ServerKey::check_value`](crate::ServerKey::check_value) of the key the secrets are
    /// sealed under.
    pub key_check: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A complete file as the file store names it: `<room GUID>/<repository name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLocation {
    pub room_guid: String,
    pub name: String,
}

impl Store {
    /// The recorded identity of the installation, if one is recorded.
    pub async fn installation(&self) -> Result<Option<Installation>> {
        engine!(self, s => s.installation().await)
    }

    /// Records the identity unless one is recorded, and returns the one in force.
    pub async fn record_installation(
        &self,
        domain: &str,
        key_check: &[u8],
    ) -> Result<Installation> {
        engine!(self, s => s.record_installation(domain, key_check).await)
    }

    /// Changes the recorded domain; [`StoreError::NotFound`] when none is recorded.
    ///
    /// [`StoreError::NotFound`]: crate::StoreError::NotFound
    pub async fn set_domain(&self, domain: &str) -> Result<()> {
        engine!(self, s => s.set_domain(domain).await)
    }

    /// Whether anything in the database is sealed under the server key (password secrets,
    /// stored files): then a new key would lose it all.
    pub async fn holds_sealed_data(&self) -> Result<bool> {
        engine!(self, s => s.holds_sealed_data().await)
    }

    /// Writes a consistent copy of the whole database to `path`, which must not exist,
    /// while the server goes on writing.
    pub async fn snapshot_into(&self, path: &Path) -> Result<()> {
        engine!(self, s => s.snapshot_into(path).await)
    }

    /// Every complete file, as the file store names it.
    pub async fn complete_files(&self) -> Result<Vec<FileLocation>> {
        engine!(self, s => s.complete_files().await)
    }
}
