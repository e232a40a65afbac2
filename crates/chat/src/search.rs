//! What one user's searches may cost: the size of a query, and how often they may ask. A
//! search runs on the store's search connections under a time limit; these bounds keep any
//! one query small and any one user from filling those connections.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use parlance_store::StoreError;
use parlance_store::history::search_terms;
use xccos::ResponseCode;

use crate::{ChatService, Principal};

/// Bounds on searches of history (`cmd:bccontext` with a query) and of rooms
/// (`cmd:chansrch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    /// Longest query, in bytes of UTF-8.
    pub max_bytes: usize,
    /// Most words in a history query (each is one term of the full-text query).
    pub max_terms: usize,
    /// Searches one principal may make in a burst …
    pub burst: u32,
    /// … and how many a minute on average after it.
    pub per_minute: u32,
}

/// Why a query is refused before it runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryRefused {
    #[error("query of {bytes} bytes, more than {limit}")]
    TooLong { bytes: usize, limit: usize },
    #[error("query of more than {limit} words")]
    TooManyTerms { limit: usize },
}

impl SearchLimits {
    /// Checks a history query: its length, then its words (counted as the search splits
    /// them, and no further than one past the limit).
    pub fn check_history_query(&self, text: &str) -> Result<(), QueryRefused> {
        self.check_length(text)?;
        if search_terms(text).take(self.max_terms + 1).count() > self.max_terms {
            return Err(QueryRefused::TooManyTerms {
                limit: self.max_terms,
            });
        }
        Ok(())
    }

    /// Checks a room search's criteria, which match as one substring: its length only.
    pub fn check_length(&self, text: &str) -> Result<(), QueryRefused> {
        if text.len() > self.max_bytes {
            return Err(QueryRefused::TooLong {
                bytes: text.len(),
                limit: self.max_bytes,
            });
        }
        Ok(())
    }
}

/// Whether a principal may search now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Over the rate. `first` is the first refusal since the principal's last allowed
    /// search: the one to log, so that a client hammering away makes one line, not many.
    Refused {
        first: bool,
    },
}

/// A token bucket per principal: `burst` searches at once, refilled at `per_minute`.
#[derive(Debug)]
pub(crate) struct SearchRate {
    limits: SearchLimits,
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    by_principal: HashMap<i64, Bucket>,
    /// Full buckets are dropped when the map grows to this size (a full bucket is the same
    /// as none), so the map holds about the principals who searched lately.
    prune_at: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    refusing: bool,
}

/// The map is not pruned below this many principals.
const PRUNE_FLOOR: usize = 1024;

impl SearchRate {
    pub(crate) fn new(limits: SearchLimits) -> SearchRate {
        SearchRate {
            limits,
            buckets: Mutex::new(Buckets {
                by_principal: HashMap::new(),
                prune_at: PRUNE_FLOOR,
            }),
        }
    }

    /// Takes one search from `principal`'s bucket if it holds one.
    pub(crate) fn admit(&self, principal: i64, now: Instant) -> Admission {
        let burst = f64::from(self.limits.burst.max(1));
        let per_sec = f64::from(self.limits.per_minute) / 60.0;
        let refill = |b: &mut Bucket| {
            let secs = now.saturating_duration_since(b.at).as_secs_f64();
            b.tokens = (b.tokens + secs * per_sec).min(burst);
            b.at = now;
        };
        let mut buckets = self.buckets.lock().expect("search rate lock");
        if buckets.by_principal.len() >= buckets.prune_at {
            buckets.by_principal.retain(|_, b| {
                refill(b);
                b.tokens < burst
            });
            buckets.prune_at = (buckets.by_principal.len() * 2).max(PRUNE_FLOOR);
        }
        let bucket = buckets.by_principal.entry(principal).or_insert(Bucket {
            tokens: burst,
            at: now,
            refusing: false,
        });
        refill(bucket);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            bucket.refusing = false;
            return Admission::Allowed;
        }
        let first = !bucket.refusing;
        bucket.refusing = true;
        Admission::Refused { first }
    }
}

impl ChatService {
    /// Lets a search by `principal` run, or says with which code to refuse it: over the
    /// principal's rate, or `bounds` (the query's check) failed. Every attempt counts
    /// against the rate, refused ones included, so probing for the bounds is rate-limited
    /// too.
    pub(crate) fn admit_search(
        &self,
        principal: &Principal,
        bounds: Result<(), QueryRefused>,
    ) -> Result<(), ResponseCode> {
        if let Admission::Refused { first } = self.search_rate.admit(principal.id, self.clock.now())
        {
            if first {
                let limits = self.settings.search;
                tracing::warn!(
                    principal = %principal.uri,
                    burst = limits.burst,
                    per_minute = limits.per_minute,
                    "search rate limit hit: this user's searches are refused until the bucket refills"
                );
            }
            return Err(ResponseCode::LimitExceeded);
        }
        bounds.map_err(|refused| {
            tracing::info!(principal = %principal.uri, "search refused: {refused}");
            ResponseCode::LimitExceeded
        })
    }

    /// A search the store stopped at its time limit is refused like a query too large;
    /// other errors stay errors.
    pub(crate) fn stopped_search(
        &self,
        principal: &Principal,
        error: StoreError,
    ) -> Result<ResponseCode, StoreError> {
        match error {
            StoreError::SearchTimeLimit { limit_ms } => {
                tracing::warn!(
                    principal = %principal.uri,
                    limit_ms,
                    "search stopped at its time limit"
                );
                Ok(ResponseCode::LimitExceeded)
            }
            other => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const LIMITS: SearchLimits = SearchLimits {
        max_bytes: 20,
        max_terms: 3,
        burst: 3,
        per_minute: 6,
    };

    #[test]
    fn queries_are_bounded_in_bytes_and_words() {
        assert_eq!(LIMITS.check_history_query("deploy friday"), Ok(()));
        assert_eq!(LIMITS.check_history_query("one, two; three"), Ok(()));
        assert_eq!(
            LIMITS.check_history_query("one two three four"),
            Err(QueryRefused::TooManyTerms { limit: 3 })
        );
        // Punctuation is no word: it does not count, and cannot dodge the length bound.
        assert_eq!(LIMITS.check_history_query("a . . . . . . . . b"), Ok(()));
        assert_eq!(
            LIMITS.check_history_query(&"é".repeat(11)),
            Err(QueryRefused::TooLong {
                bytes: 22,
                limit: 20
            })
        );
        assert_eq!(LIMITS.check_length("one two three four"), Ok(()));
        assert!(LIMITS.check_length(&"x".repeat(21)).is_err());
    }

    #[test]
    fn a_burst_then_the_refill_rate_and_one_logged_refusal_per_streak() {
        let rate = SearchRate::new(LIMITS);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(rate.admit(7, t0), Admission::Allowed);
        }
        assert_eq!(rate.admit(7, t0), Admission::Refused { first: true });
        assert_eq!(rate.admit(7, t0), Admission::Refused { first: false });
        // Other principals have buckets of their own.
        assert_eq!(rate.admit(8, t0), Admission::Allowed);
        // Six a minute: one every ten seconds.
        let t = t0 + Duration::from_secs(9);
        assert_eq!(rate.admit(7, t), Admission::Refused { first: false });
        let t = t0 + Duration::from_secs(10);
        assert_eq!(rate.admit(7, t), Admission::Allowed);
        assert_eq!(rate.admit(7, t), Admission::Refused { first: true });
        // A long pause refills to the burst, no further.
        let t = t + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(rate.admit(7, t), Admission::Allowed);
        }
        assert!(matches!(rate.admit(7, t), Admission::Refused { .. }));
    }

    #[test]
    fn full_buckets_are_forgotten_when_the_map_grows() {
        let rate = SearchRate::new(LIMITS);
        let t0 = Instant::now();
        for p in 0..PRUNE_FLOOR as i64 {
            rate.admit(p, t0);
        }
        // A minute later every bucket is full again: the next newcomer prunes them all.
        let later = t0 + Duration::from_secs(60);
        rate.admit(-1, later);
        let buckets = rate.buckets.lock().unwrap();
        assert_eq!(buckets.by_principal.len(), 1);
        assert_eq!(buckets.prune_at, PRUNE_FLOOR);
    }
}
