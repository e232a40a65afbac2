//! File transfers give way to chat. Before each step of a transfer (a piece of an upload's
//! body, a segment of a download, a SOAP call) the transfer waits while chat output is on
//! its way ([`OutputBacklog`]: queued and not yet written, or delivered and not yet
//! answered): a room's fan-out goes out first, and the transfers go on in the gaps between
//! messages.
//!
//! Why waiting rather than a lower priority: the HTTPS threads already run at the lowest
//! nice, and `SCHED_IDLE` did no better (BENCHMARKS.md, "Files (TLS)"). Most of what a
//! transfer costs happens in the kernel, on behalf of the transfer but out of the
//! scheduler's reach: the loopback or network receive path, copies into the page cache, the
//! file system's journal and writeback threads, each `fsync`. A kernel built without
//! preemption (`PREEMPT_NONE`, common on servers) lets a thread in a system call keep its
//! core until it returns, whatever its priority; and work done in softirq and kernel
//! threads has no priority of the transfer's at all. A transfer that does not make the next
//! system call, though, costs nothing: its socket's window closes and its peer stops
//! sending. So the transfer simply does not take its next step while chat output waits.
//!
//! A transfer is never starved. Each wait ends after `limit` even if the backlog has not
//! emptied (a member whose client stops reading or answering keeps the backlog busy until
//! its queue fills or its dialog times out), and after a wait that ran to its limit,
//! transfers go on for as long again without waiting: whatever the chat does, they keep at
//! least half their time. With no chat output queued, a step pays one atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parlance_chat::backlog::OutputBacklog;
use parlance_clock::Clock;
use parlance_metrics::Counter;

/// Whether a transfer may take its next step; one per server, shared by every transfer.
#[derive(Debug)]
pub struct ChatFirst {
    backlog: OutputBacklog,
    clock: Clock,
    /// The longest one wait lasts; zero: transfers never wait.
    limit: Duration,
    /// Transfers go on without waiting until this many milliseconds after `epoch`, on
    /// `clock`: set when a wait runs to its limit.
    free_until_ms: AtomicU64,
    epoch: Instant,
    waits: Counter,
    waits_at_limit: Counter,
}

impl ChatFirst {
    /// `limit`: the longest one wait lasts, zero for never. `waits` counts every wait,
    /// `waits_at_limit` those that `limit` ended.
    pub fn new(
        backlog: OutputBacklog,
        clock: Clock,
        limit: Duration,
        waits: Counter,
        waits_at_limit: Counter,
    ) -> ChatFirst {
        let epoch = clock.now();
        ChatFirst {
            backlog,
            clock,
            limit,
            free_until_ms: AtomicU64::new(0),
            epoch,
            waits,
            waits_at_limit,
        }
    }

    /// Returns once the transfer may take its next step: at once when no chat output is
    /// waiting, otherwise when it has gone out or `limit` has passed.
    pub(crate) async fn turn(&self) {
        if self.limit.is_zero() || !self.backlog.is_busy() || self.free() {
            return;
        }
        self.waits.inc();
        if !self.backlog.idle_within(&self.clock, self.limit).await {
            self.waits_at_limit.inc();
            let until = self.millis() + millis(self.limit);
            self.free_until_ms.fetch_max(until, Ordering::AcqRel);
        }
    }

    fn free(&self) -> bool {
        self.millis() < self.free_until_ms.load(Ordering::Acquire)
    }

    fn millis(&self) -> u64 {
        millis(self.clock.now().saturating_duration_since(self.epoch))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_first(backlog: &OutputBacklog, clock: &Clock, limit: Duration) -> ChatFirst {
        ChatFirst::new(
            backlog.clone(),
            clock.clone(),
            limit,
            Counter::default(),
            Counter::default(),
        )
    }

    #[tokio::test]
    async fn without_chat_output_or_without_a_limit_nothing_waits() {
        let (backlog, clock) = (OutputBacklog::new(), Clock::default());
        let gate = chat_first(&backlog, &clock, Duration::from_secs(3600));
        gate.turn().await;
        backlog.queued();
        let never = chat_first(&backlog, &clock, Duration::ZERO);
        never.turn().await;
        assert_eq!(gate.waits.get() + never.waits.get(), 0);
    }

    #[tokio::test]
    async fn after_a_wait_to_its_limit_transfers_go_on_as_long_without_waiting() {
        let (backlog, clock) = (OutputBacklog::new(), Clock::default());
        let gate = std::sync::Arc::new(chat_first(&backlog, &clock, Duration::from_secs(10)));
        backlog.queued();
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.turn().await }
        });
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(11));
        waiting.await.unwrap();
        assert_eq!((gate.waits.get(), gate.waits_at_limit.get()), (1, 1));
        // Still busy, but the next steps within the limit do not wait.
        gate.turn().await;
        clock.advance(Duration::from_secs(9));
        gate.turn().await;
        assert_eq!(gate.waits.get(), 1);
    }
}
