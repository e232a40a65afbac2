//! File records, file-transfer tokens and message links on SQLite. What must hold together
//! is one transaction: a completed upload, its spent token and its FILEUPLOAD row; a
//! download's first chunk and its FILEDOWNLOAD row; a token and the count it is checked
//! against; a declared length and the room quota.

use sqlx::{Row, Sqlite, SqliteConnection, Transaction};

use super::SqliteStore;
use super::history::outbox;
use crate::engine::{foreign_key_as_not_found, size_column};
use crate::error::{Result, StoreError};
use crate::files::{Direction, FileToken, NewFileToken, StoredFile};
use crate::history::ComplianceKind;
use crate::rows;

pub(super) const FILE_COLUMNS: &str =
    "id, room_id, name, original_name, uploader_id, size, state, created_at, completed_at";
const TOKEN_COLUMNS: &str = "token, principal_id, room_id, direction, file_url, file_id, \
     issued_at, expires_at, spent, download_recorded";

impl SqliteStore {
    /// Issues a token with a fresh random GUID, unless the principal already holds
    /// `max_live` live ones ([`StoreError::TooMany`]); the count and the insert are one
    /// transaction, so concurrent requests cannot pass the limit together.
    pub async fn issue_file_token(
        &self,
        new: &NewFileToken<'_>,
        max_live: u32,
    ) -> Result<FileToken> {
        let mut tx = self.begin_write().await?;
        let live = count_live_tokens(&mut tx, new.principal_id, new.issued_at).await?;
        if live >= u64::from(max_live) {
            return Err(StoreError::TooMany {
                what: "file tokens",
                limit: u64::from(max_live),
            });
        }
        let token = crate::new_guid();
        sqlx::query(
            "INSERT INTO file_tokens (token, principal_id, room_id, direction, file_url, file_id, issued_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&token)
        .bind(new.principal_id)
        .bind(new.room_id)
        .bind(new.direction.as_str())
        .bind(new.file_url)
        .bind(new.file_id)
        .bind(new.issued_at)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| foreign_key_as_not_found(e, "principal, room or file"))?;
        tx.commit().await?;
        Ok(FileToken {
            token,
            principal_id: new.principal_id,
            room_id: new.room_id,
            direction: new.direction,
            file_url: new.file_url.to_owned(),
            file_id: new.file_id,
            issued_at: new.issued_at,
            expires_at: new.expires_at,
            spent: false,
            download_recorded: false,
        })
    }

    /// How many tokens the principal holds that are neither expired at `now` nor spent.
    pub async fn live_file_tokens(&self, principal_id: i64, now: i64) -> Result<u64> {
        let mut conn = self.reads.acquire().await?;
        count_live_tokens(&mut conn, principal_id, now).await
    }

    pub async fn file_token(&self, token: &str) -> Result<Option<FileToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM file_tokens WHERE token = ?");
        let row = sqlx::query(&sql)
            .bind(token)
            .fetch_optional(&self.reads)
            .await?;
        row.as_ref().map(rows::token).transpose()
    }

    /// The file of an upload token: the one reserved before, or a new `uploading` row named
    /// `name` (the token's `file_url` as its original name), tied to the token. Asking
    /// twice gives the first name.
    pub async fn reserve_upload(&self, token: &str, name: &str, at: i64) -> Result<StoredFile> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM file_tokens WHERE token = ?");
        let found = sqlx::query(&sql)
            .bind(token)
            .fetch_optional(&mut *tx)
            .await?;
        let token = found
            .as_ref()
            .map(rows::token)
            .transpose()?
            .filter(|t| t.direction == Direction::Upload && !t.spent)
            .ok_or_else(|| StoreError::NotFound("upload token".into()))?;
        if let Some(id) = token.file_id {
            return file_by_id(&mut tx, id)
                .await?
                .ok_or_else(|| StoreError::NotFound("file".into()));
        }
        let sql = format!(
            "INSERT INTO files (room_id, name, original_name, uploader_id, state, created_at) \
             VALUES (?, ?, ?, ?, 'uploading', ?) RETURNING {FILE_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(token.room_id)
            .bind(name)
            .bind(&token.file_url)
            .bind(token.principal_id)
            .bind(at)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    StoreError::Duplicate(name.to_owned())
                }
                other => other.into(),
            })?;
        let file = rows::file(&row)?;
        sqlx::query("UPDATE file_tokens SET file_id = ? WHERE token = ?")
            .bind(file.id)
            .bind(&token.token)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(file)
    }

    /// Records the length an uploader declared for the upload in progress of `token`,
    /// refused with [`StoreError::QuotaExceeded`] when the room's files (complete, and the
    /// declared lengths of the other uploads in progress) would then take more than
    /// `room_quota`, and with [`StoreError::NotFound`] when `file_id` is not that upload.
    pub async fn declare_upload_length(
        &self,
        token: &str,
        file_id: i64,
        length: u64,
        room_quota: u64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let room_id: i64 = sqlx::query_scalar(
            "SELECT f.room_id FROM files f JOIN file_tokens t ON t.file_id = f.id \
             WHERE t.token = ? AND f.id = ? AND f.state = 'uploading' AND t.spent = 0",
        )
        .bind(token)
        .bind(file_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound("upload".into()))?;
        let others: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(size), 0) FROM files WHERE room_id = ? AND id <> ?",
        )
        .bind(room_id)
        .bind(file_id)
        .fetch_one(&mut *tx)
        .await?;
        if (others as u64).saturating_add(length) > room_quota {
            return Err(StoreError::QuotaExceeded {
                what: "the room's files",
                limit: room_quota,
            });
        }
        sqlx::query("UPDATE files SET size = ? WHERE id = ?")
            .bind(size_column(length)?)
            .bind(file_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Completes an upload in one transaction: the file becomes `complete` with its size,
    /// the token is spent, and the FILEUPLOAD compliance row (the repository name as its
    /// content) is written. [`StoreError::NotFound`] when the token is not the live upload
    /// token of that file in progress.
    pub async fn complete_upload(
        &self,
        token: &str,
        file_id: i64,
        size: u64,
        at: i64,
    ) -> Result<StoredFile> {
        let mut tx = self.begin_write().await?;
        let spent = sqlx::query(
            "UPDATE file_tokens SET spent = 1 \
             WHERE token = ? AND file_id = ? AND direction = 'upload' AND spent = 0",
        )
        .bind(token)
        .bind(file_id)
        .execute(&mut *tx)
        .await?;
        if spent.rows_affected() == 0 {
            return Err(StoreError::NotFound("upload token".into()));
        }
        let sql = format!(
            "UPDATE files SET state = 'complete', size = ?, completed_at = ? \
             WHERE id = ? AND state = 'uploading' RETURNING {FILE_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(size_column(size)?)
            .bind(at)
            .bind(file_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound("upload".into()))?;
        let file = rows::file(&row)?;
        outbox(
            &mut tx,
            ComplianceKind::FileUpload,
            file.room_id,
            file.uploader_id,
            None,
            &file.name,
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(file)
    }

    /// Forgets an upload in progress: its row goes and its token has no file, so that the
    /// token can reserve a name again. False when there is no such upload (a complete file
    /// is never abandoned).
    pub async fn abandon_upload(&self, file_id: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let uploading: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM files WHERE id = ? AND state = 'uploading')",
        )
        .bind(file_id)
        .fetch_one(&mut *tx)
        .await?;
        if !uploading {
            return Ok(false);
        }
        sqlx::query("UPDATE file_tokens SET file_id = NULL WHERE file_id = ?")
            .bind(file_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM files WHERE id = ?")
            .bind(file_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Writes the FILEDOWNLOAD compliance row of a download token (the repository name as
    /// its content) and marks the token, in one transaction; at most once per token.
    /// Returns whether it was written now.
    pub async fn record_download(&self, token: &str, at: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let marked = sqlx::query(
            "UPDATE file_tokens SET download_recorded = 1 \
             WHERE token = ? AND direction = 'download' AND download_recorded = 0 AND file_id IS NOT NULL \
             RETURNING principal_id, file_id",
        )
        .bind(token)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(marked) = marked else {
            return Ok(false);
        };
        let file = file_by_id(&mut tx, marked.get("file_id"))
            .await?
            .ok_or_else(|| StoreError::NotFound("file".into()))?;
        outbox(
            &mut tx,
            ComplianceKind::FileDownload,
            file.room_id,
            marked.get("principal_id"),
            None,
            &file.name,
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn file(&self, file_id: i64) -> Result<Option<StoredFile>> {
        let mut conn = self.reads.acquire().await?;
        file_by_id(&mut conn, file_id).await
    }

    /// A room's file by repository name.
    pub async fn room_file(&self, room_id: i64, name: &str) -> Result<Option<StoredFile>> {
        let mut conn = self.reads.acquire().await?;
        file_where(&mut conn, "room_id = ? AND name = ?", room_id, Some(name)).await
    }

    /// A room's files, uploads in progress included, oldest first.
    pub async fn room_files(&self, room_id: i64) -> Result<Vec<StoredFile>> {
        let sql =
            format!("SELECT {FILE_COLUMNS} FROM files WHERE room_id = ? ORDER BY created_at, id");
        sqlx::query(&sql)
            .bind(room_id)
            .fetch_all(&self.reads)
            .await?
            .iter()
            .map(rows::file)
            .collect()
    }

    /// The bytes a room's files take: complete sizes, and the declared lengths of uploads
    /// in progress.
    pub async fn room_file_bytes(&self, room_id: i64) -> Result<u64> {
        let bytes: i64 =
            sqlx::query_scalar("SELECT COALESCE(SUM(size), 0) FROM files WHERE room_id = ?")
                .bind(room_id)
                .fetch_one(&self.reads)
                .await?;
        Ok(bytes as u64)
    }

    /// How many files a room holds, uploads in progress included.
    pub async fn room_file_count(&self, room_id: i64) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM files WHERE room_id = ?")
            .bind(room_id)
            .fetch_one(&self.reads)
            .await?;
        Ok(count as u64)
    }

    /// Whether a message of the file's room links the file.
    pub async fn file_linked(&self, file_id: i64) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM message_files mf JOIN files f ON f.id = mf.file_id \
             WHERE mf.file_id = ? AND mf.room_id = f.room_id)",
        )
        .bind(file_id)
        .fetch_one(&self.reads)
        .await?)
    }

    /// Uploads in progress that no token live at `now` can finish: their tokens expired.
    pub async fn expired_uploads(&self, now: i64) -> Result<Vec<StoredFile>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files f WHERE state = 'uploading' AND NOT EXISTS \
             (SELECT 1 FROM file_tokens t WHERE t.file_id = f.id AND t.expires_at > ?) \
             ORDER BY id"
        );
        sqlx::query(&sql)
            .bind(now)
            .fetch_all(&self.reads)
            .await?
            .iter()
            .map(rows::file)
            .collect()
    }

    /// Removes every upload in progress (their tokens keep no file); returns how many.
    pub async fn delete_unfinished_uploads(&self) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE file_tokens SET file_id = NULL \
             WHERE file_id IN (SELECT id FROM files WHERE state = 'uploading')",
        )
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM files WHERE state = 'uploading'")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }

    /// Removes a file's row and the links to it; the tokens that named it are spent and
    /// name no file. False when there was no such file.
    pub async fn remove_file(&self, file_id: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let removed = delete_file_rows(&mut tx, file_id).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Deletes the tokens expired at `now`, except those still holding an upload in
    /// progress: [`SqliteStore::expired_uploads`] finds those until the upload is abandoned.
    /// Returns how many went.
    pub async fn prune_file_tokens(&self, now: i64) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM file_tokens WHERE expires_at <= ? AND (file_id IS NULL \
             OR file_id NOT IN (SELECT id FROM files WHERE state = 'uploading'))",
        )
        .bind(now)
        .execute(&self.writes)
        .await?
        .rows_affected())
    }
}

/// Deletes a file's row and its links, and spends the tokens that named it.
pub(super) async fn delete_file_rows(
    tx: &mut Transaction<'_, Sqlite>,
    file_id: i64,
) -> Result<bool> {
    sqlx::query("UPDATE file_tokens SET file_id = NULL, spent = 1 WHERE file_id = ?")
        .bind(file_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM message_files WHERE file_id = ?")
        .bind(file_id)
        .execute(&mut **tx)
        .await?;
    let removed = sqlx::query("DELETE FROM files WHERE id = ?")
        .bind(file_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(removed > 0)
}

/// Links a stored message to the files it names (repository names) that are complete
/// files of its room, inside the message's transaction; other names link nothing.
pub(super) async fn link_files(
    tx: &mut Transaction<'_, Sqlite>,
    room_id: i64,
    seq: i64,
    names: &[&str],
) -> Result<()> {
    for name in names {
        sqlx::query(
            "INSERT OR IGNORE INTO message_files (room_id, seq, file_id) \
             SELECT room_id, ?, id FROM files WHERE room_id = ? AND name = ? AND state = 'complete'",
        )
        .bind(seq)
        .bind(room_id)
        .bind(name)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn count_live_tokens(
    conn: &mut SqliteConnection,
    principal_id: i64,
    now: i64,
) -> Result<u64> {
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM file_tokens WHERE principal_id = ? AND expires_at > ? AND spent = 0",
    )
    .bind(principal_id)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(live as u64)
}

async fn file_by_id(conn: &mut SqliteConnection, id: i64) -> Result<Option<StoredFile>> {
    file_where(conn, "id = ?", id, None).await
}

/// One file matching `condition`, whose placeholders take `key` then `name`.
async fn file_where(
    conn: &mut SqliteConnection,
    condition: &str,
    key: i64,
    name: Option<&str>,
) -> Result<Option<StoredFile>> {
    let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE {condition}");
    let mut query = sqlx::query(&sql).bind(key);
    if let Some(name) = name {
        query = query.bind(name);
    }
    query
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(rows::file)
        .transpose()
}
