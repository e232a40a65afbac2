//! The chat's output still on its way: how many connections have messages queued that their
//! writer has not yet written, and how many chat dialogs have deliveries their member has
//! not yet answered. Work that must come after the chat (file transfers) reads it to give
//! way while a room's fan-out is going out ([`OutputBacklog::idle_within`]). A delivery
//! counts until it is answered, not only until it is written: the server writes a post's
//! thousand deliveries in a few milliseconds, but the members still have to read, decrypt
//! and answer them, and the server to read and match the answers, and that is the time a
//! transfer's work (much of it in the kernel, out of any priority's reach) delays.
//!
//! It is kept where it changes for free. Each connection already counts its own queued
//! bytes with an atomic add, and each dialog its unanswered requests under a lock it
//! holds anyway; they move this server-wide count only when their own goes from nothing to
//! something and back ([`OutputBacklog::queued`], [`OutputBacklog::drained`]): once per
//! batch a writer takes or per burst a member answers, never under a lock of its own. A
//! post to a thousand members moves it a thousand times up and as many down, next to the
//! thousands of atomic adds the deliveries make anyway. Readers pay one atomic load.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parlance_clock::Clock;
use tokio::sync::Notify;

/// Connections with output queued and not yet written, and dialogs with deliveries not
/// yet answered, server-wide; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct OutputBacklog {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    busy: AtomicUsize,
    /// Wakes those waiting for the backlog to empty.
    drained: Notify,
}

impl OutputBacklog {
    pub fn new() -> OutputBacklog {
        OutputBacklog::default()
    }

    /// A connection's queue (or a dialog's unanswered requests) went from empty to holding
    /// something.
    pub fn queued(&self) {
        self.inner.busy.fetch_add(1, Ordering::AcqRel);
    }

    /// That emptied again: written or answered, or thrown away with its connection or
    /// dialog. Called exactly once for each [`Self::queued`].
    pub fn drained(&self) {
        let before = self.inner.busy.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(before > 0, "drained more often than queued");
        if before == 1 {
            // Without waiters this is one atomic add, no lock.
            self.inner.drained.notify_waiters();
        }
    }

    /// Whether some output is on its way.
    pub fn is_busy(&self) -> bool {
        self.inner.busy.load(Ordering::Acquire) > 0
    }

    /// Waits until no output is on its way, or until `limit` has passed on `clock`. True
    /// when the backlog emptied, false when the limit ended the wait.
    pub async fn idle_within(&self, clock: &Clock, limit: Duration) -> bool {
        let deadline = clock.now() + limit;
        loop {
            // Registered before the count is read, so that a drain in between wakes it.
            let drained = self.inner.drained.notified();
            let mut drained = std::pin::pin!(drained);
            drained.as_mut().enable();
            if !self.is_busy() {
                return true;
            }
            tokio::select! {
                () = drained => {}
                () = clock.sleep_until(deadline) => return !self.is_busy(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wait_ends_when_the_last_queue_drains() {
        let backlog = OutputBacklog::new();
        let clock = Clock::default();
        assert!(backlog.idle_within(&clock, Duration::ZERO).await);
        backlog.queued();
        backlog.queued();
        assert!(backlog.is_busy());
        let waiter = tokio::spawn({
            let (backlog, clock) = (backlog.clone(), clock.clone());
            async move { backlog.idle_within(&clock, Duration::from_secs(3600)).await }
        });
        backlog.drained();
        assert!(backlog.is_busy(), "one connection still has output");
        backlog.drained();
        assert!(waiter.await.unwrap(), "woken by the drain, not the limit");
        assert!(!backlog.is_busy());
    }

    #[tokio::test]
    async fn a_wait_ends_at_its_limit_while_output_stays_queued() {
        let backlog = OutputBacklog::new();
        let clock = Clock::default();
        backlog.queued();
        let waiter = tokio::spawn({
            let (backlog, clock) = (backlog.clone(), clock.clone());
            async move { backlog.idle_within(&clock, Duration::from_secs(3600)).await }
        });
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(3601));
        assert!(!waiter.await.unwrap(), "ended by the limit");
        assert!(backlog.is_busy());
    }
}
