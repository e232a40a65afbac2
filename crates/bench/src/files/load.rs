//! The upload load set against chat: uploaders, each a signed-in client of its own, putting
//! the same few megabytes through the plain API again and again, as fast as they go (or at
//! a set pace, as over a slower link), until stopped. Each upload asks for its token over
//! XCCOS and opens its own connection, as Parlance's client does.
//!
//! Each uploader removes its file's blob from the server's file store once the upload is
//! complete (the file's row stays; nobody downloads it). A minute of uploads at 300–400
//! MB/s would otherwise leave 20 GB on the disk; this way the load's files take at most
//! the uploads in progress. The removal is an `unlink` by the bench, not work of the
//! server's.
//!
//! The uploaders stand for other machines. Here they share two cores with the receivers
//! that measure the room, so they run on a runtime of their own at the lowest priority:
//! they still take every cycle the rest leaves, but a receiver does not wait behind one
//! encrypting megabytes, and the report shows the server's latency rather than the
//! generator's queue.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parlance_client::Client;
use parlance_server::{LowPriorityRuntime, Priority};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::https::Connection;
use super::throughput::{FILE_NAME, MB};
use super::ways::{plain_path, put};
use crate::error::BenchError;
use crate::wire::{self, Dialer};

/// How long an uploader waits after a failed upload before the next.
const AFTER_FAILURE: Duration = Duration::from_millis(100);

/// The uploaders' threads: as many as the machine has cores, so that they can keep the
/// server as busy as uploaders on other machines would; and how far below the receivers'
/// priority they run (the lowest there is).
const UPLOAD_THREADS: usize = 2;
const UPLOAD_PRIORITY: Priority = Priority::Nice(19);

/// Uploads running until [`UploadLoad::stop`].
#[derive(Debug)]
pub struct UploadLoad {
    runtime: LowPriorityRuntime,
    stop: watch::Sender<bool>,
    uploaders: JoinSet<()>,
    counts: Arc<Counts>,
    started: Instant,
}

#[derive(Debug, Default)]
struct Counts {
    completed: AtomicU64,
    bytes: AtomicU64,
    failed: AtomicU64,
}

/// What the uploads achieved while they ran.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LoadResult {
    pub uploads: u64,
    pub failed: u64,
    pub mb_per_s: f64,
}

/// Where the uploads go, and from where.
#[derive(Debug, Clone)]
pub struct Destination {
    pub room_uri: String,
    pub https: SocketAddr,
    pub dialer: Dialer,
    /// Loopback source addresses the uploaders' connections are spread over.
    pub sources: usize,
    /// Each upload's pace in bytes per second; none: as fast as it goes.
    pub pace: Option<f64>,
    /// The room's directory in the server's file store, where each uploaded blob is
    /// removed once stored.
    pub blobs: PathBuf,
}

impl UploadLoad {
    /// One uploader per client, each putting `bytes` in a loop.
    pub fn start(
        clients: &[Client],
        to: &Destination,
        bytes: &Bytes,
    ) -> Result<UploadLoad, BenchError> {
        let runtime = LowPriorityRuntime::new("bench-uploads", UPLOAD_THREADS, UPLOAD_PRIORITY)
            .map_err(BenchError::io("starting the uploaders' runtime"))?;
        let (stop, stopped) = watch::channel(false);
        let counts = Arc::new(Counts::default());
        let mut uploaders = JoinSet::new();
        for (i, client) in clients.iter().enumerate() {
            let uploader = Uploader {
                client: client.clone(),
                to: to.clone(),
                from_index: i,
                bytes: bytes.clone(),
                counts: counts.clone(),
            };
            uploaders.spawn_on(uploader.run(stopped.clone()), runtime.handle());
        }
        Ok(UploadLoad {
            runtime,
            stop,
            uploaders,
            counts,
            started: Instant::now(),
        })
    }

    /// Stops every uploader; uploads under way are cut off and not counted.
    pub async fn stop(mut self) -> LoadResult {
        let _ = self.stop.send(true);
        let secs = self.started.elapsed().as_secs_f64();
        self.uploaders.shutdown().await;
        drop(self.runtime);
        let bytes = self.counts.bytes.load(Ordering::Relaxed);
        LoadResult {
            uploads: self.counts.completed.load(Ordering::Relaxed),
            failed: self.counts.failed.load(Ordering::Relaxed),
            mb_per_s: bytes as f64 / MB as f64 / secs.max(1e-9),
        }
    }
}

struct Uploader {
    client: Client,
    to: Destination,
    from_index: usize,
    bytes: Bytes,
    counts: Arc<Counts>,
}

impl Uploader {
    async fn run(self, stopped: watch::Receiver<bool>) {
        while !*stopped.borrow() {
            match self.upload().await {
                Ok(()) => {
                    self.counts.completed.fetch_add(1, Ordering::Relaxed);
                    self.counts
                        .bytes
                        .fetch_add(self.bytes.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    // The count goes in the report; one line is enough to say why.
                    if self.counts.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                        tracing::warn!(error = %e, "an upload of the load failed");
                    }
                    tokio::time::sleep(AFTER_FAILURE).await;
                }
            }
        }
    }

    async fn upload(&self) -> Result<(), BenchError> {
        let token = self
            .client
            .upload_token(&self.to.room_uri, FILE_NAME)
            .await?;
        let from = wire::source(self.from_index, self.to.sources);
        let mut conn = Connection::open(&self.to.dialer, from, self.to.https).await?;
        let path = plain_path(&token.token);
        let name = put(&mut conn, &path, self.bytes.clone(), self.to.pace).await?;
        let blob = self.to.blobs.join(&name);
        tokio::fs::remove_file(&blob)
            .await
            .map_err(BenchError::io(format!("removing {}", blob.display())))
    }
}
