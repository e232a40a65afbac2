//! The store in a local directory:
//!
//! ```text
//! <dir>/<room GUID>/<repository name>   complete files
//! <dir>/.partial/<random>               uploads in progress
//! ```
//!
//! Paths are only ever made of names that passed [`names`](crate::names), and an upload in
//! progress never has its final name, so nothing half-written can be opened.

use std::path::{Path, PathBuf};

use crate::FileError;
use crate::blob::Blob;
use crate::disk;
use crate::format::StoreKey;
use crate::names;
use crate::upload::Upload;

const PARTIAL_DIR: &str = ".partial";

/// Reached through [`FileStore`](crate::FileStore), whose methods it implements.
#[derive(Debug, Clone)]
pub struct LocalStore {
    dir: PathBuf,
    key: StoreKey,
}

impl LocalStore {
    /// Opens (creating, mode 0700) `dir`. Uploads an earlier run left unfinished are
    /// discarded: nobody can resume them, since the upload state was in that run's memory.
    pub(crate) async fn open_dir(dir: &Path, key: [u8; 32]) -> Result<LocalStore, FileError> {
        disk::create_private_dirs(dir)
            .await
            .map_err(FileError::io(dir))?;
        let partials = dir.join(PARTIAL_DIR);
        disk::create_private_dir(&partials)
            .await
            .map_err(FileError::io(&partials))?;
        Ok(LocalStore {
            dir: dir.to_owned(),
            key: StoreKey::new(&key),
        })
    }

    pub(crate) async fn discard_unfinished(&self) -> Result<u64, FileError> {
        let partials = self.dir.join(PARTIAL_DIR);
        let discarded = disk::remove_files_in(&partials)
            .await
            .map_err(FileError::io(&partials))?;
        if discarded > 0 {
            tracing::info!(
                discarded,
                dir = %self.dir.display(),
                "discarded uploads left unfinished by an earlier run"
            );
        }
        Ok(discarded)
    }

    pub(crate) async fn begin_upload(&self, room: &str, name: &str) -> Result<Upload, FileError> {
        let destination = self.file_path(room, name)?;
        if tokio::fs::try_exists(&destination)
            .await
            .map_err(FileError::io(&destination))?
        {
            return Err(FileError::Exists);
        }
        let partial = self
            .dir
            .join(PARTIAL_DIR)
            .join(uuid::Uuid::new_v4().simple().to_string());
        let (header, key) = self.key.new_file(room, name);
        Upload::begin(partial, destination, header, key).await
    }

    pub(crate) async fn open(&self, room: &str, name: &str) -> Result<Blob, FileError> {
        Blob::open(self.file_path(room, name)?, &self.key, room, name).await
    }

    pub(crate) async fn remove(&self, room: &str, name: &str) -> Result<bool, FileError> {
        let path = self.file_path(room, name)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(FileError::io(path)(e)),
        }
    }

    pub(crate) async fn remove_room(&self, room: &str) -> Result<u64, FileError> {
        names::check_room(room)?;
        let path = self.dir.join(room);
        let removed = disk::remove_files_in(&path)
            .await
            .map_err(FileError::io(&path))?;
        match tokio::fs::remove_dir(&path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(FileError::io(path)(e)),
            _ => Ok(removed),
        }
    }

    fn file_path(&self, room: &str, name: &str) -> Result<PathBuf, FileError> {
        names::check(room, name)?;
        Ok(self.dir.join(room).join(name))
    }
}
