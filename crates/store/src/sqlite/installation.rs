//! The installation row, the schema version, and the consistent snapshot a backup takes.

use std::path::Path;

use sqlx::Row;

use super::SqliteStore;
use crate::error::{Result, StoreError};
use crate::installation::{FileLocation, Installation};
use crate::rows;

impl SqliteStore {
    pub async fn installation(&self) -> Result<Option<Installation>> {
        let row = sqlx::query(rows::INSTALLATION)
            .fetch_optional(&self.reads)
            .await?;
        Ok(row.as_ref().map(rows::installation))
    }

    /// Records the identity unless one is recorded already, and returns the one in force:
    /// two processes starting at once cannot record two.
    pub async fn record_installation(
        &self,
        domain: &str,
        key_check: &[u8],
    ) -> Result<Installation> {
        sqlx::query(
            "INSERT INTO installation (id, domain, key_check, created_at) VALUES (1, ?, ?, ?) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(domain)
        .bind(key_check)
        .bind(crate::now())
        .execute(&self.writes)
        .await?;
        // On the writer: a reader might not see the row just written by another process yet.
        let row = sqlx::query(rows::INSTALLATION)
            .fetch_one(&self.writes)
            .await?;
        Ok(rows::installation(&row))
    }

    pub async fn set_domain(&self, domain: &str) -> Result<()> {
        let changed = sqlx::query("UPDATE installation SET domain = ? WHERE id = 1")
            .bind(domain)
            .execute(&self.writes)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("the installation record".into()));
        }
        Ok(())
    }

    /// Whether anything is sealed under the server key: password secrets or stored files.
    pub async fn holds_sealed_data(&self) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM digest_secrets) OR EXISTS (SELECT 1 FROM ntlm_secrets) \
             OR EXISTS (SELECT 1 FROM files)",
        )
        .fetch_one(&self.reads)
        .await?)
    }

    /// The newest schema version applied.
    pub async fn schema_version(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&self.reads)
        .await?)
    }

    /// Writes a consistent copy of the whole database to `path` (which must not exist).
    /// It runs as one read transaction on a reader: in WAL mode the writer goes on, and the
    /// copy is the database as of the moment it began.
    pub async fn snapshot_into(&self, path: &Path) -> Result<()> {
        let path = path.to_str().ok_or_else(|| StoreError::Invalid {
            what: "snapshot path",
            why: format!("{} is not UTF-8", path.display()),
        })?;
        sqlx::query("VACUUM INTO ?")
            .bind(path)
            .execute(&self.reads)
            .await?;
        Ok(())
    }

    /// Every complete file, as the file store names it.
    pub async fn complete_files(&self) -> Result<Vec<FileLocation>> {
        let rows = sqlx::query(
            "SELECT r.guid, f.name FROM files f JOIN rooms r ON r.id = f.room_id \
             WHERE f.state = 'complete' ORDER BY f.id",
        )
        .fetch_all(&self.reads)
        .await?;
        Ok(rows
            .iter()
            .map(|r| FileLocation {
                room_guid: r.get("guid"),
                name: r.get("name"),
            })
            .collect())
    }
}
