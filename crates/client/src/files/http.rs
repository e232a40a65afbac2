//! One HTTPS connection to the file service for one transfer: HTTP/1.1 (hyper's client
//! connection) over TLS trusted as the SIP connection is. The service is where the token's
//! `serveruri` points; the plain API lives beside `MGCWebService.asmx`, at
//! `…/PersistentChat/files/<token>` under the same prefix (docs/protocol.md, "The plain
//! file API").

use std::convert::Infallible;
use std::error::Error as _;
use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::http::request;
use hyper::{Request, Response, Uri, header};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::config::{ClientConfig, ServerAddr, Transport};
use crate::dial;
use crate::error::ClientError;
use crate::tls::Trust;
use crate::types::FileToken;

/// Where a `serveruri` ends: the SOAP service, after the server's prefix.
const SERVICE_PATH: &str = "/PersistentChat/MGCWebService.asmx";
/// Where the plain file API takes tokens, after the same prefix.
const FILES_PATH: &str = "/PersistentChat/files/";

/// HTTP/1.1, said in the TLS handshake (ALPN).
const ALPN: &[&[u8]] = &[b"http/1.1"];

/// Largest JSON answer read: names, sizes and reasons are short.
const MAX_ANSWER: usize = 16 * 1024;

pub(crate) type Connection<B> = http1::Connection<TokioIo<TlsStream<TcpStream>>, B>;

/// How transfers reach the file service: the SIP connection's trust, local address and
/// patience.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    trust: Trust,
    from: Option<IpAddr>,
    connect_timeout: Duration,
    /// The longest a transfer may go without progress.
    pub idle: Duration,
}

impl Connector {
    pub fn new(config: &ClientConfig) -> Connector {
        let trust = match &config.transport {
            Transport::Tls(trust) => trust.clone(),
            // The SIP connection had no certificate to check, but the file service is always
            // HTTPS: the system's authorities decide.
            Transport::Tcp => Trust::System,
        };
        Connector {
            trust,
            from: config.local_address,
            connect_timeout: config.connect_timeout,
            idle: config.request_timeout,
        }
    }

    /// Connects to the service that issued `token`. The connection must be driven (see
    /// [`driving`]) for the sender to get anywhere; the builder is the request for the
    /// token's file URL, method and body to be added.
    pub async fn open<B>(
        &self,
        token: &FileToken,
    ) -> Result<(SendRequest<B>, Connection<B>, request::Builder), ClientError>
    where
        B: Body + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (server, authority, prefix) = service(&token.server_uri)?;
        let path = file_path(&prefix, &token.token)?;
        let tcp = dial::tcp(&server, self.from, self.connect_timeout).await?;
        let tls = dial::tls(&server, &self.trust, ALPN, tcp, self.connect_timeout).await?;
        let (sender, connection) = http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| transfer(&e))?;
        let request = Request::builder()
            .uri(path)
            .header(header::HOST, authority)
            .header(
                header::USER_AGENT,
                concat!("parlance/", env!("CARGO_PKG_VERSION")),
            );
        Ok((sender, connection, request))
    }
}

/// The server, `Host` and path prefix of a `serveruri`, which must be HTTPS.
fn service(server_uri: &str) -> Result<(ServerAddr, String, String), ClientError> {
    let unusable =
        |why: &str| ClientError::Protocol(format!("the file service address {server_uri:?} {why}"));
    let uri: Uri = server_uri.parse().map_err(|_| unusable("is not a URL"))?;
    if uri.scheme_str() != Some("https") {
        return Err(unusable("is not HTTPS"));
    }
    let authority = uri
        .authority()
        .filter(|a| !a.as_str().contains('@'))
        .ok_or_else(|| unusable("names no server"))?;
    let server =
        ServerAddr::parse(authority.as_str(), 443).map_err(|_| unusable("names no server"))?;
    let path = uri.path();
    let prefix = path
        .len()
        .checked_sub(SERVICE_PATH.len())
        .filter(|at| path.is_char_boundary(*at) && path[*at..].eq_ignore_ascii_case(SERVICE_PATH))
        .map_or("", |at| &path[..at]);
    Ok((server, authority.as_str().to_owned(), prefix.to_owned()))
}

/// The plain API's URL path for a token under `prefix`; tokens are GUIDs, so anything that
/// would need escaping is not one.
fn file_path(prefix: &str, token: &str) -> Result<String, ClientError> {
    if token.is_empty()
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ClientError::Protocol(format!(
            "the server sent the file token {token:?}, which is not a GUID"
        )));
    }
    Ok(format!("{prefix}{FILES_PATH}{token}"))
}

/// Runs `work` while driving the connection. The connection's own end is never the answer:
/// hyper hands its failures to the request and body that wait on it.
pub(crate) async fn driving<B, T>(connection: Connection<B>, work: impl Future<Output = T>) -> T
where
    B: Body + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = async {
        if let Err(error) = connection.await {
            tracing::debug!(error = %describe(&error), "file service connection failed");
        }
        std::future::pending::<Infallible>().await
    };
    tokio::select! {
        done = work => done,
        never = connection => match never {},
    }
}

/// A failure of the connection or the exchange on it.
pub(crate) fn transfer(error: &hyper::Error) -> ClientError {
    ClientError::Transfer(describe(error))
}

/// hyper's error with its causes: alone it only says "connection error".
fn describe(error: &hyper::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// A short body (a JSON answer), read within `idle`.
pub(crate) async fn short_body(body: Incoming, idle: Duration) -> Result<Bytes, ClientError> {
    let collected = tokio::time::timeout(idle, Limited::new(body, MAX_ANSWER).collect())
        .await
        .map_err(|_| ClientError::Timeout)?
        .map_err(|e| ClientError::Transfer(e.to_string()))?;
    Ok(collected.to_bytes())
}

/// `{"error":"<reason>"}`: every refusal of the plain API.
#[derive(Deserialize)]
struct Refusal {
    error: String,
}

/// The refusal a response that is not a success carries.
pub(crate) async fn refusal(response: Response<Incoming>, idle: Duration) -> ClientError {
    let status = response.status();
    let reason = match short_body(response.into_body(), idle).await {
        Ok(body) => serde_json::from_slice::<Refusal>(&body)
            .ok()
            .map(|r| r.error),
        Err(error) => return error,
    };
    ClientError::FileRefused {
        status: status.as_u16(),
        reason: reason
            .or_else(|| status.canonical_reason().map(str::to_owned))
            .unwrap_or_else(|| "no reason given".to_owned()),
    }
}

/// The request builder's failures are ours (a header we made), not the server's.
pub(crate) fn built<B>(
    request: hyper::http::Result<Request<B>>,
) -> Result<Request<B>, ClientError> {
    request.map_err(|e| ClientError::Protocol(format!("cannot make the file request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_is_where_the_token_points() {
        let (server, host, prefix) =
            service("https://chat.example.com:8443/PersistentChat/MGCWebService.asmx").unwrap();
        assert_eq!(
            (server.host.as_str(), server.port),
            ("chat.example.com", 8443)
        );
        assert_eq!(
            (host.as_str(), prefix.as_str()),
            ("chat.example.com:8443", "")
        );
        let (server, host, prefix) =
            service("https://[::1]/chat/PersistentChat/mgcwebservice.asmx").unwrap();
        assert_eq!(
            (server.host.as_str(), server.port, host.as_str()),
            ("::1", 443, "[::1]")
        );
        assert_eq!(prefix, "/chat", "under the server's prefix");
        assert_eq!(
            service("https://h/elsewhere").unwrap().2,
            "",
            "no prefix to be had"
        );
        for bad in [
            "http://chat.example.com/PersistentChat/MGCWebService.asmx",
            "https://user@chat.example.com/x",
            "/PersistentChat/MGCWebService.asmx",
            "not a url",
        ] {
            assert!(
                matches!(service(bad), Err(ClientError::Protocol(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn tokens_go_into_the_path_as_they_are_or_not_at_all() {
        assert_eq!(
            file_path("/chat", "7c9e6679-7425-40de-944b-e07fc1f90ae7").unwrap(),
            "/chat/PersistentChat/files/7c9e6679-7425-40de-944b-e07fc1f90ae7"
        );
        for bad in ["", "../x", "a b", "a?b", "a/b"] {
            assert!(file_path("", bad).is_err(), "{bad}");
        }
    }
}
