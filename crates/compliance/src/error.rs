use std::path::PathBuf;

use parlance_files::FileError;
use parlance_store::StoreError;
use thiserror::Error;

/// Why an export stopped. Whatever it is, the cursor stays after the last batch made
/// durable, and the next run goes on from there.
#[derive(Debug, Error)]
pub enum ExportError {
    /// Another exporter (the server's, or `parlance compliance export`) is running.
    #[error("another compliance export is running (it holds {0})")]
    Busy(PathBuf),
    #[error("the compliance output directory {path} cannot be used: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading a posted file from the file store: {0}")]
    FileStore(FileError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
