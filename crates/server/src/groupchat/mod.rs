//! The persistent chat service at its SIP URIs: the lookup (pool) URI answers `cmd:requri`,
//! the channel URI serves everything else; both accept any command (Lync 2013 uses the
//! pool URI directly). Each INVITE opens a dialog and a chat session in the core; a user who
//! may not use persistent chat gets the dialog without a session, ended by a BYE at its
//! first INFO, as Lync Server does.

mod dialogs;
mod template;
mod unanswered;

use std::sync::Arc;

use parlance_chat::{Answer, ChatError, ChatService, SessionId};
use sip_proto::{Method, Request, Response, ResponseMatch, name};
use tokio::sync::mpsc;

use self::dialogs::CreateError;
pub use self::dialogs::{Dialogs, Failure};
use crate::endpoint::{Endpoint, EndpointFuture, Peer};
use crate::frontend::networks::Networks;
use crate::ids::random_hex;
use crate::transport::{ConnHandle, ConnId};

const ALLOW: &str = "INVITE, ACK, INFO, UPDATE, BYE, OPTIONS";

#[derive(Debug)]
pub struct GroupChat {
    chat: Arc<ChatService>,
    dialogs: Arc<Dialogs>,
    /// Where users from outside connect from (`manage.external_networks`).
    external: Networks,
}

impl GroupChat {
    /// Starts the service; `failures` reports the dialogs whose requests failed.
    pub fn start(
        chat: Arc<ChatService>,
        dialogs: Arc<Dialogs>,
        failures: mpsc::UnboundedReceiver<(SessionId, Failure)>,
        external: Networks,
    ) -> Arc<GroupChat> {
        let service = Arc::new(GroupChat {
            chat,
            dialogs,
            external,
        });
        tokio::spawn(watch_failures(Arc::downgrade(&service), failures));
        service
    }

    pub fn chat(&self) -> &Arc<ChatService> {
        &self.chat
    }

    pub fn dialogs(&self) -> &Dialogs {
        &self.dialogs
    }

    /// Ends sessions whose dialogs were not refreshed in time, or whose client left a
    /// server INFO unanswered for longer than a transaction may take.
    pub async fn expire(&self) {
        for session in self.dialogs.remove_expired() {
            tracing::info!(session, "chat dialog expired");
            self.chat.close_session(session).await;
        }
        for session in self.dialogs.remove_unanswered() {
            tracing::info!(session, "chat session ended: a server INFO went unanswered");
            self.chat.close_session(session).await;
        }
    }

    /// Ends every session, recording each departure (shutdown).
    pub async fn close_all(&self) {
        for session in self.dialogs.remove_all() {
            self.chat.close_session(session).await;
        }
    }

    async fn end(&self, session: SessionId, why: &str) {
        if self.dialogs.remove(session).is_some() {
            tracing::info!(session, why, "chat session ended");
            self.chat.close_session(session).await;
        }
    }

    async fn on_request(&self, req: Request, peer: Peer<'_>) {
        let respond = |resp: Response| peer.outbound.respond(peer.conn, resp);
        let in_dialog = req.to().and_then(|t| t.tag().map(str::to_owned)).is_some();
        match req.method {
            Method::Invite if !in_dialog => self.invite(&req, peer).await,
            Method::Ack => {
                self.dialogs.touch(&req, peer.conn);
            }
            Method::Invite | Method::Update | Method::Options if in_dialog => {
                match self.dialogs.touch(&req, peer.conn) {
                    Some(_) => respond(self.session_ok(&req)),
                    None => respond(Response::for_request(&req, 481)),
                }
            }
            Method::Options => respond(with_allow(
                Response::for_request(&req, 200).with_to_tag(&random_hex(5)),
            )),
            Method::Info => match self.dialogs.touch(&req, peer.conn) {
                Some(session) if self.dialogs.is_refused(session) => {
                    // The INFO itself was received; the BYE that follows is the refusal.
                    respond(Response::for_request(&req, 200));
                    self.dialogs.end_refused(session);
                    tracing::info!(
                        session,
                        identity = peer.identity,
                        "chat session refused: BYE"
                    );
                }
                Some(session) => {
                    let answer = |a: Answer| {
                        let (status, reason) = info_status(a);
                        let mut resp = Response::for_request(&req, status);
                        resp.reason = reason.to_owned();
                        respond(resp);
                    };
                    self.chat.handle(session, &req.body, answer).await;
                }
                None => respond(Response::for_request(&req, 481)),
            },
            Method::Bye => match self.dialogs.touch(&req, peer.conn) {
                Some(session) => {
                    respond(Response::for_request(&req, 200));
                    self.end(session, "BYE").await;
                }
                None => respond(Response::for_request(&req, 481)),
            },
            _ => respond(with_allow(
                Response::for_request(&req, 405).with_to_tag(&random_hex(5)),
            )),
        }
    }

    async fn invite(&self, req: &Request, peer: Peer<'_>) {
        let tag = random_hex(5);
        let created = match self.dialogs.create(req, peer.conn, peer.identity, &tag) {
            Ok(c) => c,
            Err(e) => {
                if peer.conn.first_refusal() {
                    tracing::warn!(conn = peer.conn.id(), identity = peer.identity, error = %e, "chat INVITE refused");
                }
                let (status, reason) = match e {
                    CreateError::Incomplete => (400, "Missing From-tag Or Contact"),
                    CreateError::NotYours => (403, "Dialog Belongs To Another Connection"),
                    CreateError::TooMany { .. } => (403, "Too Many Chat Sessions"),
                };
                let mut resp = Response::for_request(req, status).with_to_tag(&tag);
                resp.reason = reason.into();
                return peer.outbound.respond(peer.conn, resp);
            }
        };
        if let Some(old) = created.replaced {
            // The client started over in the same dialog: its old session leaves its rooms.
            tracing::info!(session = old, "chat session replaced by a new INVITE");
            self.chat.close_session(old).await;
        }
        let session = created.session;
        let outside = self.external.contains(peer.conn.peer().ip());
        match self
            .chat
            .open_session(session, peer.identity, outside)
            .await
        {
            Ok(()) => {}
            // Lync Server accepts the INVITE of a user it will not serve and BYEs the dialog
            // at the first command (xccos.md §1.8): a 403 here would have sipe retry every
            // five minutes for ever (docs/protocol.md, "Lync 2013 fidelity").
            Err(
                e @ (ChatError::UnknownPrincipal(_)
                | ChatError::Disabled(_)
                | ChatError::NotAllowed(_)),
            ) => {
                tracing::info!(error = %e, identity = peer.identity, "chat session refused: accepted, to end at the first command");
                self.dialogs.refuse(session);
            }
            Err(e @ ChatError::Store(_)) => {
                tracing::error!(error = %e, identity = peer.identity, "chat session not opened");
                self.dialogs.remove(session);
                let mut resp = Response::for_request(req, 503).with_to_tag(&tag);
                resp.headers.push(name::RETRY_AFTER, "60");
                return peer.outbound.respond(peer.conn, resp);
            }
        }
        let mut resp = self.session_ok(req).with_to_tag(&tag);
        resp.headers.push(name::CONTACT, format!("<{}>", req.uri));
        resp.headers.push(name::CONTENT_TYPE, "application/sdp");
        resp.body = sdp_answer(peer.conn.local()).into_bytes().into();
        tracing::debug!(session, identity = peer.identity, uri = %req.uri, "chat session opened");
        peer.outbound.respond(peer.conn, resp);
    }

    /// A 200 that states the session timer: sipe refreshes every (value − 10) s.
    fn session_ok(&self, req: &Request) -> Response {
        let mut resp = Response::for_request(req, 200);
        resp.headers.push(
            name::SESSION_EXPIRES,
            format!("{};refresher=uac", self.dialogs.session_expires().as_secs()),
        );
        resp
    }
}

impl Endpoint for GroupChat {
    fn handle<'a>(&'a self, request: Request, from: Peer<'a>) -> EndpointFuture<'a> {
        Box::pin(self.on_request(request, from))
    }

    fn connection_closed(&self, conn: ConnId) -> EndpointFuture<'_> {
        let sessions = self.dialogs.remove_connection(conn);
        Box::pin(async move {
            for session in sessions {
                self.chat.close_session(session).await;
            }
        })
    }

    fn take_answer(&self, conn: &ConnHandle, answer: &ResponseMatch<'_>) -> bool {
        self.dialogs.answered(conn, answer)
    }
}

/// A dialog whose request failed ends (xccos.md §1.9): a non-2xx answer to one of our
/// INFOs, or one that could not be sent.
async fn watch_failures(
    service: std::sync::Weak<GroupChat>,
    mut failures: mpsc::UnboundedReceiver<(SessionId, Failure)>,
) {
    while let Some((session, failure)) = failures.recv().await {
        let Some(service) = service.upgrade() else {
            return;
        };
        service.end(session, &failure.to_string()).await;
    }
}

/// The SIP answer to an INFO, for what the chat core made of its body. The reasons are
/// what clients have always been shown; sipe reports any non-200 to a post as "not
/// delivered".
fn info_status(answer: Answer) -> (u16, &'static str) {
    match answer {
        Answer::Accepted => (200, "OK"),
        Answer::Malformed => (400, "Malformed XCCOS"),
        Answer::MissingTimestamp => (400, "Missing ts"),
        Answer::NotJoined => (403, "Not Joined"),
        Answer::NotAllowed => (403, "Not Allowed To Post Here"),
        Answer::NoSuchRoom => (404, "No Such Room"),
        Answer::TooLarge => (413, "Message Too Large"),
        Answer::NoSession => (481, "Call/Transaction Does Not Exist"),
        Answer::ServerError => (500, "Server Error"),
    }
}

fn with_allow(mut resp: Response) -> Response {
    resp.headers.push(name::ALLOW, ALLOW);
    resp
}

/// The session description of the answer; clients do not inspect it (docs/protocol.md,
/// "INVITE answer").
fn sdp_answer(local: std::net::SocketAddr) -> String {
    let (family, ip) = match local.ip() {
        std::net::IpAddr::V4(ip) => ("IP4", ip.to_string()),
        std::net::IpAddr::V6(ip) => ("IP6", ip.to_string()),
    };
    format!(
        "v=0\r\no=- 0 0 IN {family} {ip}\r\ns=session\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=message {} sip null\r\n",
        local.port()
    )
}
