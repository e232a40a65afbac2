//! Digest authentication (RFC 7616, RFC 8760 for SIP): stateless HMAC nonces and nonce-count
//! replay checks. Failures are throttled by the front end ([`super::throttle`]).

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use parlance_store::{ServerKey, Store};
use rand::RngCore;
use sha2::Sha256;
use sip_proto::auth::{Algorithm, Challenge, Credentials};

use parlance_clock::Clock;

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
    ) -> DigestAuth {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        DigestAuth {
            secret,
            offered,
            realm: realm.to_owned(),
            lifetime_secs,
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
        let body = format!("{issued:x}.{}", hex::encode(random));
        format!("{body}.{}", self.mac(&body))
    }

    fn mac(&self, body: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(body.as_bytes());
        mac.update(b"\0");
        mac.update(self.realm.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
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
}
