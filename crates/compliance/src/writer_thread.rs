//! A thread of its own for one export writer's CPU work.

use std::io;
use std::path::PathBuf;

use crate::error::ExportError;

/// A writer's own thread for its CPU work: grouping a batch and writing its XML. On the
/// blocking pool, each thread that took a batch kept an allocator arena's worth of its
/// memory, and a longer run touched more threads: the export's peak memory grew with its
/// length. The thread ends when the writer drops it, after the work it was given.
pub struct WriterThread {
    jobs: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl WriterThread {
    /// Started from the export's runtime, the thread runs at its priority.
    pub fn start() -> io::Result<WriterThread> {
        let (jobs, queue) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::Builder::new()
            .name("parlance-export-writer".into())
            .spawn(move || queue.into_iter().for_each(|job| job()))?;
        Ok(WriterThread { jobs })
    }

    /// Runs `f` on the thread; an error names `path`.
    pub async fn run<T: Send + 'static>(
        &self,
        path: PathBuf,
        f: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> Result<T, ExportError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job = Box::new(move || {
            let _ = done.send(f());
        });
        let outcome = match self.jobs.send(job) {
            Ok(()) => result
                .await
                .unwrap_or_else(|_| Err(io::Error::other("the writer's thread ended"))),
            Err(_) => Err(io::Error::other("the writer's thread ended")),
        };
        outcome.map_err(|source| ExportError::Write { path, source })
    }
}
