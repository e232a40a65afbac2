//! The file-system calls whose details matter: what the store creates is readable by the
//! server's user only, and a directory is synced after an entry appears in it, since a
//! file's own fsync does not make its name durable.

use std::io;
use std::path::Path;

use tokio::fs::{DirBuilder, File, OpenOptions};

/// Creates a directory and any missing parents (mode 0700).
pub(crate) async fn create_private_dirs(path: &Path) -> io::Result<()> {
    private_dir_builder().recursive(true).create(path).await
}

/// Creates a directory (mode 0700); Ok(false) when it was already there.
pub(crate) async fn create_private_dir(path: &Path) -> io::Result<bool> {
    match private_dir_builder().create(path).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

fn private_dir_builder() -> DirBuilder {
    let mut builder = DirBuilder::new();
    #[cfg(unix)]
    builder.mode(0o700);
    builder
}

/// Creates a new file (mode 0600) for writing; fails if the path exists.
pub(crate) async fn create_private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path).await
}

#[cfg(unix)]
pub(crate) async fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path).await?.sync_all().await
}

/// Other systems give no handle on a directory to sync; a new name there is as durable as
/// they make it.
#[cfg(not(unix))]
pub(crate) async fn sync_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Removes every file directly in `dir` and returns how many; none when `dir` is absent.
pub(crate) async fn remove_files_in(dir: &Path) -> io::Result<u64> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    while let Some(entry) = entries.next_entry().await? {
        tokio::fs::remove_file(entry.path()).await?;
        removed += 1;
    }
    Ok(removed)
}
