//! The SIP dialogs clients hold with the persistent chat service, one chat session each,
//! and the delivery of XCCOS bodies as server INFOs within them (xccos.md §1.6–1.9).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parlance_chat::{SessionId, Sink};
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
pub struct Dialog {
    pub session: SessionId,
    pub conn: ConnHandle,
    /// The URI the client invited: the From of every request we send in the dialog.
    pub local_uri: String,
    pub local_tag: String,
    /// The client's From header, verbatim (sipe's carries `epid`): our To.
    pub remote: String,
    /// The client's Contact: our Request-URI.
    pub remote_target: Uri,
    pub cseq: u32,
    pub refreshed: Instant,
}

pub struct Dialogs {
    outbound: Outbound,
    session_expires: Duration,
    next_session: AtomicU64,
    state: Mutex<State>,
    answers: mpsc::UnboundedSender<(u64, u16)>,
}

#[derive(Default)]
struct State {
    dialogs: HashMap<DialogKey, Dialog>,
    by_session: HashMap<SessionId, DialogKey>,
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
        session_expires: Duration,
    ) -> (Arc<Dialogs>, mpsc::UnboundedReceiver<(u64, u16)>) {
        let (answers, rx) = mpsc::unbounded_channel();
        let dialogs = Dialogs {
            outbound,
            session_expires,
            next_session: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            answers,
        };
        (Arc::new(dialogs), rx)
    }

    pub fn session_expires(&self) -> Duration {
        self.session_expires
    }

    /// Creates the dialog for an INVITE answered 200 with `local_tag`.
    pub fn create(
        &self,
        invite: &Request,
        conn: &ConnHandle,
        local_tag: &str,
    ) -> Option<SessionId> {
        let remote_tag = invite.from()?.tag()?.to_owned();
        let remote_target = invite.contacts().into_iter().next()?.uri;
        let session = self.next_session.fetch_add(1, Ordering::Relaxed);
        let key = DialogKey {
            call_id: invite.call_id().to_owned(),
            remote_tag,
        };
        let dialog = Dialog {
            session,
            conn: conn.clone(),
            local_uri: invite.uri.to_string(),
            local_tag: local_tag.to_owned(),
            remote: invite
                .headers
                .get(name::FROM)
                .unwrap_or_default()
                .to_owned(),
            remote_target,
            cseq: 0,
            refreshed: Instant::now(),
        };
        let mut state = self.state();
        state.by_session.insert(session, key.clone());
        // A client that re-INVITEs with the same Call-ID and tag replaces its dialog.
        if let Some(old) = state.dialogs.insert(key, dialog) {
            state.by_session.remove(&old.session);
        }
        Some(session)
    }

    /// The session of the dialog an in-dialog request belongs to, refreshing its timer.
    pub fn touch(&self, req: &Request) -> Option<SessionId> {
        let key = DialogKey {
            call_id: req.call_id().to_owned(),
            remote_tag: req.from()?.tag()?.to_owned(),
        };
        let mut state = self.state();
        let dialog = state.dialogs.get_mut(&key)?;
        let our_tag = req.to().and_then(|t| t.tag().map(str::to_owned));
        if our_tag.as_deref() != Some(dialog.local_tag.as_str()) {
            return None;
        }
        dialog.refreshed = Instant::now();
        Some(dialog.session)
    }

    /// Ends a dialog; returns its session.
    pub fn remove(&self, session: SessionId) -> Option<SessionId> {
        let mut state = self.state();
        let key = state.by_session.remove(&session)?;
        state.dialogs.remove(&key).map(|d| d.session)
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
        self.remove_where(|d| d.refreshed.elapsed() > limit)
    }

    fn remove_where(&self, dead: impl Fn(&Dialog) -> bool) -> Vec<SessionId> {
        let mut state = self.state();
        let keys: Vec<DialogKey> = state
            .dialogs
            .iter()
            .filter(|(_, d)| dead(d))
            .map(|(k, _)| k.clone())
            .collect();
        let mut sessions = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(d) = state.dialogs.remove(&key) {
                state.by_session.remove(&d.session);
                sessions.push(d.session);
            }
        }
        sessions
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("dialogs lock")
    }
}

impl Sink for Dialogs {
    fn deliver(&self, sessions: &[SessionId], body: &bytes::Bytes) {
        let mut sends = Vec::with_capacity(sessions.len());
        {
            let mut state = self.state();
            let State {
                dialogs,
                by_session,
            } = &mut *state;
            for session in sessions {
                let Some(dialog) = by_session.get(session).and_then(|k| dialogs.get_mut(k)) else {
                    continue;
                };
                dialog.cseq += 1;
                let key = by_session.get(session).cloned();
                let mut info = Request::new(Method::Info, dialog.remote_target.clone());
                info.headers.push(name::MAX_FORWARDS, "70");
                info.headers.push(
                    name::FROM,
                    format!("<{}>;tag={}", dialog.local_uri, dialog.local_tag),
                );
                info.headers.push(name::TO, dialog.remote.clone());
                info.headers
                    .push(name::CALL_ID, key.map(|k| k.call_id).unwrap_or_default());
                info.headers
                    .push(name::CSEQ, format!("{} INFO", dialog.cseq));
                info.headers
                    .push(name::CONTACT, format!("<{}>", dialog.local_uri));
                info.headers.push(name::CONTENT_TYPE, "text/plain");
                info.body = body.clone();
                sends.push((dialog.conn.clone(), info, *session));
            }
        }
        for (conn, info, session) in sends {
            self.outbound
                .send_tracked(&conn, info, session, &self.answers);
        }
    }
}
