//! The blobs of SOAP downloads between their chunks. A Lync-family client downloads a file
//! as a chain of `DownloadChunk` calls, each waiting for the one before; opening the blob
//! anew for each (the file and its length, the header read and the file's key unwrapped,
//! the last segment read and verified, then a seek back that throws the read-ahead away)
//! read more of the disk than the chunk itself. So a chunk's blob, once its bytes are read,
//! is parked here under its token, usually reading the next chunk ahead
//! ([`super::ahead`]), and the token's next chunk takes it back where the last one stopped.
//!
//! A parked blob is an open file and about 320 KiB of buffers (the answers read ahead are
//! bounded apart), so there are at most [`MAX_PARKED`] of them, and none stays longer than
//! [`MAX_IDLE`]: a client that goes away leaves nothing behind for long. A chunk that finds
//! no blob (evicted, expired, or another chunk of the token has it) opens one, as every
//! chunk used to.
//!
//! A blob is parked with the grant its chunk was served under, and only the token that
//! parked it takes it back, grant and all; the caller checks that the grant still holds
//! before it sends a byte. The table does not look inside what it keeps (`T`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Parked blobs at most: downloads going on at the same moment, beyond which a chunk
/// opens its blob as if none were parked.
pub(crate) const MAX_PARKED: usize = 16;
/// How long a parked blob waits for its token's next chunk. Clients ask for the next
/// chunk as soon as one arrives.
pub(crate) const MAX_IDLE: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Parked<T> {
    parked: T,
    since: Instant,
}

#[derive(Debug)]
pub(crate) struct OpenBlobs<T> {
    table: Mutex<HashMap<String, Parked<T>>>,
}

impl<T> Default for OpenBlobs<T> {
    fn default() -> Self {
        OpenBlobs {
            table: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> OpenBlobs<T> {
    /// What `token` parked, if it is still there.
    pub(crate) fn take(&self, token: &str) -> Option<T> {
        self.lock().remove(token).map(|parked| parked.parked)
    }

    /// Keeps `parked` for `token`'s next chunk. When the table is full the entry parked
    /// longest goes.
    pub(crate) fn park(&self, token: &str, parked: T) {
        let parked = Parked {
            parked,
            since: Instant::now(),
        };
        // Blobs are dropped (their files closed) after the lock is let go.
        let (_replaced, _evicted) = {
            let mut table = self.lock();
            let evicted = if table.len() >= MAX_PARKED && !table.contains_key(token) {
                let oldest = table
                    .iter()
                    .min_by_key(|(_, parked)| parked.since)
                    .map(|(token, _)| token.clone());
                oldest.and_then(|token| table.remove(&token))
            } else {
                None
            };
            (table.insert(token.to_owned(), parked), evicted)
        };
    }

    /// Closes the blobs parked longer than [`MAX_IDLE`] at `now`.
    pub(crate) fn sweep(&self, now: Instant) {
        let expired: Vec<Parked<T>> = self
            .lock()
            .extract_if(|_, parked| now.saturating_duration_since(parked.since) > MAX_IDLE)
            .map(|(_, parked)| parked)
            .collect();
        drop(expired);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Parked<T>>> {
        self.table.lock().expect("open blobs lock")
    }
}

#[cfg(test)]
pub(super) mod tests {
    use parlance_files::{Blob, FileStore};

    use super::*;

    pub(in crate::files) const ROOM: &str = "0b6f2a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

    pub(in crate::files) const NAME: &str = "6d042d7b-50d1-4117-9bf0-5a8c0b11e842.bin";

    /// A store in a directory of its own, holding one file of 200 KB.
    pub(in crate::files) async fn one_file() -> (std::path::PathBuf, FileStore, Vec<u8>) {
        let dir =
            std::env::temp_dir().join(format!("parlance-web-open-blobs-{}", rand::random::<u64>()));
        let store = FileStore::open_local(&dir, [7; 32]).await.unwrap();
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut upload = store.begin_upload(ROOM, NAME).await.unwrap();
        upload.write(&content).await.unwrap();
        upload.finish().await.unwrap();
        (dir, store, content)
    }

    #[tokio::test]
    async fn a_parked_blob_goes_back_to_its_token_only_and_reads_on_from_anywhere() {
        let (dir, store, content) = one_file().await;
        let blobs = OpenBlobs::<(&str, Blob)>::default();
        let mut blob = store.open(ROOM, NAME).await.unwrap();
        let first = blob.read_at(100_000, 100_000).await.unwrap();
        blobs.park("token-a", ("grant a", blob));

        assert!(blobs.take("token-b").is_none(), "another token");
        let (grant, mut blob) = blobs.take("token-a").expect("still parked");
        assert_eq!(grant, "grant a");
        assert!(blobs.take("token-a").is_none(), "taken once");
        let start = blob.read_at(0, 100_000).await.unwrap();
        assert_eq!([start, first].concat(), content);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn parked_blobs_are_bounded_in_number_and_in_time() {
        let (dir, store, _) = one_file().await;
        let blobs = OpenBlobs::default();
        for i in 0..=MAX_PARKED {
            let blob = store.open(ROOM, NAME).await.unwrap();
            blobs.park(&format!("token-{i}"), (i, blob));
        }
        assert!(blobs.take("token-0").is_none(), "the oldest made room");
        assert!(blobs.take(&format!("token-{MAX_PARKED}")).is_some());
        assert!(blobs.take("token-1").is_some());

        blobs.sweep(Instant::now());
        assert!(blobs.take("token-2").is_some(), "not idle long enough");
        blobs.sweep(Instant::now() + MAX_IDLE + Duration::from_secs(1));
        assert!(blobs.take("token-3").is_none(), "idle too long");
        assert!(blobs.lock().is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
