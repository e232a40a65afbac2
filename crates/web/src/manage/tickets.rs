//! Sign-in tickets already used. A ticket (signed by the chat core, valid two minutes)
//! starts one session only: whoever sees the link afterwards — in a browser's history, a
//! proxy's log — gets nothing from it. Spent tickets are kept until they would have expired
//! anyway, and only so many: when the table is full, tickets are refused (the user signs in
//! with a password) rather than forgotten early.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use parlance_clock::Clock;

/// At least a ticket's lifetime (the chat core's is 120 s).
const KEEP: Duration = Duration::from_secs(180);
const MAX_SPENT: usize = 10_000;

#[derive(Debug)]
pub struct SpentTickets {
    clock: Clock,
    spent: Mutex<HashMap<String, Instant>>,
}

impl SpentTickets {
    pub fn new(clock: Clock) -> SpentTickets {
        SpentTickets {
            clock,
            spent: Mutex::new(HashMap::new()),
        }
    }

    /// Marks `ticket` spent; false when it already was, or there is no room to remember it.
    pub fn spend(&self, ticket: &str) -> bool {
        let now = self.clock.now();
        let mut spent = self.spent.lock().expect("spent tickets lock");
        if spent.contains_key(ticket) {
            return false;
        }
        if spent.len() >= MAX_SPENT {
            spent.retain(|_, at| now.duration_since(*at) < KEEP);
            if spent.len() >= MAX_SPENT {
                return false;
            }
        }
        spent.insert(ticket.to_owned(), now);
        true
    }

    pub fn sweep(&self) {
        let now = self.clock.now();
        self.spent
            .lock()
            .expect("spent tickets lock")
            .retain(|_, at| now.duration_since(*at) < KEEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_each_then_forgotten_after_their_lifetime() {
        let t = SpentTickets::new(Clock::default());
        assert!(t.spend("a"));
        assert!(!t.spend("a"));
        assert!(t.spend("b"));
        t.clock.advance(KEEP);
        t.sweep();
        assert!(t.spent.lock().unwrap().is_empty());
    }
}
