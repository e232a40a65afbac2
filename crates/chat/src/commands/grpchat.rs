//! `grpchat`: a message posted to a room, stored (with the files its `ma-filelink:` links
//! post into the room), then delivered to everyone joined, author included. It has no
//! reply of its own: a refusal is the [`Answer`] to the body that carried it (the server's
//! answer to the INFO; sipe shows "not delivered" for any refusal). An alert (`alert="true"`)
//! is stored and delivered as one, an RTF copy (`<rtf>`) stored and delivered as received.

use std::time::Instant;

use parlance_store::history::Post;
use xccos::{ChatMessage, GrpChat, format_timestamp};

use crate::output::fits_on_the_wire;
use crate::{Answer, ChatService, Principal, SessionId};
use xccos::file_links;

/// Validates, commits and fans out one message; `respond` is called once, before the
/// message goes out.
pub(super) async fn run(
    service: &ChatService,
    session: SessionId,
    principal: &Principal,
    chat: GrpChat,
    respond: impl FnOnce(Answer),
) {
    let arrived = Instant::now();
    let info = match service.room_by_uri(&chat.message.channel_uri).await {
        Ok(Some(info)) => info,
        Ok(None) => return respond(Answer::NoSuchRoom),
        Err(e) => {
            tracing::error!(error = %e, "room lookup failed");
            return respond(Answer::ServerError);
        }
    };
    if chat.message.ts.is_none() {
        return respond(Answer::MissingTimestamp);
    }
    let limits = &service.settings.chat_limits;
    if limits.check(&chat.message.text).is_err()
        || chat
            .message
            .rtf
            .as_deref()
            .is_some_and(|rtf| limits.check_rtf(rtf).is_err())
    {
        tracing::info!(
            principal = %principal.uri,
            bytes = chat.message.text.len(),
            rtf_bytes = chat.message.rtf.as_ref().map(String::len),
            "post refused: over the size limits"
        );
        return respond(Answer::TooLarge);
    }
    // The size limits count the text as typed; what goes out is escaped, and must fit
    // the body limit of whoever receives it.
    let outgoing = ChatMessage {
        channel_uri: service.room_uri(&info),
        author: principal.uri.clone(),
        ..chat.message.clone()
    };
    if !fits_on_the_wire(
        service.settings.max_output_body_bytes,
        &outgoing,
        chat.seqid,
        service.now_nanos(),
    ) {
        tracing::info!(
            principal = %principal.uri,
            bytes = chat.message.text.len(),
            "post refused: too large once escaped for the body limit"
        );
        return respond(Answer::TooLarge);
    }
    let standing = match service.standing(&info, principal).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "role lookup failed");
            return respond(Answer::ServerError);
        }
    };
    let access = standing.on(&info);
    if !access.can_see() {
        return respond(Answer::NoSuchRoom);
    }
    if !service.rosters().is_joined(info.room.id, session) {
        return respond(Answer::NotJoined);
    }
    if !access.can_post() {
        return respond(Answer::NotAllowed);
    }
    // The store links only the complete files of this room among them.
    let links: Vec<String> = file_links(&chat.message.text)
        .into_iter()
        .map(|(_, l)| l)
        .filter(|l| l.is_in(&service.settings.domain, &info.room.guid))
        .map(|l| l.name)
        .collect();
    let linked: Vec<&str> = links.iter().map(String::as_str).collect();
    let _order = service.lock_room(info.room.id).await;
    let writing = Instant::now();
    let stored = match service
        .store
        .post_message(
            info.room.id,
            principal.id,
            &Post {
                content: &chat.message.text,
                linked_files: &linked,
                alert: chat.message.alert,
                rtf: chat.message.rtf.as_deref(),
            },
            service.now_nanos(),
        )
        .await
    {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, room = info.room.id, "message not stored");
            return respond(Answer::ServerError);
        }
    };
    let metrics = &service.settings.metrics;
    metrics
        .store_write_latency
        .observe(writing.elapsed().as_secs_f64());
    metrics.posts.inc();
    respond(Answer::Accepted);
    // The author is among the targets: sipe shows its own line only when it comes back.
    let delivery = GrpChat {
        seqid: chat.seqid,
        message: ChatMessage {
            channel_uri: service.room_uri(&info),
            author: principal.uri.clone(),
            ts: Some(format_timestamp(stored.posted_at)),
            message_id: Some(stored.seq as u64),
            text: stored.content,
            alert: stored.alert,
            rtf: stored.rtf,
        },
    };
    service
        .deliver_post(info.room.id, delivery, stored.posted_at)
        .await;
    metrics
        .delivery_latency
        .observe(arrived.elapsed().as_secs_f64());
}
