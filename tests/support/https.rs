//! HTTPS for the tests: hyper's HTTP/1.1 client connection over tokio-rustls, trusting only
//! the test server's certificate, and a raw TLS stream for the tests that write HTTP by
//! hand (a slow head, a body that never comes, a length no one would send).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use parlance_clock::Clock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::{WAIT, tls_connect};

pub type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// One HTTP/1.1 connection; requests go one after the other.
#[allow(missing_debug_implementations)]
pub struct Https {
    /// This side's address: what the server's log lines name as the peer.
    pub local: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
    connection: JoinHandle<Result<(), hyper::Error>>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Https {
    pub async fn connect(addr: SocketAddr, cert_pem: &Path) -> std::io::Result<Https> {
        let tls = tls_connect(addr, cert_pem, &[b"http/1.1"]).await?;
        let local = tls.get_ref().0.local_addr()?;
        let (sender, connection) = http1::handshake(TokioIo::new(tls))
            .await
            .map_err(std::io::Error::other)?;
        Ok(Https {
            local,
            sender,
            connection: tokio::spawn(connection),
        })
    }

    /// Sends `request` and reads the whole response; an error when the server closed the
    /// connection instead.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Reply, hyper::Error> {
        let exchange = async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(WAIT, exchange)
            .await
            .expect("the server answered in time")
    }

    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body.into())).unwrap();
        self.send(request).await.expect("a response")
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.try_get(path).await.expect("a response")
    }

    pub async fn try_get(&mut self, path: &str) -> Result<Reply, hyper::Error> {
        let request = Request::get(path)
            .header("host", "localhost")
            .body(Full::new(Bytes::new()))
            .unwrap();
        self.send(request).await
    }

    /// Closes the connection from this side.
    pub async fn close(self) {
        drop(self.sender);
        let _ = tokio::time::timeout(WAIT, self.connection).await;
    }

    /// Whether the server has closed the connection (waiting for it at most [`WAIT`]).
    pub async fn closed(self) -> bool {
        tokio::time::timeout(WAIT, self.connection).await.is_ok()
    }
}

/// TLS to the HTTPS listener, for writing HTTP by hand.
#[allow(missing_debug_implementations)]
pub struct RawHttps {
    pub stream: TlsStream,
    /// What the server sent and no call has returned yet.
    received: Vec<u8>,
}

impl RawHttps {
    pub async fn connect(addr: SocketAddr, cert_pem: &Path) -> std::io::Result<RawHttps> {
        let stream = tls_connect(addr, cert_pem, &[b"http/1.1"]).await?;
        Ok(RawHttps {
            stream,
            received: Vec::new(),
        })
    }

    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// Writes what it can of `bytes`: false once the server has closed the connection.
    pub async fn try_send(&mut self, bytes: impl AsRef<[u8]>) -> bool {
        self.stream.write_all(bytes.as_ref()).await.is_ok() && self.stream.flush().await.is_ok()
    }

    /// A response head (up to its blank line); the body, if any, stays unread.
    pub async fn read_head(&mut self) -> String {
        let read = async {
            let mut byte = [0u8; 1];
            while !self.received.ends_with(b"\r\n\r\n") {
                let n = self.stream.read(&mut byte).await.expect("read");
                assert_eq!(n, 1, "closed before a whole response head");
                self.received.push(byte[0]);
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("a response head in time");
        String::from_utf8(std::mem::take(&mut self.received)).expect("an ASCII head")
    }

    /// Everything the server sends until it closes the connection (an abrupt close counts
    /// as one); `None` when it is still open after [`WAIT`].
    pub async fn until_closed(&mut self) -> Option<String> {
        self.read_until_closed(WAIT).await
    }

    async fn read_until_closed(&mut self, wait: Duration) -> Option<String> {
        let (stream, received) = (&mut self.stream, &mut self.received);
        let read = async {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => received.extend_from_slice(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(wait, read).await.ok()?;
        let seen = std::mem::take(&mut self.received);
        Some(String::from_utf8_lossy(&seen).into_owned())
    }

    /// Advances `clock` by `step` until the server closes the connection, and returns what it
    /// sent. A server task may set its deadline only after the test's first advance (it reads
    /// the clock when it gets to it), hence the repetition; a connection still open after a
    /// few steps is a failure.
    pub async fn advance_until_closed(&mut self, clock: &Clock, step: Duration) -> String {
        for _ in 0..5 {
            clock.advance(step);
            if let Some(seen) = self.read_until_closed(Duration::from_millis(500)).await {
                return seen;
            }
        }
        panic!("the server kept the connection open");
    }
}
