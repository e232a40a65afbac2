//! The SIP dialogs clients hold with the persistent chat service, one chat session each,
//! and the delivery of XCCOS bodies as server INFOs within them (docs/protocol.md,
//! "Persistent chat service"). A delivery writes each member's INFO from its dialog's
//! [`DialogTemplate`] into the member's connection, and its answer finds the dialog by its
//! branch ([`unanswered`](super::unanswered)).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use parlance_chat::backlog::OutputBacklog;
use parlance_chat::{SessionId, Sink};
use parlance_clock::Clock;
use sip_proto::{Method, Request, ResponseMatch, name};
use tokio::sync::mpsc;

use super::template::{DialogTemplate, Parts};
use super::unanswered::{Unanswered, branch_stem, read_branch};
use crate::ids::random_hex;
use crate::transport::{ConnHandle, ConnId, SendError};

/// Identifies a dialog: Call-ID and the client's tag (RFC 3261 §12; our own tag is unique
/// per dialog, but clients always send theirs, and sipe matches on Call-ID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogKey {
    pub call_id: String,
    pub remote_tag: String,
}

#[derive(Debug)]
struct Dialog {
    out: Arc<Outgoing>,
    principal: String,
    local_tag: String,
    refreshed: Instant,
    /// Accepted without a chat session: the user may not use persistent chat, and the
    /// dialog ends at its first INFO ([`Dialogs::end_refused`]).
    refused: bool,
}

/// What the server's requests in a dialog need: shared with deliveries under way, which
/// send outside the dialogs' lock.
#[derive(Debug)]
struct Outgoing {
    key: DialogKey,
    /// The connection that created the dialog: requests in it are accepted from there
    /// only, whoever else learns its Call-ID and tags, and answers to ours too.
    conn: ConnHandle,
    /// How the dialog's requests begin their branches ([`branch_stem`]).
    stem: String,
    template: DialogTemplate,
    /// Held while a request is queued, so that the dialog's requests leave in CSeq order
    /// however many rooms deliver to it at once.
    sending: Mutex<Sending>,
}

#[derive(Debug)]
struct Sending {
    /// The CSeq of the dialog's last request from our side.
    cseq: u32,
    unanswered: Unanswered,
}

impl Outgoing {
    fn sending(&self) -> MutexGuard<'_, Sending> {
        self.sending.lock().expect("sending lock")
    }

    /// Queues the next INFO of the dialog, carrying `body`; its answer is awaited from
    /// `now`.
    fn send_info(&self, body: &bytes::Bytes, now: Instant) -> Result<(), SendError> {
        let mut sending = self.sending();
        let cseq = sending.cseq + 1;
        if self.conn.signs() {
            // Signed as a whole message (MS-SIPAE), so built as one.
            self.conn.send_request(self.template.info(cseq, body))?;
        } else {
            let len = self.template.info_len(cseq, body.len());
            self.conn
                .send_with(len, |out| self.template.render_info(out, cseq, body))?;
        }
        sending.cseq = cseq;
        sending.unanswered.sent(cseq, now);
        Ok(())
    }

    /// Sends the dialog's BYE; its answer, whatever it is, ends nothing more.
    fn send_bye(&self) {
        let mut sending = self.sending();
        sending.cseq += 1;
        let _ = self
            .conn
            .send_request(self.template.request(Method::Bye, sending.cseq));
    }
}

/// Why a dialog failed where its session could not be closed at once (a delivery does not
/// wait): the group chat service ends it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The client answered a request of ours with this status (300 or above).
    #[error("the client answered a server request {0}")]
    Refused(u16),
    #[error("a server request could not be sent: {0}")]
    Unsent(#[from] SendError),
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
    /// The server's clock, by which session timers run.
    clock: Clock,
    session_expires: Duration,
    max_per_principal: usize,
    /// Counts the dialogs awaiting answers to their requests.
    backlog: OutputBacklog,
    next_session: AtomicU64,
    state: Mutex<State>,
    failures: mpsc::UnboundedSender<(SessionId, Failure)>,
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
        if let Some(old) = self.by_key.insert(dialog.out.key.clone(), session) {
            self.take(old);
        }
        self.dialogs.insert(session, dialog);
    }

    /// Removes a dialog, keeping the indexes in step.
    fn take(&mut self, session: SessionId) -> Option<Dialog> {
        let dialog = self.dialogs.remove(&session)?;
        let key = &dialog.out.key;
        if self.by_key.get(key) == Some(&session) {
            self.by_key.remove(key);
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
    /// Also returns where dialogs that failed are reported, by session: only failures
    /// travel there, not every answer. A dialog is counted in `backlog` while requests of
    /// it await their answers.
    pub fn new(
        clock: Clock,
        session_expires: Duration,
        max_per_principal: usize,
        backlog: OutputBacklog,
    ) -> (Arc<Dialogs>, mpsc::UnboundedReceiver<(SessionId, Failure)>) {
        let (failures, rx) = mpsc::unbounded_channel();
        let dialogs = Dialogs {
            clock,
            backlog,
            session_expires,
            max_per_principal,
            next_session: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            failures,
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
            && old.out.conn.id() != conn.id()
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
        let stem = branch_stem(session, &random_hex(4));
        let template = DialogTemplate::new(Parts {
            target: remote_target,
            via_stem: conn.via(&stem),
            from: format!("<{local_uri}>;tag={local_tag}"),
            to: invite
                .headers
                .get(name::FROM)
                .unwrap_or_default()
                .to_owned(),
            call_id: key.call_id.clone(),
            contact: format!("<{local_uri}>"),
        });
        let dialog = Dialog {
            out: Arc::new(Outgoing {
                key,
                conn: conn.clone(),
                stem,
                template,
                sending: Mutex::new(Sending {
                    cseq: 0,
                    unanswered: Unanswered::new(self.backlog.clone()),
                }),
            }),
            principal: principal.to_owned(),
            local_tag: local_tag.to_owned(),
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
        if dialog.out.conn.id() != conn.id() {
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
        if let Some(dialog) = self.state().take(session) {
            dialog.out.send_bye();
        }
    }

    /// Ends a dialog; returns its session.
    pub fn remove(&self, session: SessionId) -> Option<SessionId> {
        self.state().take(session).map(|_| session)
    }

    /// Sessions whose dialogs ran over a closed connection; they are removed.
    pub fn remove_connection(&self, conn: ConnId) -> Vec<SessionId> {
        self.remove_where(|d| d.out.conn.id() == conn)
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

    /// Sessions whose oldest request of ours has waited for its answer longer than a
    /// client transaction may; removed, as an answer 408 would have ended them.
    pub fn remove_unanswered(&self) -> Vec<SessionId> {
        let now = self.clock.now();
        self.remove_where(|d| d.out.sending().unanswered.overdue(now))
    }

    /// An answer received on `conn`: whether it answers a request of ours in a dialog
    /// (then it is taken, whatever became of the dialog). A final answer other than 2xx
    /// fails the dialog (docs/protocol.md, "Server INFOs": sipe answers 487 on a dialog it
    /// no longer uses; 481 means it is gone).
    pub fn answered(&self, conn: &ConnHandle, answer: &ResponseMatch<'_>) -> bool {
        let Some((session, stem, cseq)) = read_branch(answer.branch) else {
            return false;
        };
        let state = self.state();
        let Some(dialog) = state.dialogs.get(&session) else {
            return true;
        };
        let out = &dialog.out;
        if out.conn.id() != conn.id() || out.stem != stem || answer.seq != cseq {
            tracing::debug!(
                conn = conn.id(),
                session,
                "answer to a server request from elsewhere ignored"
            );
            return true;
        }
        if answer.status < 200 {
            // Provisional: the transaction goes on.
            return true;
        }
        let awaited = out.sending().unanswered.answered(cseq);
        if awaited && answer.status >= 300 {
            let _ = self
                .failures
                .send((session, Failure::Refused(answer.status)));
        }
        true
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

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("dialogs lock")
    }
}

impl Sink for Dialogs {
    fn deliver(&self, sessions: &[SessionId], body: &bytes::Bytes) {
        // Looked up under the lock and sent after it: answers from the members who already
        // have the message need the lock, and should not wait for the whole room.
        let outs: Vec<(SessionId, Arc<Outgoing>)> = {
            let state = self.state();
            sessions
                .iter()
                .filter_map(|s| state.dialogs.get(s).map(|d| (*s, d.out.clone())))
                .collect()
        };
        let now = self.clock.now();
        for (session, out) in outs {
            if let Err(e) = out.send_info(body, now) {
                let _ = self.failures.send((session, Failure::Unsent(e)));
            }
        }
    }
}
