//! Threads of their own, at a lower priority, for work that must not slow the chat: the
//! HTTPS listener and the compliance exporter. File transfers are heavy on the CPU (TLS,
//! base64, sealing every segment of a file): run on the chat's workers, fifty uploads queue
//! ahead of every chat message and a room's latency grows with them. On a runtime of their
//! own with `web.threads` workers, they cannot take the chat's workers; and at a lower
//! priority (`web.nice`), the operating system gives a chat message's fan-out the cores
//! first when both want them, while transfers still get every cycle chat does not use. By
//! default they run at the lowest priority there is: fifty uploads as fast as loopback goes
//! took a 1,000-member room's p99 from 8× its quiet value to about 2× on two cores with
//! these threads niced (BENCHMARKS.md, "Files"). An export reads and writes as fast as the
//! cores let it; at `compliance.nice` it leaves them to the chat first.

use std::future::Future;

use rustix::process::{getpriority_process, setpriority_process};
use rustix::thread::gettid;
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

#[derive(Debug)]
pub struct LowPriorityRuntime(Option<Runtime>);

impl LowPriorityRuntime {
    /// `threads` workers named `name` (and file I/O threads as needed), each `nice` steps
    /// below the priority of the thread that starts it. Threads they start (SQLite's worker
    /// of a connection opened there, for one) inherit that priority.
    pub fn new(
        name: &'static str,
        threads: usize,
        nice: i32,
    ) -> std::io::Result<LowPriorityRuntime> {
        let base = getpriority_process(Some(gettid()))?;
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name(name)
            .on_thread_start(move || lower_priority(name, base, nice))
            .enable_all()
            .build()?;
        Ok(LowPriorityRuntime(Some(runtime)))
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("present until dropped").handle()
    }

    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
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

/// Linux gives each thread a nice value of its own: this sets the calling thread's.
fn lower_priority(name: &str, base: i32, nice: i32) {
    let lowered = (base + nice).min(MAX_NICE);
    if let Err(e) = setpriority_process(Some(gettid()), lowered) {
        tracing::warn!(error = %e, nice = lowered, thread = name, "a background thread keeps the chat's priority");
    }
}

/// The lowest priority a thread can have.
const MAX_NICE: i32 = 19;

/// A runtime may not be dropped where blocking is not allowed (inside the chat's runtime,
/// where a server is shut down or dropped): its threads are told to stop instead, which
/// they do once its tasks, already ended by the shutdown, are gone.
impl Drop for LowPriorityRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn its_threads_run_the_given_steps_below_the_starting_thread() {
        let base = getpriority_process(Some(gettid())).unwrap();
        let runtime = LowPriorityRuntime::new("parlance-test", 1, 3).unwrap();
        let worker = runtime
            .spawn(async { getpriority_process(Some(gettid())).unwrap() })
            .await
            .unwrap();
        assert_eq!(worker, (base + 3).min(MAX_NICE));
        let blocking = runtime
            .spawn(async {
                tokio::task::spawn_blocking(|| getpriority_process(Some(gettid())).unwrap())
                    .await
                    .unwrap()
            })
            .await
            .unwrap();
        assert_eq!(blocking, (base + 3).min(MAX_NICE));
    }
}
