//! Whether the server is still there. TCP alone does not say: a server whose machine died
//! or whose network went away leaves the connection open and silent, and a client that is
//! only listening would wait for ever. So after `interval` without hearing anything the
//! session sends an OPTIONS (any answer, even a refusal, proves the server is alive), and
//! when nothing at all arrives within `timeout` of it the connection counts as lost.
//!
//! Pings go out only while the session is idle: while it waits for an answer of its own,
//! the request's timeout bounds the wait instead, and a server busy with a slow request is
//! not mistaken for a dead one.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub(crate) struct Liveness {
    interval: Duration,
    timeout: Duration,
    heard: Instant,
    /// When the unanswered ping went out.
    pinged: Option<Instant>,
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Fine,
    Ping,
    Dead,
}

impl Liveness {
    pub fn new(interval: Duration, timeout: Duration, now: Instant) -> Liveness {
        Liveness {
            interval,
            timeout,
            heard: now,
            pinged: None,
        }
    }

    /// Something arrived from the server.
    pub fn heard(&mut self, now: Instant) {
        self.heard = now;
        self.pinged = None;
    }

    pub fn check(&mut self, now: Instant) -> Check {
        match self.pinged {
            Some(at) if now >= at + self.timeout => Check::Dead,
            Some(_) => Check::Fine,
            None if now >= self.heard + self.interval => {
                self.pinged = Some(now);
                Check::Ping
            }
            None => Check::Fine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn silence_brings_one_ping_then_death() {
        let t0 = Instant::now();
        let mut l = Liveness::new(10 * S, 5 * S, t0);
        assert_eq!(l.check(t0 + 9 * S), Check::Fine);
        assert_eq!(l.check(t0 + 10 * S), Check::Ping);
        assert_eq!(l.check(t0 + 14 * S), Check::Fine, "one ping at a time");
        assert_eq!(l.check(t0 + 15 * S), Check::Dead);
    }

    #[test]
    fn any_answer_keeps_the_connection() {
        let t0 = Instant::now();
        let mut l = Liveness::new(10 * S, 5 * S, t0);
        assert_eq!(l.check(t0 + 10 * S), Check::Ping);
        l.heard(t0 + 12 * S);
        assert_eq!(
            l.check(t0 + 20 * S),
            Check::Fine,
            "silence counts from the answer"
        );
        assert_eq!(l.check(t0 + 22 * S), Check::Ping);
        l.heard(t0 + 23 * S);
        assert_eq!(l.check(t0 + 30 * S), Check::Fine);
    }
}
