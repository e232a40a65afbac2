use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum FileError {
    #[error("no such file")]
    NotFound,
    #[error("the file already exists")]
    Exists,
    /// A room that is not a lower-case hyphenated GUID, or a repository name that is not
    /// `<GUID>` or `<GUID>.<ext>`: nothing was looked up or created on disk.
    #[error("invalid room or repository name")]
    InvalidName,
    /// The stored bytes failed verification: tampered with, truncated, moved from another
    /// file, or sealed under another store key.
    #[error("the stored file failed verification")]
    Corrupt,
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl FileError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> FileError {
        let path = path.into();
        move |source| FileError::Io { path, source }
    }
}
