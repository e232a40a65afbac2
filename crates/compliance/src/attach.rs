//! Attachments: a decrypted, byte-exact copy of every file a FILEUPLOAD names, in the
//! `Attachment` subdirectory of the output directory, written like every output file
//! (temporary name, synced, renamed). The copy is named by the outbox row and the
//! repository name, `<event>-<repository name>`, so no two can collide and a re-run after a
//! crash writes the same name again.

use std::path::{Path, PathBuf};

use parlance_files::{FileError, FileStore};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::durable::temporary_path;
use crate::error::ExportError;

/// The subdirectory of the output directory holding the copies.
pub const ATTACHMENT_DIR: &str = "Attachment";

/// Bytes read from the file store at a time: one segment of its format.
const CHUNK: usize = 64 * 1024;

/// What became of one attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// Copied to `path` (relative to the output directory).
    Copied {
        path: String,
        size: u64,
        sha256: String,
    },
    /// Not copied, and why: the event is archived all the same.
    Missing { reason: &'static str },
}

/// The copy's name, relative to the output directory.
pub fn relative_path(event_id: i64, name: &str) -> String {
    format!("{ATTACHMENT_DIR}/{event_id}-{name}")
}

/// Copies the file `name` of room `room` (its GUID) to `dir`/[`relative_path`], renamed
/// into place but not yet durable: the caller syncs the directory. A file the store does
/// not have, or that fails verification, is [`Attachment::Missing`]; failing to read the
/// store or to write the copy is an error, and the batch is tried again later.
pub async fn copy(
    files: &FileStore,
    dir: &Path,
    room: &str,
    event_id: i64,
    name: &str,
) -> Result<Attachment, ExportError> {
    let mut blob = match files.open(room, name).await {
        Ok(blob) => blob,
        Err(FileError::NotFound | FileError::InvalidName) => {
            return Ok(Attachment::Missing {
                reason: "not in the file store",
            });
        }
        Err(FileError::Corrupt) => {
            return Ok(Attachment::Missing {
                reason: "failed verification in the file store",
            });
        }
        Err(e) => return Err(ExportError::FileStore(e)),
    };
    let relative = relative_path(event_id, name);
    let path = dir.join(&relative);
    let temporary = temporary_path(&path);
    let write_error = |path: &PathBuf| {
        let path = path.clone();
        move |source| ExportError::Write { path, source }
    };
    let mut out = tokio::fs::File::create(&temporary)
        .await
        .map_err(write_error(&temporary))?;
    let mut hash = Sha256::new();
    let mut at = 0;
    while at < blob.len() {
        let chunk = match blob.read_at(at, CHUNK).await {
            Ok(chunk) => chunk,
            Err(FileError::Corrupt) => {
                drop(out);
                tokio::fs::remove_file(&temporary)
                    .await
                    .map_err(write_error(&temporary))?;
                return Ok(Attachment::Missing {
                    reason: "failed verification in the file store",
                });
            }
            Err(e) => return Err(ExportError::FileStore(e)),
        };
        hash.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(write_error(&temporary))?;
        at += chunk.len() as u64;
    }
    out.sync_all().await.map_err(write_error(&temporary))?;
    drop(out);
    tokio::fs::rename(&temporary, &path)
        .await
        .map_err(write_error(&path))?;
    Ok(Attachment::Copied {
        path: relative,
        size: at,
        sha256: hex::encode(hash.finalize()),
    })
}
