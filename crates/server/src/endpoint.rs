//! Local SIP endpoints: services that live inside the server at their own SIP URIs (the
//! persistent chat lookup and channel services). The front end routes every request whose
//! target is such a URI to its endpoint; the endpoint answers over the same connection and
//! may send requests of its own (XCCOS replies travel as server INFOs) through [`Outbound`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sip_proto::{Request, Response};
use tokio::sync::mpsc;

use crate::frontend::proxy::{Proxy, RequestError};
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
}

/// Who sent a request to an endpoint, and how to answer.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    pub conn: &'a ConnHandle,
    pub identity: &'a str,
    pub outbound: &'a Outbound,
}

/// Sending from an endpoint: responses and requests of its own over a client's connection.
#[derive(Debug, Clone)]
pub struct Outbound {
    proxy: Arc<Proxy>,
}

impl Outbound {
    pub(crate) fn new(proxy: Arc<Proxy>) -> Outbound {
        Outbound { proxy }
    }

    pub fn respond(&self, conn: &ConnHandle, response: Response) {
        let _ = conn.send_response(response);
    }

    /// Sends a request without waiting; its final status reaches `answers` with `token`.
    pub fn send_tracked(
        &self,
        conn: &ConnHandle,
        request: Request,
        token: u64,
        answers: &mpsc::UnboundedSender<(u64, u16)>,
    ) {
        self.proxy.send_tracked(conn, request, token, answers);
    }

    /// Sends a request and waits for its final answer (RFC 3261 Timer F bounds the wait).
    pub async fn request(
        &self,
        conn: &ConnHandle,
        request: Request,
    ) -> Result<Response, RequestError> {
        self.proxy.request(conn, request).await
    }
}
