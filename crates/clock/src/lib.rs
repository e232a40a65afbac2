//! The server's notion of time, shared by everything that reads it: the front end
//! (registrations, nonces, throttling), the chat dialogs (session timers) and the chat
//! core (timestamps, search rates). Production reads the system clocks; tests advance a
//! manual offset to expire what they need without waiting. It is a crate of its own so
//! that the chat core, which sits below the server, reads the same clock.
//!
//! Timers run on it too ([`Clock::sleep_until`]): a deadline passes when real time reaches
//! it or when a test advances the clock past it, so connection and transaction timeouts
//! can be tested without waiting for them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicU64>,
    /// Wakes the sleepers when the clock is advanced.
    advanced: Arc<tokio::sync::Notify>,
}

impl Clock {
    pub fn now(&self) -> Instant {
        Instant::now() + self.offset()
    }

    /// Seconds since the Unix epoch.
    pub fn unix_secs(&self) -> u64 {
        self.since_epoch().as_secs()
    }

    /// Nanoseconds since the Unix epoch: timestamps as the store keeps them.
    pub fn unix_nanos(&self) -> i64 {
        i64::try_from(self.since_epoch().as_nanos()).unwrap_or(i64::MAX)
    }

    /// Moves this clock (and every clone of it) forward; timers whose deadline it passes
    /// fire.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
        self.advanced.notify_waiters();
    }

    /// Waits until this clock reads `deadline` (an instant of [`Clock::now`]).
    pub async fn sleep_until(&self, deadline: Instant) {
        loop {
            // Created before the clock is read, so that an advance in between wakes it.
            let advanced = self.advanced.notified();
            let now = self.now();
            if now >= deadline {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(deadline - now) => {}
                () = advanced => {}
            }
        }
    }

    /// Waits `duration` on this clock.
    pub async fn sleep(&self, duration: Duration) {
        self.sleep_until(self.now() + duration).await;
    }

    fn since_epoch(&self) -> Duration {
        (SystemTime::now() + self.offset())
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }

    fn offset(&self) -> Duration {
        Duration::from_millis(self.offset_ms.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_advance_past_the_deadline_ends_a_sleep() {
        let clock = Clock::default();
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep(Duration::from_secs(3600)).await }
        });
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(1800));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "half way is not there");
        clock.advance(Duration::from_secs(1800));
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("the advance ended the sleep")
            .unwrap();
    }
}
