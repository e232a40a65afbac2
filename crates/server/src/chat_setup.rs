//! The persistent chat service as the configuration sets it up: its settings from `[chat]`
//! and `[sip]`, and its start with the SIP dialogs through which it is reached.

use std::sync::Arc;
use std::time::Duration;

use parlance_bus::Bus;
use parlance_chat::backlog::OutputBacklog;
use parlance_chat::files::FileSettings;
use parlance_chat::manage::WebTicketKey;
use parlance_chat::{ChatService, ChatSettings, SearchLimits};
use parlance_clock::Clock;
use parlance_metrics::Metrics;
use parlance_store::Store;

use crate::StartError;
use crate::config::Config;
use crate::frontend::networks::Networks;
use crate::frontend::provisioning::Provisioning;
use crate::groupchat::{Dialogs, GroupChat};
use crate::pool;

/// The persistent chat service: the core, and the SIP dialogs through which it is reached.
pub(crate) async fn start_groupchat(
    config: &Config,
    store: Store,
    clock: Clock,
    settings: ChatSettings,
    bus: Bus,
    lookup: Arc<pool::Lookup>,
    backlog: OutputBacklog,
) -> Result<Arc<GroupChat>, StartError> {
    let (dialogs, failures) = Dialogs::new(
        clock.clone(),
        Duration::from_secs(config.chat.session_expires_secs),
        config.chat.max_sessions_per_user,
        backlog,
    );
    let chat = ChatService::new(store, settings, dialogs.clone(), clock).await?;
    let chat = Arc::new(chat.with_bus(bus).with_lookup(lookup));
    let external = Networks::new(config.external_networks()?);
    Ok(GroupChat::start(chat, dialogs, failures, external))
}

/// The chat core's settings, from `[chat]` and `[sip]`, and what the HTTPS side lends it.
pub(crate) fn chat_settings(
    config: &Config,
    files: Option<FileSettings>,
    web_ticket_key: WebTicketKey,
    provisioning: &Provisioning,
    metrics: Metrics,
) -> ChatSettings {
    ChatSettings {
        domain: config.domain.clone(),
        channel_uri: config.channel_uri(),
        search_limit: config.chat.search_limit,
        chat_limits: xccos::ChatSizeLimits {
            message_bytes: config.chat.message_size_limit as usize,
            story_bytes: config.chat.story_size_limit as usize,
        },
        history_default: config.chat.history_default,
        history_max: config.chat.history_max,
        participant_update_limit: config.chat.participant_update_limit as usize,
        room_management_url: provisioning.web_manager_url(false).map(str::to_owned),
        room_management_url_external: provisioning.web_manager_url(true).map(str::to_owned),
        xccos_limits: xccos::Limits {
            max_body_bytes: config.sip.max_body_bytes,
            ..xccos::Limits::default()
        },
        preference_quota_bytes: config.chat.preference_quota_bytes,
        // Parlance's client accepts bodies up to the XCCOS default; a server that accepts
        // larger ones still sends none.
        max_output_body_bytes: config
            .sip
            .max_body_bytes
            .min(xccos::Limits::default().max_body_bytes),
        search: SearchLimits {
            max_bytes: config.chat.search_max_bytes,
            max_terms: config.chat.search_max_terms,
            burst: config.chat.search_burst,
            per_minute: config.chat.searches_per_minute,
        },
        files,
        web_ticket_key,
        metrics,
    }
}
