//! The SIP dialogs clients hold with the persistent chat service, one chat session each,
//! and the delivery of XCCOS bodies as server INFOs within them (docs/protocol.md,
//! "Persistent chat service").

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parlance_chat::{SessionId, Sink};
use parlance_clock::Clock;
use sip_proto::{Method, Request, Uri, name};
use tokio::sync::mpsc;

use crate::endpoint::Outbound;
use crate::transport::{ConnHandle, ConnId};

/// Identifies a dialog: Call-ID and the client's tag (RFC 3261 §12; our own tag is unique
/// per dialog, but clients always send theirs, and sipe matches on Call-ID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogKey {
    pub call_id: String,
    pub remote_tag: String,
}

#[derive(Debug)]
struct Dialog {
    key: DialogKey,
    /// The connection and principal that created the dialog: requests in it are accepted
    /// from there only, whoever else learns its Call-ID and tags.
    conn: ConnHandle,
    principal: String,
    local_tag: String,
    /// The client's Contact: our Request-URI.
    remote_target: Uri,
    /// Our From: the URI the client invited, with our tag. This, `to` and `contact` are the
    /// same in every request we send in the dialog, so a delivery to a large room does not
    /// format them again for each member.
    from: String,
    /// The client's From header, verbatim (sipe's carries `epid`).
    to: String,
    contact: String,
    cseq: u32,
    refreshed: Instant,
    /// Accepted without a chat session: the user may not use persistent chat, and the
    /// dialog ends at its first INFO ([`Dialogs::end_refused`]).
    refused: bool,
}

impl Dialog {
    /// The next request of the dialog from our side.
    fn request(&mut self, method: Method) -> Request {
        self.cseq += 1;
        let mut req = Request::new(method.clone(), self.remote_target.clone());
        req.headers.push(name::MAX_FORWARDS, "70");
        req.headers.push(name::FROM, self.from.as_str());
        req.headers.push(name::TO, self.to.as_str());
        req.headers.push(name::CALL_ID, self.key.call_id.as_str());
        req.headers
            .push(name::CSEQ, format!("{} {method}", self.cseq));
        req.headers.push(name::CONTACT, self.contact.as_str());
        req
    }

    /// The next INFO of the dialog, carrying `body`.
    fn info(&mut self, body: &bytes::Bytes) -> Request {
        let mut info = self.request(Method::Info);
        info.headers.push(name::CONTENT_TYPE, "text/plain");
        info.body = body.clone();
        info
    }
}

/// Why a dialog was not created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    #[error("the INVITE has no From tag or no Contact")]
    Incomplete,
    #[error("another connection holds a dialog with this Call-ID and tag")]
    NotYours,
    #[error("{principal} holds {max} chat sessions already")]
    TooMany { principal: String, max: usize },
}

/// A dialog made by [`Dialogs::create`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Created {
    pub session: SessionId,
    /// The session of the dialog the INVITE replaced (same Call-ID and tag, same
    /// connection): it has ended and must be closed.
    pub replaced: Option<SessionId>,
}

pub struct Dialogs {
    outbound: Outbound,
    /// The server's clock, by which session timers run.
    clock: Clock,
    session_expires: Duration,
    max_per_principal: usize,
    next_session: AtomicU64,
    state: Mutex<State>,
    answers: mpsc::UnboundedSender<(u64, u16)>,
}

/// Dialogs by session, since deliveries address them so; the key finds the session of an
/// in-dialog request.
#[derive(Default)]
struct State {
    dialogs: HashMap<SessionId, Dialog>,
    by_key: HashMap<DialogKey, SessionId>,
    /// Dialogs per principal, for the per-user limit.
    held: HashMap<String, usize>,
}

impl State {
    fn insert(&mut self, session: SessionId, dialog: Dialog) {
        *self.held.entry(dialog.principal.clone()).or_default() += 1;
        if let Some(old) = self.by_key.insert(dialog.key.clone(), session) {
            self.take(old);
        }
        self.dialogs.insert(session, dialog);
    }

    /// Removes a dialog, keeping the indexes in step.
    fn take(&mut self, session: SessionId) -> Option<Dialog> {
        let dialog = self.dialogs.remove(&session)?;
        if self.by_key.get(&dialog.key) == Some(&session) {
            self.by_key.remove(&dialog.key);
        }
        if let Some(n) = self.held.get_mut(&dialog.principal) {
            *n -= 1;
            if *n == 0 {
                self.held.remove(&dialog.principal);
            }
        }
        Some(dialog)
    }
}

impl std::fmt::Debug for Dialogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialogs").finish_non_exhaustive()
    }
}

impl Dialogs {
    /// Also returns where the answers to our INFOs arrive, by session.
    pub fn new(
        outbound: Outbound,
        clock: Clock,
        session_expires: Duration,
        max_per_principal: usize,
    ) -> (Arc<Dialogs>, mpsc::UnboundedReceiver<(u64, u16)>) {
        let (answers, rx) = mpsc::unbounded_channel();
        let dialogs = Dialogs {
            outbound,
            clock,
            session_expires,
            max_per_principal,
            next_session: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            answers,
        };
        (Arc::new(dialogs), rx)
    }

    pub fn session_expires(&self) -> Duration {
        self.session_expires
    }

    /// Creates the dialog for an INVITE from `principal` on `conn`, to be answered 200
    /// with `local_tag`.
    pub fn create(
        &self,
        invite: &Request,
        conn: &ConnHandle,
        principal: &str,
        local_tag: &str,
    ) -> Result<Created, CreateError> {
        let remote_tag = invite
            .from()
            .and_then(|f| f.tag().map(str::to_owned))
            .ok_or(CreateError::Incomplete)?;
        let remote_target = invite
            .contacts()
            .into_iter()
            .next()
            .ok_or(CreateError::Incomplete)?
            .uri;
        let key = DialogKey {
            call_id: invite.call_id().to_owned(),
            remote_tag,
        };
        let mut state = self.state();
        // A client that re-INVITEs with the same Call-ID and tag replaces its dialog; no
        // one else can.
        let replaced = state.by_key.get(&key).copied();
        if let Some(old) = replaced.and_then(|s| state.dialogs.get(&s))
            && old.conn.id() != conn.id()
        {
            return Err(CreateError::NotYours);
        }
        let held = state.held.get(principal).copied().unwrap_or(0);
        if held.saturating_sub(usize::from(replaced.is_some())) >= self.max_per_principal {
            return Err(CreateError::TooMany {
                principal: principal.to_owned(),
                max: self.max_per_principal,
            });
        }
        let session = self.next_session.fetch_add(1, Ordering::Relaxed);
        let local_uri = &invite.uri;
        let dialog = Dialog {
            key,
            conn: conn.clone(),
            principal: principal.to_owned(),
            local_tag: local_tag.to_owned(),
            remote_target,
            from: format!("<{local_uri}>;tag={local_tag}"),
            to: invite
                .headers
                .get(name::FROM)
                .unwrap_or_default()
                .to_owned(),
            contact: format!("<{local_uri}>"),
            cseq: 0,
            refreshed: self.clock.now(),
            refused: false,
        };
        state.insert(session, dialog);
        Ok(Created { session, replaced })
    }

    /// The session of the dialog an in-dialog request received on `conn` belongs to,
    /// refreshing its timer. A request for another connection's dialog finds nothing.
    pub fn touch(&self, req: &Request, conn: &ConnHandle) -> Option<SessionId> {
        let key = DialogKey {
            call_id: req.call_id().to_owned(),
            remote_tag: req.from()?.tag()?.to_owned(),
        };
        let mut state = self.state();
        let session = *state.by_key.get(&key)?;
        let dialog = state.dialogs.get_mut(&session)?;
        let our_tag = req.to().and_then(|t| t.tag().map(str::to_owned));
        if our_tag.as_deref() != Some(dialog.local_tag.as_str()) {
            return None;
        }
        if dialog.conn.id() != conn.id() {
            if conn.first_refusal() {
                tracing::warn!(
                    conn = conn.id(),
                    peer = %conn.peer(),
                    owner = %dialog.principal,
                    call_id = %key.call_id,
                    "in-dialog request from a connection that does not hold the dialog: refused"
                );
            }
            return None;
        }
        dialog.refreshed = self.clock.now();
        Some(session)
    }

    /// Marks a dialog as accepted without a chat session (see [`Dialogs::end_refused`]).
    pub fn refuse(&self, session: SessionId) {
        if let Some(dialog) = self.state().dialogs.get_mut(&session) {
            dialog.refused = true;
        }
    }

    pub fn is_refused(&self, session: SessionId) -> bool {
        self.state()
            .dialogs
            .get(&session)
            .is_some_and(|d| d.refused)
    }

    /// Ends a refused dialog with a BYE, as Lync Server does on the first command of a user
    /// not allowed persistent chat.
    pub fn end_refused(&self, session: SessionId) {
        let Some(mut dialog) = self.state().take(session) else {
            return;
        };
        let bye = dialog.request(Method::Bye);
        // Its answer finds no dialog any more, whatever it is.
        self.outbound
            .send_tracked(&dialog.conn, bye, session, &self.answers);
    }

    /// Ends a dialog; returns its session.
    pub fn remove(&self, session: SessionId) -> Option<SessionId> {
        self.state().take(session).map(|_| session)
    }

    /// Sessions whose dialogs ran over a closed connection; they are removed.
    pub fn remove_connection(&self, conn: ConnId) -> Vec<SessionId> {
        self.remove_where(|d| d.conn.id() == conn)
    }

    /// Every session; all are removed (shutdown).
    pub fn remove_all(&self) -> Vec<SessionId> {
        self.remove_where(|_| true)
    }

    /// Sessions not refreshed within Session-Expires (plus a grace of a third); removed
    /// without a BYE, so that the client's next request gets 481 and it starts over.
    pub fn remove_expired(&self) -> Vec<SessionId> {
        let limit = self.session_expires + self.session_expires / 3;
        let now = self.clock.now();
        self.remove_where(|d| now.saturating_duration_since(d.refreshed) > limit)
    }

    fn remove_where(&self, dead: impl Fn(&Dialog) -> bool) -> Vec<SessionId> {
        let mut state = self.state();
        let sessions: Vec<SessionId> = state
            .dialogs
            .iter()
            .filter(|(_, d)| dead(d))
            .map(|(s, _)| *s)
            .collect();
        for session in &sessions {
            state.take(*session);
        }
        sessions
    }

    /// Dialogs open now.
    pub fn len(&self) -> usize {
        self.state().dialogs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("dialogs lock")
    }
}

impl Sink for Dialogs {
    fn deliver(&self, sessions: &[SessionId], body: &bytes::Bytes) {
        // Built under the lock and sent after it, so that the lock is not held while the
        // proxy and the connections take theirs.
        let mut sends = Vec::with_capacity(sessions.len());
        {
            let mut state = self.state();
            for session in sessions {
                if let Some(dialog) = state.dialogs.get_mut(session) {
                    sends.push((dialog.conn.clone(), dialog.info(body), *session));
                }
            }
        }
        for (conn, info, session) in sends {
            self.outbound
                .send_tracked(&conn, info, session, &self.answers);
        }
    }
}
