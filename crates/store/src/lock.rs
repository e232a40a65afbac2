//! Exclusive lock files: one process at a time holds one. The kernel releases the lock when
//! the file is closed or the process ends, however it ends, so a crash leaves no stale lock
//! to clear by hand; the file itself stays and is harmless.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct LockFile {
    file: File,
}

impl LockFile {
    /// Takes the lock on `path` (created, never truncated, when absent), or `Ok(None)` when
    /// another process holds it.
    pub fn try_take(path: &Path) -> std::io::Result<Option<LockFile>> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(LockFile { file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Writes this process's id into the file, so that whoever finds the lock taken can
    /// say which process holds it ([`LockFile::holder`]).
    pub fn record_pid(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        writeln!(self.file, "{}", std::process::id())?;
        self.file.sync_all()
    }

    /// The process id the holder of `path` recorded, if it did and the file can be read.
    pub fn holder(path: &Path) -> Option<u32> {
        let mut text = String::new();
        File::open(path).ok()?.read_to_string(&mut text).ok()?;
        text.trim().parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = std::env::temp_dir().join(format!("parlance-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("test.lock");
        let mut first = LockFile::try_take(&path).unwrap().expect("free");
        first.record_pid().unwrap();
        assert!(LockFile::try_take(&path).unwrap().is_none(), "held");
        assert_eq!(LockFile::holder(&path), Some(std::process::id()));
        drop(first);
        assert!(LockFile::try_take(&path).unwrap().is_some(), "released");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
