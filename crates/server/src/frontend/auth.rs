//! Digest authentication (RFC 7616, RFC 8760 for SIP): stateless HMAC nonces, nonce-count
//! replay checks and throttling of failures per account and per source address.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use parlance_store::{ServerKey, Store};
use rand::RngCore;
use sha2::Sha256;
use sip_proto::auth::{Algorithm, Challenge, Credentials, hex};

use crate::clock::Clock;

/// Outstanding nonces whose counts are remembered; past this, expired ones are swept first.
const MAX_TRACKED_NONCES: usize = 100_000;

#[derive(Debug)]
pub struct DigestAuth {
    secret: [u8; 32],
    /// Offered in this order (RFC 8760 §2.4: a UAC picks the first it supports).
    offered: Vec<Algorithm>,
    realm: String,
    lifetime_secs: u64,
    clock: Clock,
    /// Highest nonce-count seen per nonce, with the nonce's expiry (unix seconds).
    counts: Mutex<HashMap<String, (u32, u64)>>,
    accounts: Throttle,
    addresses: Throttle,
}

/// The outcome of checking credentials.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials prove knowledge of the password.
    Valid,
    /// Correct once, but the nonce has expired: challenge again with `stale=true`.
    Stale,
    /// Wrong password, unknown user, forged or foreign nonce, replayed count, … (the
    /// reason is for the log only; the client learns nothing more than "failed").
    Invalid(&'static str),
}

impl DigestAuth {
    pub fn new(
        realm: &str,
        offered: Vec<Algorithm>,
        lifetime_secs: u64,
        clock: Clock,
        limits: ThrottleLimits,
    ) -> DigestAuth {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        DigestAuth {
            secret,
            offered,
            realm: realm.to_owned(),
            lifetime_secs,
            accounts: Throttle::new(limits.per_account, limits.window_secs, clock.clone()),
            addresses: Throttle::new(limits.per_address, limits.window_secs, clock.clone()),
            clock,
            counts: Mutex::new(HashMap::new()),
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// One challenge per offered algorithm, all with the same fresh nonce.
    pub fn challenges(&self, stale: bool) -> Vec<Challenge> {
        let nonce = self.nonce();
        self.offered
            .iter()
            .map(|&algorithm| Challenge {
                realm: self.realm.clone(),
                nonce: nonce.clone(),
                opaque: None,
                algorithm,
                stale,
            })
            .collect()
    }

    /// `<issued-at hex>.<random hex>.<hmac hex>`: verifiable without server state.
    fn nonce(&self) -> String {
        let issued = self.clock.unix_secs();
        let mut random = [0u8; 8];
        rand::rng().fill_bytes(&mut random);
        let body = format!("{issued:x}.{}", hex(&random));
        format!("{body}.{}", self.mac(&body))
    }

    fn mac(&self, body: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(body.as_bytes());
        mac.update(b"\0");
        mac.update(self.realm.as_bytes());
        hex(&mac.finalize().into_bytes()[..16])
    }

    /// When the nonce was issued, if this server issued it.
    fn nonce_issued_at(&self, nonce: &str) -> Option<u64> {
        let (body, tag) = nonce.rsplit_once('.')?;
        let expected = self.mac(body);
        // Constant-time comparison: the tag is a secret-derived value.
        if expected.len() != tag.len()
            || expected
                .bytes()
                .zip(tag.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return None;
        }
        u64::from_str_radix(body.split('.').next()?, 16).ok()
    }

    /// Whether `account` or `addr` is currently locked out after too many failures.
    pub fn is_throttled(&self, account: &str, addr: IpAddr) -> bool {
        self.accounts.is_over(account) || self.addresses.is_over(&addr.to_string())
    }

    pub fn record_failure(&self, account: &str, addr: IpAddr) {
        self.accounts.record(account);
        self.addresses.record(&addr.to_string());
    }

    /// Checks Digest credentials for `aor` (the account being authenticated).
    pub async fn verify(
        &self,
        store: &Store,
        key: &ServerKey,
        aor_uri: &str,
        method: &str,
        creds: &Credentials,
    ) -> Verdict {
        if creds.realm != self.realm {
            return Verdict::Invalid("foreign realm");
        }
        if !self.offered.contains(&creds.algorithm.base()) {
            return Verdict::Invalid("algorithm not offered");
        }
        let Some(issued) = self.nonce_issued_at(&creds.nonce) else {
            return Verdict::Invalid("nonce not issued by this server");
        };
        if creds.qop.as_deref() != Some("auth") {
            return Verdict::Invalid("qop=auth is required");
        }
        let Some(nc) = creds
            .nc
            .as_deref()
            .and_then(|nc| u32::from_str_radix(nc, 16).ok())
        else {
            return Verdict::Invalid("malformed nonce-count");
        };
        let ha1 = match store
            .digest_ha1(aor_uri, creds.algorithm, &creds.username, &self.realm, key)
            .await
        {
            Ok(Some(ha1)) => ha1,
            Ok(None) => return Verdict::Invalid("no such account or username form"),
            Err(e) => {
                tracing::error!(error = %e, "credential lookup failed");
                return Verdict::Invalid("credential lookup failed");
            }
        };
        let expected = creds.expected_response(&ha1, method);
        let equal = expected.len() == creds.response.len()
            && expected
                .bytes()
                .zip(creds.response.to_ascii_lowercase().bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0;
        if !equal {
            return Verdict::Invalid("wrong password");
        }
        let now = self.clock.unix_secs();
        let expires = issued + self.lifetime_secs;
        if now >= expires {
            return Verdict::Stale;
        }
        if !self.accept_count(&creds.nonce, nc, expires, now) {
            return Verdict::Invalid("replayed nonce-count");
        }
        Verdict::Valid
    }

    /// Records `nc` for `nonce`; false when it is not higher than a count already used.
    fn accept_count(&self, nonce: &str, nc: u32, expires: u64, now: u64) -> bool {
        let mut counts = self.counts.lock().expect("nonce counts lock");
        if counts.len() >= MAX_TRACKED_NONCES {
            counts.retain(|_, (_, exp)| *exp > now);
        }
        match counts.get_mut(nonce) {
            Some((last, _)) if nc <= *last => false,
            Some((last, _)) => {
                *last = nc;
                true
            }
            None => {
                counts.insert(nonce.to_owned(), (nc, expires));
                true
            }
        }
    }

    /// Forgets the counts of expired nonces.
    pub fn sweep(&self) {
        let now = self.clock.unix_secs();
        self.counts
            .lock()
            .expect("nonce counts lock")
            .retain(|_, (_, exp)| *exp > now);
        self.accounts.sweep();
        self.addresses.sweep();
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    pub per_account: u32,
    pub per_address: u32,
    pub window_secs: u64,
}

/// Counts events per key in a sliding window.
#[derive(Debug)]
struct Throttle {
    max: u32,
    window_secs: u64,
    clock: Clock,
    events: Mutex<HashMap<String, VecDeque<u64>>>,
}

impl Throttle {
    fn new(max: u32, window_secs: u64, clock: Clock) -> Throttle {
        Throttle {
            max,
            window_secs,
            clock,
            events: Mutex::new(HashMap::new()),
        }
    }

    fn is_over(&self, key: &str) -> bool {
        let cutoff = self.clock.unix_secs().saturating_sub(self.window_secs);
        let events = self.events.lock().expect("throttle lock");
        events
            .get(key)
            .is_some_and(|q| q.iter().filter(|t| **t > cutoff).count() >= self.max as usize)
    }

    fn record(&self, key: &str) {
        let now = self.clock.unix_secs();
        let cutoff = now.saturating_sub(self.window_secs);
        let mut events = self.events.lock().expect("throttle lock");
        let q = events.entry(key.to_owned()).or_default();
        while q.front().is_some_and(|t| *t <= cutoff) {
            q.pop_front();
        }
        // Only the most recent `max` events matter for the decision.
        if q.len() >= self.max as usize {
            q.pop_front();
        }
        q.push_back(now);
    }

    fn sweep(&self) {
        let cutoff = self.clock.unix_secs().saturating_sub(self.window_secs);
        self.events
            .lock()
            .expect("throttle lock")
            .retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> DigestAuth {
        DigestAuth::new(
            "example.com",
            vec![Algorithm::Md5, Algorithm::Sha256],
            300,
            Clock::default(),
            ThrottleLimits {
                per_account: 3,
                per_address: 5,
                window_secs: 60,
            },
        )
    }

    #[test]
    fn nonces_are_verifiable_and_unforgeable() {
        let a = auth();
        let nonce = a.challenges(false)[0].nonce.clone();
        assert!(a.nonce_issued_at(&nonce).is_some());
        let mut forged = nonce.clone();
        forged.replace_range(0..1, if forged.starts_with('1') { "2" } else { "1" });
        assert_eq!(a.nonce_issued_at(&forged), None);
        assert_eq!(
            auth().nonce_issued_at(&nonce),
            None,
            "another server's secret"
        );
    }

    #[test]
    fn nonce_counts_must_increase() {
        let a = auth();
        assert!(a.accept_count("n", 1, u64::MAX, 0));
        assert!(!a.accept_count("n", 1, u64::MAX, 0));
        assert!(a.accept_count("n", 2, u64::MAX, 0));
        assert!(!a.accept_count("n", 1, u64::MAX, 0));
    }

    #[test]
    fn throttle_locks_out_after_max_failures() {
        let a = auth();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(!a.is_throttled("sip:alice@example.com", ip));
            a.record_failure("sip:alice@example.com", ip);
        }
        assert!(a.is_throttled("sip:alice@example.com", ip));
        assert!(!a.is_throttled("sip:bob@example.com", "192.0.2.2".parse().unwrap()));
        a.clock.advance(std::time::Duration::from_secs(61));
        assert!(!a.is_throttled("sip:alice@example.com", ip));
    }
}
