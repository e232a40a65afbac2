//! Throttling of failed sign-ins, one for every door into an account: the SIP front end
//! (Digest, NTLM) and the room-management web application share it. It must slow whoever guesses, not the account's owner: a
//! lock-out per account lets anyone lock anyone out. Failures are counted per (account,
//! source address) and per source address; past a number of free failures each further one
//! makes that key wait before its next attempt is even checked, twice as long each time up
//! to a cap. The right password from another address is never held up by failures made
//! elsewhere, so there is deliberately no ceiling per account alone.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use parlance_clock::Clock;
use parlance_metrics::Counter;

#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    /// Failures for one account from one address before that pair starts waiting.
    pub per_account_address: u32,
    /// Failures from one address, whatever the accounts, before that address starts waiting.
    pub per_address: u32,
    /// The first wait; each further failure doubles it.
    pub first_delay_secs: u64,
    pub max_delay_secs: u64,
    /// A key's failures are forgotten after this long without a new one.
    pub window_secs: u64,
}

/// An attempt refused unchecked: which key waits, and for how many more seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub key: &'static str,
    pub secs: u64,
}

const PAIR: &str = "account+address";
const ADDRESS: &str = "address";

#[derive(Debug)]
pub struct Throttle {
    limits: ThrottleLimits,
    clock: Clock,
    pairs: Mutex<HashMap<(String, IpAddr), Entry>>,
    addresses: Mutex<HashMap<IpAddr, Entry>>,
    /// Every failure recorded, for the metrics.
    failures: Counter,
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    failures: u32,
    /// Unix seconds of the last failure.
    last: u64,
    /// No attempt is checked before this (unix seconds).
    until: u64,
}

impl Entry {
    /// Counts a failure; returns the wait it starts, if any.
    fn fail(&mut self, now: u64, free: u32, limits: &ThrottleLimits) -> Option<u64> {
        if now.saturating_sub(self.last) > limits.window_secs {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        self.last = now;
        let beyond = self.failures.checked_sub(free)?;
        let delay = limits
            .first_delay_secs
            .saturating_mul(1u64 << beyond.min(32))
            .min(limits.max_delay_secs);
        self.until = now + delay;
        Some(delay)
    }

    fn stale(&self, now: u64, window_secs: u64) -> bool {
        self.until <= now && now.saturating_sub(self.last) > window_secs
    }
}

impl Throttle {
    /// `failures` counts every failure recorded (the server's metric).
    pub fn new(limits: ThrottleLimits, clock: Clock, failures: Counter) -> Throttle {
        Throttle {
            limits,
            clock,
            pairs: Mutex::new(HashMap::new()),
            addresses: Mutex::new(HashMap::new()),
            failures,
        }
    }

    /// Whether an attempt for `account` from `ip` must wait (it is then refused unchecked).
    pub fn check(&self, account: &str, ip: IpAddr) -> Option<Wait> {
        let now = self.clock.unix_secs();
        let pair = lock(&self.pairs)
            .get(&(key(account), ip))
            .map_or(0, |e| e.until.saturating_sub(now));
        let address = lock(&self.addresses)
            .get(&ip)
            .map_or(0, |e| e.until.saturating_sub(now));
        match (pair, address) {
            (0, 0) => None,
            (p, a) if p >= a => Some(Wait { key: PAIR, secs: p }),
            (_, a) => Some(Wait {
                key: ADDRESS,
                secs: a,
            }),
        }
    }

    pub fn record_failure(&self, account: &str, ip: IpAddr) {
        self.failures.inc();
        let now = self.clock.unix_secs();
        let l = &self.limits;
        let pair = lock(&self.pairs)
            .entry((key(account), ip))
            .or_default()
            .fail(now, l.per_account_address, l);
        let address = lock(&self.addresses)
            .entry(ip)
            .or_default()
            .fail(now, l.per_address, l);
        if let Some(delay_secs) = pair {
            tracing::warn!(%account, %ip, delay_secs, "failed sign-ins: this account from this address waits");
        }
        if let Some(delay_secs) = address {
            tracing::warn!(%ip, delay_secs, "failed sign-ins: this address waits, whatever the account");
        }
    }

    /// The right password: the pair's failures are forgotten (the address's are not, or
    /// one account of one's own would wipe the count of guesses at others).
    pub fn record_success(&self, account: &str, ip: IpAddr) {
        lock(&self.pairs).remove(&(key(account), ip));
    }

    /// Forgets the failures of `account` from every address, and those addresses' own
    /// counts (`parlance user unlock`). Returns how many addresses were concerned.
    pub fn unlock(&self, account: &str) -> usize {
        let account = key(account);
        let mut ips = Vec::new();
        lock(&self.pairs).retain(|(a, ip), _| {
            let hit = *a == account;
            if hit {
                ips.push(*ip);
            }
            !hit
        });
        let mut addresses = lock(&self.addresses);
        for ip in &ips {
            addresses.remove(ip);
        }
        ips.len()
    }

    /// Forgets keys that neither wait nor failed within the window.
    pub fn sweep(&self) {
        let now = self.clock.unix_secs();
        let window = self.limits.window_secs;
        lock(&self.pairs).retain(|_, e| !e.stale(now, window));
        lock(&self.addresses).retain(|_, e| !e.stale(now, window));
    }
}

/// Accounts are found without regard to case, so guesses at `Alice` and `alice` count
/// together.
fn key(account: &str) -> String {
    account.to_ascii_lowercase()
}

fn lock<K: Eq + Hash>(
    m: &Mutex<HashMap<K, Entry>>,
) -> std::sync::MutexGuard<'_, HashMap<K, Entry>> {
    m.lock().expect("throttle lock")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const ALICE: &str = "sip:alice@example.com";

    fn throttle() -> Throttle {
        Throttle::new(
            ThrottleLimits {
                per_account_address: 3,
                per_address: 10,
                first_delay_secs: 2,
                max_delay_secs: 60,
                window_secs: 600,
            },
            Clock::default(),
            Counter::default(),
        )
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn waits_grow_to_the_cap_for_the_guessing_address_only() {
        let t = throttle();
        let attacker = ip("192.0.2.1");
        t.record_failure(ALICE, attacker);
        t.record_failure(ALICE, attacker);
        assert_eq!(t.check(ALICE, attacker), None, "two free failures");
        let mut waits = Vec::new();
        for _ in 0..6 {
            t.record_failure(ALICE, attacker);
            let wait = t.check(ALICE, attacker).expect("waits");
            assert_eq!(wait.key, PAIR);
            waits.push(wait.secs);
            let other_case = t.check("sip:ALICE@example.com", attacker);
            assert_eq!(other_case, Some(wait), "guesses count whatever the case");
            t.clock.advance(Duration::from_secs(wait.secs));
            assert_eq!(t.check(ALICE, attacker), None, "the wait ends");
        }
        assert_eq!(waits, [2, 4, 8, 16, 32, 60]);
        assert_eq!(t.check(ALICE, ip("192.0.2.2")), None, "the owner elsewhere");
        assert_eq!(t.check("sip:bob@example.com", attacker), None);
    }

    #[test]
    fn one_address_guessing_many_accounts_waits_for_all() {
        let t = throttle();
        let attacker = ip("192.0.2.1");
        for n in 0..10 {
            t.record_failure(&format!("sip:u{n}@example.com"), attacker);
        }
        let wait = t.check("sip:bob@example.com", attacker).expect("waits");
        assert_eq!((wait.key, wait.secs), (ADDRESS, 2));
        assert_eq!(t.check("sip:bob@example.com", ip("192.0.2.2")), None);
    }

    #[test]
    fn success_unlock_and_quiet_forget() {
        let t = throttle();
        let home = ip("192.0.2.9");
        for _ in 0..3 {
            t.record_failure(ALICE, home);
        }
        assert!(t.check(ALICE, home).is_some());
        assert_eq!(t.unlock(ALICE), 1);
        assert_eq!(t.check(ALICE, home), None);
        for _ in 0..2 {
            t.record_failure(ALICE, home);
        }
        t.record_success(ALICE, home);
        t.record_failure(ALICE, home);
        assert_eq!(t.check(ALICE, home), None, "the count started over");
        t.record_failure(ALICE, home);
        t.clock.advance(Duration::from_secs(601));
        t.record_failure(ALICE, home);
        assert_eq!(t.check(ALICE, home), None, "old failures were forgotten");
        t.sweep();
        t.clock.advance(Duration::from_secs(601));
        t.sweep();
        assert!(lock(&t.pairs).is_empty() && lock(&t.addresses).is_empty());
    }
}
