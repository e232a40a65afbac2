//! Local SIP endpoints: services that live inside the server at their own SIP URIs (the
//! persistent chat lookup and channel services). The front end routes every request whose
//! target is such a URI to its endpoint; the endpoint answers over the same connection and
//! may send requests of its own (XCCOS replies travel as server INFOs) through [`Outbound`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sip_proto::{Request, Response, ResponseMatch};

use crate::transport::{ConnHandle, ConnId};

pub type EndpointFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A service at one or more SIP URIs of this server.
pub trait Endpoint: Send + Sync + 'static {
    /// Handles a request addressed to the endpoint (dialog-creating or in-dialog; ACKs too).
    /// `identity` is the authenticated address-of-record of the sender.
    fn handle<'a>(&'a self, request: Request, from: Peer<'a>) -> EndpointFuture<'a>;

    /// A connection closed: its dialogs with this endpoint are gone. Awaited before the
    /// connection's task ends, so that what the endpoint records about it is durable before
    /// a shutdown closes the store.
    fn connection_closed(&self, conn: ConnId) -> EndpointFuture<'_>;

    /// An answer received on `conn`: whether it answers a request the endpoint sent
    /// without the proxy's transactions (and so is taken here). Called for every answer
    /// before it reaches the proxy; it must not block.
    fn take_answer(&self, _conn: &ConnHandle, _answer: &ResponseMatch<'_>) -> bool {
        false
    }
}

/// Who sent a request to an endpoint, and how to answer.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    pub conn: &'a ConnHandle,
    pub identity: &'a str,
    pub outbound: &'a Outbound,
}

/// How an endpoint's own requests travel and find their answers: the proxy's client
/// transactions implement it. Declared here, where it is used, so that the endpoints below
/// the front end need nothing from above them.
pub trait Requests: Send + Sync + 'static {
    /// Sends a request and waits for its final answer (RFC 3261 Timer F bounds the wait).
    fn request<'a>(
        &'a self,
        conn: &'a ConnHandle,
        request: Request,
    ) -> Pin<Box<dyn Future<Output = Result<Response, RequestError>> + Send + 'a>>;
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("connection closed before an answer")]
    Closed,
    #[error("no answer within the transaction timeout")]
    Timeout,
}

/// Sending from an endpoint: responses and requests of its own over a client's connection.
#[derive(Clone)]
pub struct Outbound {
    requests: Arc<dyn Requests>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").finish_non_exhaustive()
    }
}

impl Outbound {
    pub fn new(requests: Arc<dyn Requests>) -> Outbound {
        Outbound { requests }
    }

    pub fn respond(&self, conn: &ConnHandle, response: Response) {
        let _ = conn.send_response(response);
    }

    /// Sends a request and waits for its final answer.
    pub async fn request(
        &self,
        conn: &ConnHandle,
        request: Request,
    ) -> Result<Response, RequestError> {
        self.requests.request(conn, request).await
    }
}
