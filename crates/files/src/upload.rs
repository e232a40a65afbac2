//! Storing a new file: plaintext in, sealed segments out, with one segment of plaintext and
//! a few sealed ones on their way to the disk in memory.
//!
//! The file is written under `.partial/` and only linked to its final name once whole and
//! synced, so a reader never sees part of it. Everything that ends an upload without
//! finishing it (an error, `abort`, a cancelled task dropping the `Upload`) removes the
//! partial file.

use std::fmt;
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};

use tokio::fs::File;
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use crate::FileError;
use crate::disk;
use crate::format::{self, FileKey, HEADER_LEN, IO_BUFFER_LEN, SEALED_SEGMENT_LEN, SEGMENT_LEN};

/// A file being stored. Send, and holds at most one segment of plaintext (and
/// [`IO_BUFFER_LEN`] bytes of sealed ones not yet written).
pub struct Upload {
    file: BufWriter<File>,
    partial: Partial,
    /// `<dir>/<room>/<name>`.
    destination: PathBuf,
    key: FileKey,
    /// The segment being filled, as plaintext; or, when `sealed`, sealed and still to be
    /// written, because writing it was interrupted or failed.
    segment: Vec<u8>,
    sealed: bool,
    index: u64,
    len: u64,
    /// Where the file's cursor is, when known. A write cut short leaves it unknown.
    position: Option<u64>,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("partial", &self.partial.path)
            .field("destination", &self.destination)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Upload {
    pub(crate) async fn begin(
        partial: PathBuf,
        destination: PathBuf,
        header: [u8; HEADER_LEN],
        key: FileKey,
    ) -> Result<Upload, FileError> {
        let file = disk::create_private_file(&partial)
            .await
            .map_err(FileError::io(&partial))?;
        let mut file = BufWriter::with_capacity(IO_BUFFER_LEN, file);
        let partial = Partial {
            path: partial,
            present: true,
        };
        file.write_all(&header)
            .await
            .map_err(FileError::io(&partial.path))?;
        Ok(Upload {
            file,
            partial,
            destination,
            key,
            segment: Vec::with_capacity(SEALED_SEGMENT_LEN),
            sealed: false,
            index: 0,
            len: 0,
            position: Some(HEADER_LEN as u64),
        })
    }

    /// Appends `data`: any sizes, any number of calls. Each segment is sealed and written
    /// once it is full and more data follows, so the one still in memory can become the
    /// last. If this future is dropped part-way, `len()` still tells how much of `data` was
    /// taken, and the upload can go on from there.
    pub async fn write(&mut self, mut data: &[u8]) -> Result<(), FileError> {
        while !data.is_empty() {
            if self.sealed || self.segment.len() == SEGMENT_LEN {
                self.write_segment(false).await?;
            }
            let (taken, rest) = data.split_at(data.len().min(SEGMENT_LEN - self.segment.len()));
            self.segment.extend_from_slice(taken);
            self.len += taken.len() as u64;
            data = rest;
        }
        Ok(())
    }

    /// Plaintext bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Seals the last segment, syncs the file, and links it to its final name (then syncs
    /// the directory): the file is visible whole or not at all. Returns its size.
    ///
    /// On an error nothing is left in place. If this future is dropped before it completes,
    /// the file may or may not be in place: a caller that gives up on it removes it with
    /// [`FileStore::remove`](crate::FileStore::remove).
    pub async fn finish(mut self) -> Result<u64, FileError> {
        if self.sealed {
            self.write_segment(false).await?;
        }
        self.write_segment(true).await?;
        // Flushing reports a write that failed in the background; only then is there
        // something worth syncing.
        self.file
            .flush()
            .await
            .map_err(FileError::io(&self.partial.path))?;
        self.file
            .get_ref()
            .sync_all()
            .await
            .map_err(FileError::io(&self.partial.path))?;

        let Upload {
            partial,
            destination,
            len,
            ..
        } = self;
        let room_dir = destination
            .parent()
            .expect("a destination is <dir>/<room>/<name>");
        if disk::create_private_dir(room_dir)
            .await
            .map_err(FileError::io(room_dir))?
        {
            let store_dir = room_dir.parent().expect("a room directory is <dir>/<room>");
            disk::sync_dir(store_dir)
                .await
                .map_err(FileError::io(store_dir))?;
        }
        partial.place(&destination).await?;
        Ok(len)
    }

    /// Gives up on the upload: the partial file is removed.
    pub async fn abort(self) {
        self.partial.remove().await;
    }

    async fn write_segment(&mut self, last: bool) -> Result<(), FileError> {
        // A segment is sealed once: sealing other bytes under the same number and flag would
        // reuse a nonce under the file's key.
        if !self.sealed {
            self.key.seal(self.index, last, &mut self.segment);
            self.sealed = true;
        }
        // Segments have fixed places, so a write that was interrupted is harmless: the next
        // call seeks back and writes the same sealed bytes to the same place. Otherwise the
        // cursor is already there, and a seek would cost a trip to the blocking pool and hold
        // this segment back until the previous one is on disk.
        let offset = format::segment_offset(self.index);
        if self.position != Some(offset) {
            self.file
                .seek(SeekFrom::Start(offset))
                .await
                .map_err(FileError::io(&self.partial.path))?;
        }
        self.position = None;
        self.file
            .write_all(&self.segment)
            .await
            .map_err(FileError::io(&self.partial.path))?;
        self.position = Some(offset + self.segment.len() as u64);
        self.segment.clear();
        self.sealed = false;
        self.index += 1;
        Ok(())
    }
}

/// An upload's file under `.partial/`. It is removed when this is dropped, whatever ended
/// the upload; finishing links it to its final name first.
#[derive(Debug)]
struct Partial {
    path: PathBuf,
    /// Still to be removed.
    present: bool,
}

impl Partial {
    /// Links the synced file to `destination`. A link, unlike a rename, never replaces a
    /// file already there: two uploads of one name cannot overwrite each other.
    async fn place(self, destination: &Path) -> Result<(), FileError> {
        match tokio::fs::hard_link(&self.path, destination).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(FileError::Exists),
            Err(e) => return Err(FileError::io(destination)(e)),
        }
        let room_dir = destination.parent().expect("a destination has a directory");
        if let Err(e) = disk::sync_dir(room_dir).await {
            // The name might not survive a crash: better not to report a file that may vanish.
            let _ = tokio::fs::remove_file(destination).await;
            return Err(FileError::io(room_dir)(e));
        }
        self.remove().await;
        Ok(())
    }

    async fn remove(mut self) {
        // Cleared before the await: the removal, once started, runs to its end even if this
        // future is dropped, so the destructor has nothing left to do.
        self.present = false;
        if let Err(e) = tokio::fs::remove_file(&self.path).await {
            log_removal_failure(&self.path, &e);
        }
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        // A destructor cannot wait; removing one directory entry does not block for long.
        if self.present
            && let Err(e) = std::fs::remove_file(&self.path)
        {
            log_removal_failure(&self.path, &e);
        }
    }
}

/// A partial file that stays is harmless (nothing links to it, and the next start discards
/// it), so failing to remove one is logged and not returned.
fn log_removal_failure(path: &Path, e: &io::Error) {
    if e.kind() != io::ErrorKind::NotFound {
        tracing::warn!(path = %path.display(), error = %e, "could not remove a partial upload");
    }
}
