//! Files posted into rooms and the tokens that move them: the types every engine stores,
//! and the [`Store`] methods that store them.
//! The bytes are not here but in the file store (crate `parlance-files`); these records say
//! which files exist, whose they are, and who may move which one.
//!
//! Times are Unix nanoseconds on the server's clock, passed in by the caller, so that tests
//! can move time.

use crate::Store;
use crate::error::Result;

/// Which way a token moves a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `cmd:getfutok`: into a room.
    Upload,
    /// `cmd:getfdtok`: out of a room.
    Download,
}

text_enum!(Direction { Upload = "upload", Download = "download" });

/// A file-transfer token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileToken {
    /// A random GUID, lower-case: the secret the client presents.
    pub token: String,
    pub principal_id: i64,
    pub room_id: i64,
    pub direction: Direction,
    /// `ftdb@fileUrl` as the client asked: the original file name (upload), the repository
    /// name or link (download).
    pub file_url: String,
    /// Upload: the file once its name is reserved. Download: the file it reads.
    pub file_id: Option<i64>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// A token whose upload completed, or whose file was removed, serves no more.
    pub spent: bool,
    /// A download token whose FILEDOWNLOAD compliance row is written.
    pub download_recorded: bool,
}

/// A token to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFileToken<'a> {
    pub principal_id: i64,
    pub room_id: i64,
    pub direction: Direction,
    pub file_url: &'a str,
    /// The file a download token reads; `None` for an upload token.
    pub file_id: Option<i64>,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// Whether a file's bytes are all there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileState {
    /// Chunks are arriving; only the uploader's token knows the file.
    Uploading,
    /// Stored whole; it can be linked from messages and downloaded.
    Complete,
}

text_enum!(FileState { Uploading = "uploading", Complete = "complete" });

/// A file of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub id: i64,
    pub room_id: i64,
    /// The repository name, `<GUID>.<ext>` or `<GUID>`: chosen by the server, unique in
    /// the room, the blob's name in the file store.
    pub name: String,
    /// The name the uploader's client gave the file (`ftdb@fileUrl`).
    pub original_name: String,
    pub uploader_id: i64,
    /// Complete: the file's size in bytes. Uploading: the length the uploader declared
    /// (0 until it declares one), which counts toward the room's quota meanwhile.
    pub size: u64,
    pub state: FileState,
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

impl Store {
    /// Issues a file-transfer token with a fresh random GUID, refused with
    /// [`StoreError::TooMany`] when the principal already holds `max_live` live tokens.
    ///
    /// [`StoreError::TooMany`]: crate::StoreError::TooMany
    pub async fn issue_file_token(
        &self,
        new: &NewFileToken<'_>,
        max_live: u32,
    ) -> Result<FileToken> {
        engine!(self, s => s.issue_file_token(new, max_live).await)
    }

    /// How many tokens the principal holds that are neither expired at `now` nor spent.
    pub async fn live_file_tokens(&self, principal_id: i64, now: i64) -> Result<u64> {
        engine!(self, s => s.live_file_tokens(principal_id, now).await)
    }

    pub async fn file_token(&self, token: &str) -> Result<Option<FileToken>> {
        engine!(self, s => s.file_token(token).await)
    }

    /// The file of an upload token: the one it reserved before, or a new upload in progress
    /// named `name`. [`StoreError::NotFound`] unless the token is an unspent upload token.
    ///
    /// [`StoreError::NotFound`]: crate::StoreError::NotFound
    pub async fn reserve_upload(&self, token: &str, name: &str, at: i64) -> Result<StoredFile> {
        engine!(self, s => s.reserve_upload(token, name, at).await)
    }

    /// Records the declared length of the upload in progress of `token`, refused with
    /// [`StoreError::QuotaExceeded`] when the room's files would take more than `room_quota`.
    ///
    /// [`StoreError::QuotaExceeded`]: crate::StoreError::QuotaExceeded
    pub async fn declare_upload_length(
        &self,
        token: &str,
        file_id: i64,
        length: u64,
        room_quota: u64,
    ) -> Result<()> {
        engine!(self, s => s.declare_upload_length(token, file_id, length, room_quota).await)
    }

    /// The file becomes complete, the token spent and the FILEUPLOAD row written: all or none.
    pub async fn complete_upload(
        &self,
        token: &str,
        file_id: i64,
        size: u64,
        at: i64,
    ) -> Result<StoredFile> {
        engine!(self, s => s.complete_upload(token, file_id, size, at).await)
    }

    /// Forgets an upload in progress; its token may reserve a name again.
    pub async fn abandon_upload(&self, file_id: i64) -> Result<bool> {
        engine!(self, s => s.abandon_upload(file_id).await)
    }

    /// The FILEDOWNLOAD row of a download token, at most once per token; whether written now.
    pub async fn record_download(&self, token: &str, at: i64) -> Result<bool> {
        engine!(self, s => s.record_download(token, at).await)
    }

    pub async fn file(&self, file_id: i64) -> Result<Option<StoredFile>> {
        engine!(self, s => s.file(file_id).await)
    }

    /// A room's file by repository name.
    pub async fn room_file(&self, room_id: i64, name: &str) -> Result<Option<StoredFile>> {
        engine!(self, s => s.room_file(room_id, name).await)
    }

    /// A room's files, uploads in progress included, oldest first.
    pub async fn room_files(&self, room_id: i64) -> Result<Vec<StoredFile>> {
        engine!(self, s => s.room_files(room_id).await)
    }

    /// The bytes a room's files take: complete sizes and declared lengths of uploads.
    pub async fn room_file_bytes(&self, room_id: i64) -> Result<u64> {
        engine!(self, s => s.room_file_bytes(room_id).await)
    }

    /// How many files a room holds, uploads in progress included.
    pub async fn room_file_count(&self, room_id: i64) -> Result<u64> {
        engine!(self, s => s.room_file_count(room_id).await)
    }

    /// Whether a message of the file's room links the file.
    pub async fn file_linked(&self, file_id: i64) -> Result<bool> {
        engine!(self, s => s.file_linked(file_id).await)
    }

    /// Uploads in progress whose tokens are all expired at `now`.
    pub async fn expired_uploads(&self, now: i64) -> Result<Vec<StoredFile>> {
        engine!(self, s => s.expired_uploads(now).await)
    }

    /// Removes every upload in progress (at start: their partial blobs did not survive).
    pub async fn delete_unfinished_uploads(&self) -> Result<u64> {
        engine!(self, s => s.delete_unfinished_uploads().await)
    }

    /// Removes a file's row and its links; tokens that named it serve no more.
    pub async fn remove_file(&self, file_id: i64) -> Result<bool> {
        engine!(self, s => s.remove_file(file_id).await)
    }

    /// Deletes tokens expired at `now` that hold no upload in progress.
    pub async fn prune_file_tokens(&self, now: i64) -> Result<u64> {
        engine!(self, s => s.prune_file_tokens(now).await)
    }
}
