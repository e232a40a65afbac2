//! Files that are either whole or absent: written under a temporary name, synced, renamed,
//! and their directory synced, so that after a crash at any point a reader sees the old
//! file or the new one, never a part. Temporary names are hidden (`.<name>.tmp`) so that
//! an archiver picking up files from the directory does not take one half-written.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

const TEMPORARY_SUFFIX: &str = ".tmp";
/// Output is written in pieces this large: an export writes large files sequentially, and
/// fewer, larger writes keep it near the disk's speed. A writer that hands over pieces at
/// least this large ([`crate::xml`]) passes through the buffer without being copied.
pub const WRITE_BUFFER: usize = 256 * 1024;

/// Where `path` is written before it is renamed into place.
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}{TEMPORARY_SUFFIX}"))
}

/// Writes `path`'s temporary file through `fill`; returns it, open for its sync, and the
/// bytes written. Once it is synced, [`publish`] renames it into place.
pub fn write_temporary(
    path: &Path,
    fill: impl FnOnce(&mut Counting<BufWriter<File>>) -> io::Result<()>,
) -> io::Result<(File, u64)> {
    let temporary = temporary_path(path);
    let mut out = Counting {
        inner: BufWriter::with_capacity(WRITE_BUFFER, File::create(&temporary)?),
        written: 0,
    };
    fill(&mut out)?;
    let file = out
        .inner
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    Ok((file, out.written))
}

/// Renames `path`'s synced temporary file into place, replacing any earlier file of that
/// name. The rename is durable once the directory is synced ([`sync_dir`]).
pub fn publish(path: &Path) -> io::Result<()> {
    fs::rename(temporary_path(path), path)
}

/// Makes the renames and removals in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes the temporary files an interrupted run left in `dir`; returns how many.
pub fn remove_temporaries(dir: &Path) -> io::Result<u64> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(TEMPORARY_SUFFIX) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// A writer that counts what passes through it.
#[derive(Debug)]
pub struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
