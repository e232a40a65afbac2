//! The server's notion of time, shared by everything that reads it: the front end
//! (registrations, nonces, throttling), the chat dialogs (session timers) and the chat
//! core (timestamps, search rates). Production reads the system clocks; tests advance a
//! manual offset to expire what they need without waiting. It is a crate of its own so
//! that the chat core, which sits below the server, reads the same clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicU64>,
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

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
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
