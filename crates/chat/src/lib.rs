//! The persistent chat core: rooms, rosters and permissions, and one handler per XCCOS
//! command (`commands/<wire id>.rs`). It knows sessions (one per client endpoint), not
//! sockets or SIP: the server hands it INFO bodies ([`ChatService::handle`]), hears what
//! became of each as an [`Answer`], and gives it a [`Sink`] to deliver XCCOS bodies to
//! sessions. Time is the server's [`Clock`], so that tests can move it. File posting has
//! its public side in [`files`]: the web service checks the tokens the commands issue with
//! a [`files::Transfers`] of its own.

pub mod backlog;
mod commands;
pub mod files;
pub mod manage;
mod output;
mod permissions;
mod relay;
mod revoke;
mod roster;
mod search;
pub mod throttle;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use files::{FileSettings, Transfers};
use parlance_bus::Bus;
use parlance_clock::Clock;
use parlance_metrics::Metrics;
use parlance_store::Store;
use parlance_store::rooms::RoomInfo;
use xccos::{ChatSizeLimits, Envelope, Message};

pub use permissions::{Access, RoleRefusal, creator_change, role_change};
pub use relay::Lookup;
pub use roster::Principal;
use roster::Rosters;
pub use search::SearchLimits;
use search::SearchRate;

/// One client endpoint's dialog with the channel service.
pub type SessionId = u64;

/// Where XCCOS bodies go. Delivery must not block: the server queues per connection and
/// drops a connection that does not keep up, rather than slowing a room.
pub trait Sink: Send + Sync + 'static {
    fn deliver(&self, sessions: &[SessionId], body: &bytes::Bytes);
}

#[derive(Debug, Clone)]
pub struct ChatSettings {
    pub domain: String,
    /// This server's channel service URI: what `cmd:requri` hands out, unless a pool's
    /// lookup chooses ([`ChatService::with_lookup`]).
    pub channel_uri: String,
    /// Results of any search at most (`sib@searchLimit`).
    pub search_limit: u32,
    pub chat_limits: ChatSizeLimits,
    /// History messages when a client asks for none; and the most it may ask for.
    pub history_default: u32,
    pub history_max: u32,
    /// Rooms with more principals present than this send no join/part notices and list
    /// only the joiner in join replies (Lync Server's ParticipantUpdateLimit).
    pub participant_update_limit: usize,
    /// The room management application's base URL (`sib@roomManagementUrl`), and the one
    /// for sessions from outside.
    pub room_management_url: Option<String>,
    pub room_management_url_external: Option<String>,
    pub xccos_limits: xccos::Limits,
    /// Bytes one principal's stored preferences (`cmd:setpref`) may take in all.
    pub preference_quota_bytes: u64,
    /// Largest XCCOS body the service sends: what clients accept. History replies are cut
    /// to it, posts that would not fit are refused, and nothing larger leaves.
    pub max_output_body_bytes: usize,
    pub search: SearchLimits,
    /// Where the core counts posts and deliveries and measures their latency.
    pub metrics: Metrics,
    /// The file service; `None` when the HTTPS listener is off (file tokens are refused).
    pub files: Option<FileSettings>,
    /// Signs the web tickets of the room management URL ([`manage::WebTicketKey`]).
    pub web_ticket_key: manage::WebTicketKey,
}

/// What became of one body the server handed to [`ChatService::handle`]: accepted, or why
/// not. The server turns it into its transport's answer (a SIP status for an INFO); the
/// core knows no SIP. Commands are always accepted here and answered by their own reply;
/// the refusals are a posted message's (`grpchat` has no reply of its own) or the body's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// Not XCCOS, or over the parser's limits.
    Malformed,
    /// No chat session for the sender: it ended, or never began.
    NoSession,
    /// A post to a room that does not exist, or that the author may not see.
    NoSuchRoom,
    /// A post without its timestamp.
    MissingTimestamp,
    /// A post over the size limits, as typed or as it would go out.
    TooLarge,
    /// A post to a room the session has not joined.
    NotJoined,
    /// A post to a room where the author may not post (an auditorium, for non-presenters).
    NotAllowed,
    /// The service failed (the store did); the post was not taken.
    ServerError,
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Store(#[from] parlance_store::StoreError),
    #[error("{0} has no account")]
    UnknownPrincipal(String),
    #[error("{0} is disabled")]
    Disabled(String),
    #[error("{0} may not use persistent chat")]
    NotAllowed(String),
}

pub struct ChatService {
    store: Store,
    settings: ChatSettings,
    sink: Arc<dyn Sink>,
    root_uri: String,
    rosters: Mutex<Rosters>,
    /// Serialises what changes a room's order: posts, joins and parts. Commit order is
    /// delivery order.
    room_locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    envids: AtomicU64,
    search_rate: SearchRate,
    /// Issues and checks file tokens when the file service is on.
    transfers: Option<Transfers>,
    /// The server's clock: every time the core reads (timestamps, search rates) is its.
    clock: Clock,
    /// The other nodes of the pool, if any ([`ChatService::with_bus`]).
    bus: Bus,
    /// Where each room's relayed posts stand ([`relay`]).
    relayed: Mutex<relay::Relayed>,
    /// Chooses the channel service URI `cmd:requri` hands out in a pool; a single server
    /// hands out its own.
    lookup: Option<Arc<dyn Lookup>>,
}

impl std::fmt::Debug for ChatService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatService")
            .field("domain", &self.settings.domain)
            .finish_non_exhaustive()
    }
}

impl ChatService {
    pub async fn new(
        store: Store,
        settings: ChatSettings,
        sink: Arc<dyn Sink>,
        clock: Clock,
    ) -> Result<ChatService, ChatError> {
        let root = store.root_category().await?;
        // Every session starts out of every room, so a join still open is one a stopped
        // server never closed.
        let closed = store
            .close_open_joins(
                "the server stopped without recording this part",
                clock.unix_nanos(),
            )
            .await?;
        if closed > 0 {
            tracing::warn!(parts = closed, "joins left open by an earlier run closed");
        }
        Ok(ChatService {
            root_uri: format!("ma-cat://{}/{}", settings.domain, root.guid),
            search_rate: SearchRate::new(settings.search),
            transfers: settings.files.clone().map(|files| {
                Transfers::new(store.clone(), clock.clone(), settings.domain.clone(), files)
            }),
            store,
            settings,
            sink,
            rosters: Mutex::new(Rosters::default()),
            room_locks: Mutex::new(HashMap::new()),
            envids: AtomicU64::new(clock.unix_nanos() as u64 / 1000),
            clock,
            bus: Bus::Local,
            relayed: Mutex::default(),
            lookup: None,
        })
    }

    pub fn settings(&self) -> &ChatSettings {
        &self.settings
    }

    /// The channel URI `cmd:requri` hands out to one client now.
    pub fn hand_out_channel_uri(&self) -> Arc<str> {
        match &self.lookup {
            Some(lookup) => lookup.hand_out(),
            None => self.settings.channel_uri.as_str().into(),
        }
    }

    /// Starts a session for an authenticated principal; `outside`: it connects from outside
    /// (it is given the external room management URL).
    pub async fn open_session(
        &self,
        session: SessionId,
        principal_uri: &str,
        outside: bool,
    ) -> Result<(), ChatError> {
        let user = self
            .store
            .user(principal_uri)
            .await?
            .ok_or_else(|| ChatError::UnknownPrincipal(principal_uri.to_owned()))?;
        if user.disabled {
            return Err(ChatError::Disabled(user.uri));
        }
        if !user.persistent_chat {
            return Err(ChatError::NotAllowed(user.uri));
        }
        self.rosters().open(
            session,
            Principal {
                id: user.id,
                uri: user.uri,
            },
            outside,
        );
        Ok(())
    }

    /// Ends a session: it leaves every room, and the others hear of it. The connection is
    /// gone whatever the store says, so here the roster changes first; a part row that
    /// cannot be written is logged, and the next start writes it ([`Store::close_open_joins`]).
    pub async fn close_session(&self, session: SessionId) {
        let principal = self.rosters().principal(session).cloned();
        let left = self.rosters().close(session);
        let Some(principal) = principal else { return };
        for (room, uri, gone) in left {
            let _order = self.lock_room(room).await;
            // Asked again under the room's lock: another session of the principal may have
            // joined since the roster let this one go, and announced it; a part announced
            // now would take the principal out of the pool's rosters while it is here.
            if gone && !self.rosters().present_here_as(room, principal.id) {
                self.principal_left(room, &uri, &principal);
            }
            if let Err(e) = self
                .store
                .record_event(
                    parlance_store::history::ComplianceKind::Part,
                    room,
                    principal.id,
                    "",
                    self.now_nanos(),
                )
                .await
            {
                tracing::error!(error = %e, room, "compliance event for a part not recorded");
            }
        }
    }

    /// Unix nanoseconds now, on the server's clock.
    fn now_nanos(&self) -> i64 {
        self.clock.unix_nanos()
    }

    /// Sessions joined to rooms, each counted once per room it has joined.
    pub fn joined_endpoints(&self) -> usize {
        self.rosters().joined_endpoints()
    }

    fn rosters(&self) -> std::sync::MutexGuard<'_, Rosters> {
        self.rosters.lock().expect("rosters lock")
    }

    async fn lock_room(&self, room: i64) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .room_locks
            .lock()
            .expect("room locks")
            .entry(room)
            .or_default()
            .clone();
        lock.lock_owned().await
    }

    fn next_envid(&self) -> u64 {
        self.envids.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends one envelope to sessions. Every body the service builds is sized to fit the
    /// output limit; one that does not is a bug, and is logged and not sent rather than
    /// dropped by the client. Returns whether it was sent.
    fn send(&self, sessions: &[SessionId], message: impl Into<Message>) -> bool {
        if sessions.is_empty() {
            return true;
        }
        let body = Envelope::new(self.next_envid(), message).to_xml();
        if body.len() > self.settings.max_output_body_bytes {
            tracing::error!(
                bytes = body.len(),
                limit = self.settings.max_output_body_bytes,
                sessions = sessions.len(),
                "outgoing XCCOS body over the size limit, not sent"
            );
            return false;
        }
        self.sink.deliver(sessions, &bytes::Bytes::from(body));
        self.settings
            .metrics
            .deliveries
            .inc_by(sessions.len() as u64);
        true
    }

    /// `ma-chan://<domain>/<guid>` of a room.
    fn room_uri(&self, info: &RoomInfo) -> String {
        format!("ma-chan://{}/{}", self.settings.domain, info.room.guid)
    }

    /// The room a `ma-chan:` URI names, if it is in our domain and exists.
    async fn room_by_uri(&self, uri: &str) -> Result<Option<RoomInfo>, ChatError> {
        let Some(guid) = self.room_guid(uri) else {
            return Ok(None);
        };
        Ok(self.store.room_by_guid(guid).await?)
    }

    /// The GUID of a `ma-chan:` URI of our domain.
    fn room_guid<'u>(&self, uri: &'u str) -> Option<&'u str> {
        let rest = uri.strip_prefix(xccos::CHANNEL_SCHEME)?;
        let (domain, guid) = rest.split_once('/')?;
        (domain.eq_ignore_ascii_case(&self.settings.domain) && !guid.is_empty()).then_some(guid)
    }
}
