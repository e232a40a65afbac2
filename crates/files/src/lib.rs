//! The file store: the files posted into chat rooms, encrypted at rest.
//!
//! [`FileStore`] is an enum over where the files live: a local directory now, a store shared
//! by a server pool later, behind the same methods. A file is written through an [`Upload`]
//! and becomes visible whole, under its final name, only when the upload finishes; it is
//! read through a [`Blob`], in any ranges. Both hold one segment in memory, whatever the
//! size of the file.
//!
//! Files are named by the room's GUID (lower-case, hyphenated) and the server-chosen
//! repository name (`<GUID>` or `<GUID>.<ext>`, the extension 1–16 lower-case ASCII letters
//! or digits). The store refuses any other name with [`FileError::InvalidName`] before it
//! touches the disk, so no caller can turn client input into a path.
//!
//! # Blob format, version 2
//!
//! | bytes | field |
//! |------:|-------|
//! | 4 | magic `PLFS` |
//! | 1 | version: 2 |
//! | 4 | plaintext bytes per segment, big-endian: 65,536 |
//! | 12 | random nonce of the key wrap |
//! | 48 | the file's own random 256-bit key, sealed with AES-256-GCM under the store key (32 bytes and the 16-byte tag), associated data `"parlance-files v2" ‖ room ‖ name` |
//! | … | the segments |
//!
//! Segment *i* is up to 65,536 bytes of plaintext sealed with AES-256-GCM under the
//! file's key and followed by its 16-byte tag, with the nonce *i* as 8 bytes big-endian ‖ a
//! last-segment flag byte (1 on the last segment, else 0) ‖ 3 zero bytes (the STREAM
//! construction), and associated data `room ‖ "/" ‖ name`. Every segment but the last is
//! full; the last is always present, possibly empty, and carries the flag. So the blob's
//! length alone gives the number of segments, ⌈(length − 69) / 65,552⌉, and the plaintext
//! size, length − 69 − 16 × segments; opening a blob verifies its last segment, which makes
//! that size authentic.
//!
//! What this detects, as [`FileError::Corrupt`]: any changed byte; a blob or a header
//! copied to another room or name (the associated data names the file); a header swapped
//! with another file's (its key does not open these segments); segments reordered (the
//! nonce numbers them); a blob cut short or extended, at a segment boundary or not (the
//! flag marks the true last segment); a store opened with another key. Per-file keys mean
//! the segment counter never repeats a nonce under one key, and the store key only ever
//! seals keys, so its random nonces are safe.
//!
//! Version 1 sealed with ChaCha20-Poly1305; it never left development. AES-256-GCM
//! replaced it because servers have AES instructions: on the benchmark machine it costs a
//! third as much per byte, and every byte of a transfer passes through it once.

mod blob;
mod disk;
mod error;
mod format;
mod local;
mod names;
mod upload;

use std::path::Path;

pub use blob::Blob;
pub use error::FileError;
pub use local::LocalStore;
pub use upload::Upload;

/// Calls the same method on whichever store is in use.
macro_rules! backend {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            FileStore::Local($s) => $call,
        }
    };
}

/// The file store in use: a local directory now; a shared store for server pools later,
/// behind the same methods.
#[derive(Debug, Clone)]
pub enum FileStore {
    Local(LocalStore),
}

impl FileStore {
    /// Opens (creating, mode 0700) the directory `dir`. `key` is a 32-byte key the server
    /// derives from its server key; it only wraps the per-file keys. Opening touches no
    /// upload in progress, so administration commands can open the store while the server
    /// runs.
    pub async fn open_local(dir: &Path, key: [u8; 32]) -> Result<FileStore, FileError> {
        Ok(FileStore::Local(LocalStore::open_dir(dir, key).await?))
    }

    /// Discards the uploads an earlier run left unfinished, and returns how many: for the
    /// server at its start, before it accepts uploads of its own.
    pub async fn discard_unfinished(&self) -> Result<u64, FileError> {
        backend!(self, s => s.discard_unfinished().await)
    }

    /// Starts storing a new file of `room` under the repository name `name`;
    /// [`FileError::Exists`] if that file is already stored.
    pub async fn begin_upload(&self, room: &str, name: &str) -> Result<Upload, FileError> {
        backend!(self, s => s.begin_upload(room, name).await)
    }

    /// Opens a complete file for reading; [`FileError::NotFound`] if there is none.
    pub async fn open(&self, room: &str, name: &str) -> Result<Blob, FileError> {
        backend!(self, s => s.open(room, name).await)
    }

    /// Removes a complete file; Ok(false) when there was none.
    pub async fn remove(&self, room: &str, name: &str) -> Result<bool, FileError> {
        backend!(self, s => s.remove(room, name).await)
    }

    /// Removes every file of a room, and returns how many there were.
    pub async fn remove_room(&self, room: &str) -> Result<u64, FileError> {
        backend!(self, s => s.remove_room(room).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The web layer shares the store between its tasks and keeps uploads and blobs across
    /// awaits in spawned ones.
    #[test]
    fn stores_uploads_and_blobs_go_between_threads() {
        fn send<T: Send>() {}
        fn sync<T: Sync>() {}
        send::<FileStore>();
        sync::<FileStore>();
        send::<Upload>();
        send::<Blob>();
    }
}
