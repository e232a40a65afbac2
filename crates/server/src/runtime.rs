//! Threads of their own, at a lower priority, for work that must not slow the chat: the
//! HTTPS listener and the compliance exporter. File transfers are heavy on the CPU (TLS,
//! base64, sealing every segment of a file): run on the chat's workers, fifty uploads queue
//! ahead of every chat message and a room's latency grows with them. On a runtime of their
//! own with `web.threads` workers, they cannot take the chat's workers; and at a lower
//! priority (`web.priority`), the operating system gives a chat message's fan-out the cores
//! first when both want them, while transfers still get every cycle chat does not use. An
//! export reads and writes as fast as the cores let it; at `compliance.priority` it leaves
//! them to the chat first.
//!
//! A lower priority comes in two strengths. A niced thread ([`Priority::Nice`]) gets a
//! smaller share of a core, but once running it keeps the core until the kernel's next
//! preemption point: a chat thread that wakes behind it waits up to a time slice, and with
//! transfers or an export busy on every core each wake-up of a message's fan-out can wait
//! so. A thread under Linux's `SCHED_IDLE` ([`Priority::Idle`]) is preempted the moment a
//! normal thread wakes on its core, and the kernel counts a core that runs only such
//! threads as free when it places a waking thread; the I/O it issues is in the idle I/O
//! class too. The cost is the other side of the same coin: an idle thread holding something
//! the chat waits for gets a core only when the chat leaves one. The exporter, with its own
//! database connection, runs idle by default (a busy room's p99 during an export went from
//! about 4× its quiet value to about 1.2×, BENCHMARKS.md "Compliance export"); the HTTPS
//! threads, which share the chat's store, stay niced (under fifty uploads, idle ones cost a
//! whole message ~170 ms once per run, where niced ones did not: "Files (TLS)").

use std::future::Future;

use rustix::process::{getpriority_process, setpriority_process};
use rustix::thread::gettid;
use serde::Deserialize;
use thread_priority::{
    NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
    set_thread_priority_and_policy, thread_native_id, thread_schedule_policy,
};
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// How far below the chat a background runtime's threads run: `"idle"`, or a number of nice
/// steps (0–19) below the thread that starts the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "PriorityValue")]
pub enum Priority {
    /// `SCHED_IDLE`, at the lowest nice besides (what the thread keeps should the policy be
    /// refused).
    Idle,
    Nice(i32),
}

/// What a configuration file may say: a word or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum PriorityValue {
    Word(String),
    Steps(i64),
}

impl TryFrom<PriorityValue> for Priority {
    type Error = String;

    fn try_from(value: PriorityValue) -> Result<Priority, String> {
        match value {
            PriorityValue::Word(word) if word == "idle" => Ok(Priority::Idle),
            PriorityValue::Steps(steps) if (0..=i64::from(MAX_NICE)).contains(&steps) => {
                Ok(Priority::Nice(steps as i32))
            }
            PriorityValue::Word(word) => Err(format!(
                "priority {word:?} is neither \"idle\" nor a number of nice steps (0 to {MAX_NICE})"
            )),
            PriorityValue::Steps(steps) => Err(format!(
                "priority {steps} is outside 0 to {MAX_NICE} nice steps"
            )),
        }
    }
}

#[derive(Debug)]
pub struct LowPriorityRuntime(Option<Runtime>);

impl LowPriorityRuntime {
    /// `threads` workers named `name` (and file I/O threads as needed), each at `priority`.
    /// Threads they start (SQLite's worker of a connection opened there, for one) inherit
    /// it.
    pub fn new(
        name: &'static str,
        threads: usize,
        priority: Priority,
    ) -> std::io::Result<LowPriorityRuntime> {
        let base = getpriority_process(Some(gettid()))?;
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name(name)
            .on_thread_start(move || {
                lower_priority(name, base, priority);
            })
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

/// Linux gives each thread a policy and a nice value of its own: this sets the calling
/// thread's.
fn lower_priority(name: &str, base: i32, priority: Priority) {
    let steps = match priority {
        Priority::Nice(steps) => steps,
        Priority::Idle => {
            schedule_idle(name);
            MAX_NICE
        }
    };
    let lowered = (base + steps).min(MAX_NICE);
    if let Err(e) = setpriority_process(Some(gettid()), lowered) {
        tracing::warn!(error = %e, nice = lowered, thread = name, "a background thread keeps the chat's priority");
    }
}

/// Puts the calling thread under `SCHED_IDLE`. The library also sets the nice value to the
/// policy's only one (0), which an unprivileged thread already niced may not: that error
/// is not the policy's, so the policy is read back to tell.
fn schedule_idle(name: &str) {
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    let set = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle);
    if let Err(e) = set
        && thread_schedule_policy().ok() != Some(idle)
    {
        tracing::warn!(error = %e, thread = name, "a background thread is only niced, not SCHED_IDLE");
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
        let runtime = LowPriorityRuntime::new("parlance-test", 1, Priority::Nice(3)).unwrap();
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

    #[tokio::test]
    async fn idle_threads_and_those_they_start_are_sched_idle_at_the_lowest_nice() {
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        let runtime = LowPriorityRuntime::new("parlance-test", 1, Priority::Idle).unwrap();
        let own = || {
            (
                thread_schedule_policy().unwrap(),
                getpriority_process(Some(gettid())).unwrap(),
            )
        };
        let worker = runtime.spawn(async move { own() }).await.unwrap();
        // A plain thread started from a worker: SQLite's connection worker is one.
        let started = runtime
            .spawn(async move { std::thread::spawn(own).join().unwrap() })
            .await
            .unwrap();
        assert_eq!(worker, (idle, MAX_NICE));
        assert_eq!(started, (idle, MAX_NICE));
        // The thread that started the runtime keeps its policy.
        assert_ne!(thread_schedule_policy().unwrap(), idle);
    }
}
