//! The limit an export is compared with: the same number of bytes written sequentially to
//! one file on the same disk, in 1 MiB writes, and synced once at the end. No database to
//! read, no XML to build, no file per batch to sync and rename.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::error::BenchError;

const BLOCK: usize = 1 << 20;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sequential {
    pub mb: f64,
    pub secs: f64,
    pub mb_per_s: f64,
}

/// Writes `bytes` bytes to `path`, syncs, and removes the file again.
pub async fn write(path: &Path, bytes: u64) -> Result<Sequential, BenchError> {
    let path: PathBuf = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let context = format!("writing {}", path.display());
        let started = Instant::now();
        let mut file = std::fs::File::create(&path).map_err(BenchError::io(context.clone()))?;
        let block = vec![b'x'; BLOCK];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(BLOCK as u64) as usize;
            file.write_all(&block[..n])
                .map_err(BenchError::io(context.clone()))?;
            left -= n as u64;
        }
        file.sync_all().map_err(BenchError::io(context.clone()))?;
        let secs = started.elapsed().as_secs_f64();
        std::fs::remove_file(&path).map_err(BenchError::io(context))?;
        let mb = bytes as f64 / 1e6;
        Ok(Sequential {
            mb,
            secs,
            mb_per_s: mb / secs.max(1e-9),
        })
    })
    .await
    .map_err(|e| BenchError::Failed(format!("the sequential write stopped: {e}")))?
}
