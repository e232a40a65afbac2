//! Files posted into rooms and the tokens that move them: the types every engine stores.
//! The bytes are not here but in the file store (crate `parlance-files`); these records say
//! which files exist, whose they are, and who may move which one.
//!
//! Times are Unix nanoseconds on the server's clock, passed in by the caller, so that tests
//! can move time.

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
