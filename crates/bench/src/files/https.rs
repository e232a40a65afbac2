//! The client side of HTTPS in the files scenario: one HTTP/1.1 connection (hyper) over the
//! TLS every scenario dials with, request bodies already in memory (so that the load
//! generator spends as little as it can per byte), and answers read whole or hashed as
//! they stream. The file's bytes are made once, with their SHA-256, so that every download
//! is checked against what was sent.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::HOST;
use hyper::http::request;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use crate::error::BenchError;
use crate::wire::Dialer;

/// Largest short answer read (JSON, SOAP around one chunk is read with its own limit).
pub const MAX_SHORT_ANSWER: usize = 64 * 1024;

/// How much of a paced body goes at a time.
const PACE_STEP: usize = 64 * 1024;

/// A request body: bytes already in memory, sent whole or paced.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// `bytes` as fast as the connection takes them.
pub fn whole(bytes: Bytes) -> Body {
    Full::new(bytes).boxed_unsync()
}

/// `bytes` at `bytes_per_sec`, a step at a time, as a client on a slower link sends them.
pub fn paced(bytes: Bytes, bytes_per_sec: f64) -> Body {
    let start = tokio::time::Instant::now();
    let steps = futures_util::stream::unfold(0, move |at| {
        let bytes = bytes.clone();
        async move {
            if at >= bytes.len() {
                return None;
            }
            let due = start + Duration::from_secs_f64(at as f64 / bytes_per_sec);
            tokio::time::sleep_until(due).await;
            let end = (at + PACE_STEP).min(bytes.len());
            Some((Ok(Frame::data(bytes.slice(at..end))), end))
        }
    });
    StreamBody::new(steps).boxed_unsync()
}

/// One keep-alive HTTP/1.1 connection over TLS.
#[derive(Debug)]
pub struct Connection {
    sender: SendRequest<Body>,
    /// The `Host` of every request: the server's address.
    host: String,
}

impl Connection {
    /// Connects from `from` to `to`, trusting what `dialer` trusts.
    pub async fn open(
        dialer: &Dialer,
        from: IpAddr,
        to: SocketAddr,
    ) -> Result<Connection, BenchError> {
        let (stream, _) = dialer.connect(from, to).await?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?;
        // The connection does the I/O; it ends when the sender is dropped. Its failures
        // reach the request waiting on it.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "HTTPS connection failed");
            }
        });
        Ok(Connection {
            sender,
            host: to.to_string(),
        })
    }

    /// A request for `path` on this connection's server; the caller adds headers.
    pub fn request(&self, method: Method, path: &str) -> request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.host)
    }

    /// Sends `request` with `body` and waits for the answer's head.
    pub async fn send(
        &mut self,
        request: request::Builder,
        body: Body,
    ) -> Result<Response<Incoming>, BenchError> {
        let request = request
            .body(body)
            .map_err(|e| BenchError::Http(format!("cannot make the request: {e}")))?;
        self.sender
            .ready()
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?;
        self.sender
            .send_request(request)
            .await
            .map_err(|e| BenchError::Http(e.to_string()))
    }
}

/// A body read whole, up to `limit` bytes.
pub async fn read_all(body: Incoming, limit: usize) -> Result<Bytes, BenchError> {
    Ok(Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| BenchError::Http(format!("reading an answer: {e}")))?
        .to_bytes())
}

/// An answer that is not `expected`, as an error that says what the server said.
pub async fn unexpected(response: Response<Incoming>, expected: StatusCode) -> BenchError {
    let status = response.status();
    let said = read_all(response.into_body(), MAX_SHORT_ANSWER)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    BenchError::Http(format!("{status} where {expected} was expected: {said}"))
}

/// The bytes of the file every way of transfer moves: pseudo-random, so incompressible as
/// real files are, made once up front; and their SHA-256.
#[derive(Debug, Clone)]
pub struct Content {
    pub bytes: Bytes,
    sha256: [u8; 32],
}

impl Content {
    pub fn new(len: usize) -> Content {
        let mut bytes = vec![0u8; len];
        StdRng::seed_from_u64(12).fill_bytes(&mut bytes);
        let sha256 = Sha256::digest(&bytes).into();
        Content {
            bytes: Bytes::from(bytes),
            sha256,
        }
    }

    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// What a download brought: its length and SHA-256, taken as it streamed.
#[derive(Debug, Default)]
pub struct Received {
    hasher: Sha256,
    len: u64,
}

impl Received {
    pub fn add(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.len += data.len() as u64;
    }

    /// Takes in a whole streamed body.
    pub async fn body(&mut self, mut body: Incoming) -> Result<(), BenchError> {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BenchError::Http(format!("download broke off: {e}")))?;
            if let Ok(data) = frame.into_data() {
                self.add(&data);
            }
        }
        Ok(())
    }

    /// Fails unless what arrived is `content`, byte for byte; `what` names the transfer.
    pub fn check(self, content: &Content, what: &str) -> Result<(), BenchError> {
        let sha256: [u8; 32] = self.hasher.finalize().into();
        if self.len != content.len() || sha256 != content.sha256 {
            return Err(BenchError::Failed(format!(
                "{what}: {} bytes came back that are not the {} sent",
                self.len,
                content.len()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_paced_body_sends_every_byte_in_order() {
        let content = Content::new(3 * PACE_STEP + 10);
        let sent = paced(content.bytes.clone(), 1e9).collect().await.unwrap();
        assert_eq!(sent.to_bytes(), content.bytes);
    }

    #[test]
    fn only_the_same_bytes_pass_the_check() {
        let content = Content::new(1000);
        assert_eq!(content.len(), 1000);
        let mut same = Received::default();
        same.add(&content.bytes[..400]);
        same.add(&content.bytes[400..]);
        same.check(&content, "same").expect("the same bytes");

        let mut short = Received::default();
        short.add(&content.bytes[..999]);
        assert!(short.check(&content, "short").is_err());

        let mut changed = content.bytes.to_vec();
        changed[500] ^= 1;
        let mut other = Received::default();
        other.add(&changed);
        assert!(other.check(&content, "changed").is_err());
    }
}
