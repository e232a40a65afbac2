//! What the chat core's test files share: a sink that records every delivery, the settings
//! a test core runs with, a scratch directory, and reading a command's reply.

// Each test file is its own crate and uses only some of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parlance_chat::Answer;
use parlance_chat::files::FileSettings;
use parlance_chat::manage::WebTicketKey;
use parlance_chat::{ChatService, ChatSettings, SearchLimits, SessionId, Sink};
use parlance_metrics::Metrics;
use parlance_store::Store;
use parlance_store::rooms::{Behavior, NewCategory, NewRoom, Privacy, RoomInfo};
use xccos::{
    ChatMessage, Command, CommandKind, Envelope, GrpChat, Limits, Message, Reply, format_timestamp,
};

pub const DOMAIN: &str = "example.test";

/// Every body the core delivers, with the session it went to.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<(SessionId, Bytes)>>);

impl Sink for Recorder {
    fn deliver(&self, sessions: &[SessionId], body: &Bytes) {
        let mut delivered = self.0.lock().unwrap();
        delivered.extend(sessions.iter().map(|s| (*s, body.clone())));
    }
}

impl Recorder {
    /// How many bodies were delivered so far: a mark to read what came after.
    pub fn mark(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The envelopes delivered to `session` since `mark`.
    pub fn since(&self, mark: usize, session: SessionId) -> Vec<Envelope> {
        self.0.lock().unwrap()[mark..]
            .iter()
            .filter(|(s, _)| *s == session)
            .map(|(_, body)| Envelope::parse(body, &Limits::default()).unwrap())
            .collect()
    }
}

/// The settings of a test core on [`DOMAIN`], its file service on or off.
pub fn settings(files: Option<FileSettings>, room_management_url: Option<&str>) -> ChatSettings {
    ChatSettings {
        domain: DOMAIN.into(),
        channel_uri: format!("sip:chatsrv@{DOMAIN}"),
        search_limit: 100,
        chat_limits: xccos::ChatSizeLimits {
            message_bytes: 8_000,
            story_bytes: 65_536,
        },
        history_default: 10,
        history_max: 100,
        participant_update_limit: 100,
        room_management_url: room_management_url.map(str::to_owned),
        room_management_url_external: None,
        xccos_limits: Limits::default(),
        preference_quota_bytes: 1 << 20,
        max_output_body_bytes: Limits::default().max_body_bytes,
        search: SearchLimits {
            max_bytes: 256,
            max_terms: 8,
            burst: 10,
            per_minute: 60,
        },
        files,
        web_ticket_key: WebTicketKey::new(&[9; 32]),
        metrics: Metrics::default(),
    }
}

/// Adds `sip:<name>@DOMAIN` (no password) and opens chat session `session` for it;
/// returns its principal id.
pub async fn sign_in(chat: &ChatService, store: &Store, name: &str, session: SessionId) -> i64 {
    let uri = format!("sip:{name}@{DOMAIN}");
    let id = store.add_users_without_password(&[&uri]).await.unwrap()[0].id;
    chat.open_session(session, &uri, false).await.unwrap();
    id
}

/// A room in a category of its own, whose `filepost` is as given.
pub async fn room(
    store: &Store,
    name: &str,
    privacy: Privacy,
    behavior: Behavior,
    file_post: bool,
) -> RoomInfo {
    let root = store.root_category().await.unwrap();
    let category = store
        .add_category(&NewCategory {
            parent_id: root.id,
            name: &format!("{name} category"),
            description: "",
            file_post,
            invitations: true,
            logged: true,
        })
        .await
        .unwrap();
    let room = store
        .add_room(&NewRoom {
            category_id: category.id,
            name,
            description: "",
            topic: "",
            privacy,
            behavior,
            invitations: true,
        })
        .await
        .unwrap();
    store.room_by_id(room.id).await.unwrap().unwrap()
}

/// A directory of its own for one test of the file `name`.
pub fn scratch_dir(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "parlance-chat-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs one command for a session and returns the reply it got.
pub async fn command(
    chat: &ChatService,
    sink: &Recorder,
    session: SessionId,
    kind: CommandKind,
) -> Reply {
    let body = Envelope::new(1, Command { seqid: 7, kind }).to_xml();
    let mark = sink.mark();
    chat.handle(session, body.as_bytes(), |_| {}).await;
    let replies = sink.since(mark, session);
    let envelope = replies.into_iter().last().expect("a reply");
    match envelope.messages.into_iter().next() {
        Some(Message::Reply(reply)) => reply,
        other => panic!("not a reply: {other:?}"),
    }
}

/// Posts `text` to a room as `author` (a SIP URI) stamped `at` (unix nanoseconds); returns
/// how the INFO was answered.
pub async fn post(
    chat: &ChatService,
    session: SessionId,
    author: &str,
    room_uri: &str,
    at: i64,
    text: &str,
) -> Answer {
    let grpchat = GrpChat {
        seqid: 1,
        message: ChatMessage {
            channel_uri: room_uri.into(),
            author: author.into(),
            ts: Some(format_timestamp(at)),
            message_id: None,
            text: text.into(),
            alert: false,
            rtf: None,
        },
    };
    let body = Envelope::new(1, grpchat).to_xml();
    let answer = Mutex::new(None);
    chat.handle(session, body.as_bytes(), |a| {
        *answer.lock().unwrap() = Some(a)
    })
    .await;
    answer.into_inner().unwrap().expect("answered")
}
