//! `cmd:bccontext`: a room's history — the latest messages, a page before or after a
//! message id, or a full-text search (bounded and rate-limited like every search). For
//! those who may join the room; a room not logged has none. The reply is cut to the body
//! limit at the end away from the query's anchor ([`crate::output`]).

use parlance_store::history::HistoryQuery;
use xccos::{Bcq, Chanib, ChatMessage, ReplyData, ResponseCode, format_timestamp};

use super::Outcome;
use crate::output::{Keep, fit_history};
use crate::{ChatError, ChatService, Principal};

pub(super) async fn run(
    chat: &ChatService,
    principal: &Principal,
    channel_uri: &str,
    query: &Bcq,
) -> Result<Outcome, ChatError> {
    let Some(info) = chat.room_by_uri(channel_uri).await? else {
        return Ok(Err(ResponseCode::NoSuchNode));
    };
    let standing = chat.standing(&info, principal).await?;
    let access = standing.on(&info);
    if !access.can_read_history() {
        return Ok(Err(access.refusal()));
    }
    if let Bcq::Search { text, .. } = query {
        let bounds = chat.settings.search.check_history_query(text);
        if let Err(code) = chat.admit_search(principal, bounds) {
            return Ok(Err(code));
        }
    }
    let uri = chat.room_uri(&info);
    let mut chanib = Chanib::new(uri.clone());
    if info.logged() {
        let n = match query.cnt() {
            0 => chat.settings.history_default,
            n => n.min(chat.settings.history_max),
        };
        let q = match query {
            Bcq::Last { .. } => HistoryQuery::Last(n),
            Bcq::Before { id, .. } => HistoryQuery::Before {
                seq: clamp_seq(*id),
                n,
            },
            Bcq::After { id, .. } => HistoryQuery::After {
                seq: clamp_seq(*id),
                n,
            },
            Bcq::Search { text, .. } => HistoryQuery::Search {
                text: text.clone(),
                n,
            },
        };
        let messages = match chat
            .store
            .read_history(info.room.id, principal.id, &q, chat.now_nanos())
            .await
        {
            Ok(messages) => messages,
            Err(e) => return Ok(Err(chat.stopped_search(principal, e)?)),
        };
        let messages = messages
            .into_iter()
            .map(|m| ChatMessage {
                channel_uri: uri.clone(),
                author: m.author_uri,
                ts: Some(format_timestamp(m.posted_at)),
                message_id: Some(m.seq as u64),
                text: m.content,
                alert: m.alert,
            })
            .collect();
        let keep = match query {
            Bcq::After { .. } => Keep::Oldest,
            Bcq::Last { .. } | Bcq::Before { .. } | Bcq::Search { .. } => Keep::Newest,
        };
        chanib.msgs = fit_history(chat.settings.max_output_body_bytes, &uri, messages, keep);
    }
    Ok(Ok(ReplyData::BcContext(vec![chanib])))
}

fn clamp_seq(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}
