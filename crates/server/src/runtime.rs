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
//! class too.

use std::future::Future;

use rustix::process::{getpriority_process, setpriority_process};
use rustix::thread::{CpuSet, gettid, sched_getaffinity, sched_setaffinity};
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
        LowPriorityRuntime::build(name, threads, priority, None)
    }

    /// As [`LowPriorityRuntime::new`], with every thread — and every thread those start —
    /// on one core: the last of those the starting thread may run on. On a single core it
    /// is the same as `new`.
    pub fn on_one_core(
        name: &'static str,
        threads: usize,
        priority: Priority,
    ) -> std::io::Result<LowPriorityRuntime> {
        let allowed = sched_getaffinity(None)?;
        let one = (allowed.count() > 1)
            .then(|| (0..CpuSet::MAX_CPU).rev().find(|&cpu| allowed.is_set(cpu)))
            .flatten()
            .map(|cpu| {
                let mut set = CpuSet::new();
                set.set(cpu);
                set
            });
        LowPriorityRuntime::build(name, threads, priority, one)
    }

    fn build(
        name: &'static str,
        threads: usize,
        priority: Priority,
        cores: Option<CpuSet>,
    ) -> std::io::Result<LowPriorityRuntime> {
        let base = getpriority_process(Some(gettid()))?;
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name(name)
            .on_thread_start(move || {
                lower_priority(name, base, priority);
                if let Some(cores) = &cores {
                    confine(name, cores);
                }
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

/// Linux gives each thread a CPU affinity of its own, inherited by the threads it starts:
/// this sets the calling thread's.
fn confine(name: &str, cores: &CpuSet) {
    if let Err(e) = sched_setaffinity(None, cores) {
        tracing::warn!(error = %e, thread = name, "a background thread may run on every core");
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

    #[tokio::test]
    async fn on_one_core_its_threads_and_theirs_share_the_last_allowed_core() {
        let allowed = sched_getaffinity(None).unwrap();
        let last = (0..CpuSet::MAX_CPU)
            .rev()
            .find(|&cpu| allowed.is_set(cpu))
            .unwrap();
        let runtime = LowPriorityRuntime::on_one_core("parlance-test", 2, 3).unwrap();
        let cores = |set: CpuSet| {
            (0..CpuSet::MAX_CPU)
                .filter(|&cpu| set.is_set(cpu))
                .collect::<Vec<_>>()
        };
        let worker = runtime
            .spawn(async { sched_getaffinity(None).unwrap() })
            .await
            .unwrap();
        // A plain thread started from a worker: SQLite's connection worker is one.
        let started = runtime
            .spawn(async {
                std::thread::spawn(|| sched_getaffinity(None).unwrap())
                    .join()
                    .unwrap()
            })
            .await
            .unwrap();
        let expected = match allowed.count() {
            1 => cores(allowed),
            _ => vec![last],
        };
        assert_eq!(cores(worker), expected);
        assert_eq!(cores(started), expected);
        // The runtime's own thread keeps every core.
        assert_eq!(cores(sched_getaffinity(None).unwrap()), cores(allowed));
    }
}
