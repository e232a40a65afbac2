//! File posting (docs/protocol.md, "File transfer over HTTPS"): the rules of file-transfer
//! tokens, of the files they move and of what a `ma-filelink:` link (read by `xccos`)
//! grants. The chat commands issue tokens (`cmd:getfutok`, `cmd:getfdtok`); the web service
//! (crate `parlance-web`) holds a [`Transfers`] and starts every SOAP operation and plain
//! API request with [`Transfers::authorize`]. Who may post or read in a room is asked of
//! `permissions.rs`, as everywhere; the bytes themselves are the file store's.

mod names;
mod transfers;

use std::time::Duration;

pub use names::extension_of;
pub(crate) use names::is_original_name;
pub use parlance_store::files::{Direction, FileState, FileToken, StoredFile};
pub use transfers::{CheckedGrant, FileRefusal, Grant, Transfers};

/// The file service's settings. `ChatSettings::files` is `None` when the HTTPS listener is
/// off: then there is no service to hand tokens for, and `cmd:getfutok`/`cmd:getfdtok` are
/// answered `501`.
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// The absolute URL of `MGCWebService.asmx`, sent to clients as `serveruri`.
    pub service_url: String,
    /// How long a token serves after it is issued.
    pub token_lifetime: Duration,
    /// The largest file, in bytes.
    pub max_file_bytes: u64,
    /// What one room's files may take in all, in bytes (uploads in progress count their
    /// declared length).
    pub room_quota_bytes: u64,
    /// The largest chunk of one `AppendChunk` or `DownloadChunk`, in decoded bytes.
    pub max_chunk_bytes: usize,
    /// Live (unexpired, unspent) tokens one principal may hold at once.
    pub max_tokens_per_user: u32,
    /// Files one room may hold, uploads in progress included: the byte quota alone would let
    /// empty files pile up without bound.
    pub max_files_per_room: u64,
}
