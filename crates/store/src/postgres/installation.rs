//! The installation row, the schema version, and what a backup needs, on PostgreSQL.

use std::path::Path;

use sqlx::Row;

use super::PgStore;
use crate::error::{Result, StoreError};
use crate::installation::{FileLocation, Installation};
use crate::rows;

impl PgStore {
    pub async fn installation(&self) -> Result<Option<Installation>> {
        let row = sqlx::query(rows::INSTALLATION)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(rows::installation))
    }

    /// Records the identity unless one is recorded already, and returns the one in force:
    /// servers starting at once on one database cannot record two.
    pub async fn record_installation(
        &self,
        domain: &str,
        key_check: &[u8],
    ) -> Result<Installation> {
        sqlx::query(
            "INSERT INTO installation (id, domain, key_check, created_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(domain)
        .bind(key_check)
        .bind(crate::now())
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(rows::INSTALLATION)
            .fetch_one(&self.pool)
            .await?;
        Ok(rows::installation(&row))
    }

    pub async fn set_domain(&self, domain: &str) -> Result<()> {
        let changed = sqlx::query("UPDATE installation SET domain = $1 WHERE id = 1")
            .bind(domain)
            .execute(&self.pool)
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
        .fetch_one(&self.pool)
        .await?)
    }

    /// The newest schema version applied.
    pub async fn schema_version(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// A PostgreSQL database is not copied into a file by Parlance: the database server has
    /// its own consistent, online backups (`pg_dump`, base backups), which an operator of
    /// PostgreSQL already runs.
    pub async fn snapshot_into(&self, _path: &Path) -> Result<()> {
        Err(StoreError::NoSnapshot)
    }

    /// Every complete file, as the file store names it.
    pub async fn complete_files(&self) -> Result<Vec<FileLocation>> {
        let rows = sqlx::query(
            "SELECT r.guid, f.name FROM files f JOIN rooms r ON r.id = f.room_id \
             WHERE f.state = 'complete' ORDER BY f.id",
        )
        .fetch_all(&self.pool)
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
