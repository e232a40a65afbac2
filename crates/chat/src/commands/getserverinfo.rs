//! `cmd:getserverinfo`: the service's limits and identity (`sib`): domain, server time,
//! search and message size limits, the root category, the room management URL (the
//! external one for sessions from outside).

use xccos::{ReplyData, Sib, format_timestamp};

use super::Outcome;
use crate::manage::with_ticket;
use crate::{ChatService, Principal, SessionId};

/// Identifies this server's data model to clients (`sib@dbVersion`, a GUID on the wire);
/// changes when the chat schema does.
const DB_VERSION: &str = "6b1f2c9e-4a7d-4f3b-9c2e-0a5d7e8f0002";

/// The room management URL carries a fresh web ticket for the asking principal, so the
/// browser the client opens starts signed in (docs/protocol.md).
///
/// Lync 2013 opens its session with this command (OCSPROT 2.5.21) and sipe never sends it:
/// a session that asks it gets its rooms' history pushed after each `bjoin`, as Lync
/// expects, where sipe asks for it itself and would show it twice.
pub(super) fn run(
    chat: &ChatService,
    session: SessionId,
    principal: &Principal,
    asked: Option<&Sib>,
) -> Outcome {
    let outside = {
        let mut rosters = chat.rosters();
        rosters.push_history_on_bjoin(session);
        rosters.is_outside(session)
    };
    let settings = &chat.settings;
    let url = match outside {
        true => &settings.room_management_url_external,
        false => &settings.room_management_url,
    };
    let limits = settings.chat_limits;
    Ok(ReplyData::GetServerInfo(Some(Sib {
        domain: Some(settings.domain.clone()),
        info_type: asked.and_then(|s| s.info_type.clone()),
        server_time: Some(format_timestamp(chat.now_nanos())),
        search_limit: Some(settings.search_limit),
        message_size_limit: u32::try_from(limits.message_bytes).ok(),
        story_size_limit: u32::try_from(limits.story_bytes).ok(),
        root_uri: Some(chat.root_uri.clone()),
        db_version: Some(DB_VERSION.to_owned()),
        room_management_url: url
            .as_deref()
            .map(|url| with_ticket(url, &chat.web_ticket(principal))),
    })))
}
