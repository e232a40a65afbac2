//! Request bodies under their limits. Each route sets its own size limit (a SOAP request
//! holds one chunk; a plain upload a whole file); the pace is the listener's. A declared
//! `Content-Length` over the limit is refused before a byte of the body is read — hyper
//! reads a body only when it is asked for, and closes the connection after the answer when
//! it was not read — and a body that does not arrive in time is cut off.

use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use parlance_clock::Clock;

/// How fast a request body must arrive: within `timeout` plus the time its length takes at
/// `min_bytes_per_sec`.
#[derive(Debug, Clone, Copy)]
pub struct BodyPace {
    pub timeout: Duration,
    pub min_bytes_per_sec: u64,
}

impl BodyPace {
    fn allowance(&self, len: u64) -> Duration {
        self.timeout + Duration::from_secs(len / self.min_bytes_per_sec.max(1))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("request body too slow")]
    TooSlow,
    #[error("request body cut short: {0}")]
    Broken(axum::Error),
}

/// A request body read frame by frame: never more than its limit, never after its
/// deadline.
#[derive(Debug)]
pub struct BodyReader {
    body: Body,
    declared: Option<u64>,
    limit: u64,
    received: u64,
    deadline: Instant,
    clock: Clock,
}

impl BodyReader {
    /// Checks the declared length against `limit` before anything is read. The deadline
    /// follows from the declared length, or from the limit when the body is chunked.
    pub(crate) fn new(
        body: Body,
        limit: u64,
        pace: BodyPace,
        clock: Clock,
    ) -> Result<BodyReader, BodyError> {
        // hyper knows the length exactly from a Content-Length (refusing one that is not a
        // number), and knows it is 0 when neither a length nor chunks are announced.
        let declared = body.size_hint().exact();
        if declared.is_some_and(|len| len > limit) {
            return Err(BodyError::TooLarge { limit });
        }
        let deadline = clock.now() + pace.allowance(declared.unwrap_or(limit));
        Ok(BodyReader {
            body,
            declared,
            limit,
            received: 0,
            deadline,
            clock,
        })
    }

    /// The length the request declared (`Content-Length`, or none at all for an empty
    /// body); `None` for a chunked body.
    pub fn declared_len(&self) -> Option<u64> {
        self.declared
    }

    /// The next piece of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            let frame = tokio::select! {
                frame = self.body.frame() => frame,
                () = self.clock.sleep_until(self.deadline) => return Err(BodyError::TooSlow),
            };
            let Some(frame) = frame.transpose().map_err(BodyError::Broken)? else {
                return Ok(None);
            };
            // Trailers carry nothing a route reads.
            let Ok(data) = frame.into_data() else {
                continue;
            };
            self.received += data.len() as u64;
            if self.received > self.limit {
                return Err(BodyError::TooLarge { limit: self.limit });
            }
            return Ok(Some(data));
        }
    }

    /// The whole body, for routes whose limit is small enough to hold it.
    pub async fn to_bytes(mut self) -> Result<Bytes, BodyError> {
        let capacity = self.declared.unwrap_or(0).min(self.limit);
        let mut all = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
        while let Some(data) = self.chunk().await? {
            all.extend_from_slice(&data);
        }
        Ok(all.freeze())
    }
}
