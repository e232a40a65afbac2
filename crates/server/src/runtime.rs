//! The HTTPS listener's own threads. File transfers are heavy on the CPU (TLS, base64,
//! sealing every segment of a file): run on the chat's workers, fifty uploads queue ahead of
//! every chat message and a room's latency grows with them. On a runtime of their own with
//! `web.threads` workers, the operating system shares the cores between the two, and the
//! chat keeps its share however many transfers run.

use std::future::Future;

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

#[derive(Debug)]
pub(crate) struct WebRuntime(Option<Runtime>);

impl WebRuntime {
    pub(crate) fn new(threads: usize) -> std::io::Result<WebRuntime> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("parlance-https")
            .enable_all()
            .build()?;
        Ok(WebRuntime(Some(runtime)))
    }

    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0
            .as_ref()
            .expect("present until dropped")
            .spawn(future)
    }
}

/// A runtime may not be dropped where blocking is not allowed (inside the chat's runtime,
/// where a server is shut down or dropped): its threads are told to stop instead, which
/// they do once the listener's tasks, already ended by the shutdown, are gone.
impl Drop for WebRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
