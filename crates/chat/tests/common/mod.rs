//! What the chat core's test files share: the sink that records deliveries, the settings a
//! test service runs with, and a scratch directory for its database.

// Each test file is its own crate and uses only some of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parlance_chat::files::FileSettings;
use parlance_chat::manage::WebTicketKey;
use parlance_chat::{ChatSettings, SearchLimits, SessionId, Sink};
use xccos::Limits;

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

/// The settings of a test service in [`DOMAIN`].
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
    }
}

/// A directory no other test (in this process or a concurrent one) uses.
pub fn scratch_dir(prefix: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "parlance-chat-{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
