//! `cmd:bccontext`: a room's history — the latest messages, a page before or after a
//! message id, or a full-text search (bounded and rate-limited like every search). For
//! those who may join the room; a room not logged has none. The reply is cut to the body
//! limit at the end away from the query's anchor ([`crate::output`]). The same history is
//! pushed, unasked, after a Lync 2013-style `bjoin` ([`push`]).

use parlance_store::history::HistoryQuery;
use xccos::{Bcq, Chanib, Envelope, Reply, ReplyData, ResponseCode};

use super::Outcome;
use crate::output::{Keep, chat_message, fit_history};
use crate::{ChatError, ChatService, Principal, SessionId};

/// Bytes of history one `bjoin` pushes at most, over all its rooms: a batch of hundreds of
/// rooms must not fill the connection's write queue (8 MiB by default) with history nobody
/// asked for. Each room's page is also within the body limit, as any reply is. Rooms past
/// the budget get none; the client asks with `cmd:bccontext` as it would anyway.
pub(super) const PUSH_BUDGET_BYTES: usize = 1024 * 1024;

pub(super) async fn run(
    chat: &ChatService,
    principal: &Principal,
    channel_uri: &str,
    query: &Bcq,
) -> Result<Outcome, ChatError> {
    Ok(history(chat, principal, channel_uri, query)
        .await?
        .map(|chanib| ReplyData::BcContext(vec![chanib])))
}

/// After a `bjoin` by a session following Lync 2013's flow (it asked `cmd:getserverinfo`
/// first, which sipe never does), each joined room's latest `chat.history_default`
/// messages, one `rpl:bccontext` INFO per room in the reply's order, as OCSPROT 2.5.21 has
/// the server do. The pushed replies answer no command of their own: they carry the
/// `bjoin`'s `seqid` and no `commandid`. Each read is recorded for compliance as any
/// history read is.
pub(super) async fn push(
    chat: &ChatService,
    session: SessionId,
    principal: &Principal,
    seqid: u64,
    rooms: Vec<String>,
) {
    let mut budget = PUSH_BUDGET_BYTES;
    for uri in rooms {
        let chanib = match history(chat, principal, &uri, &Bcq::Last { cnt: 0 }).await {
            Ok(Ok(chanib)) => chanib,
            // Joined a moment ago; a room gone or closed to the principal since has nothing
            // to push.
            Ok(Err(code)) => {
                tracing::debug!(room = uri, code = code.code(), "no history pushed");
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, room = uri, "history push failed");
                continue;
            }
        };
        let reply = Reply {
            seqid,
            command: None,
            resp: ResponseCode::Ok.into(),
            data: ReplyData::BcContext(vec![chanib]),
        };
        let bytes = Envelope::new(u64::MAX, reply.clone()).to_xml().len();
        if bytes > budget {
            tracing::info!(
                room = uri,
                bytes,
                budget,
                "history push stopped at its budget"
            );
            return;
        }
        budget -= bytes;
        chat.send(&[session], reply);
    }
}

/// The history `query` asks of a room, as a `chanib` holding it, or the refusal.
async fn history(
    chat: &ChatService,
    principal: &Principal,
    channel_uri: &str,
    query: &Bcq,
) -> Result<Result<Chanib, ResponseCode>, ChatError> {
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
            .map(|m| chat_message(&uri, m))
            .collect();
        let keep = match query {
            Bcq::After { .. } => Keep::Oldest,
            Bcq::Last { .. } | Bcq::Before { .. } | Bcq::Search { .. } => Keep::Newest,
        };
        chanib.msgs = fit_history(chat.settings.max_output_body_bytes, &uri, messages, keep);
    }
    Ok(Ok(chanib))
}

fn clamp_seq(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}
