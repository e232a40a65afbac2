//! `grpchat`: a message posted to a room, stored, then delivered to everyone joined.

use xccos::{ChatMessage, GrpChat, format_timestamp};

use crate::output::fits_on_the_wire;
use crate::{ChatService, InfoAnswer, Principal, SessionId, now_nanos};

impl ChatService {
    /// Validates, commits and fans out one message. Refusals are SIP answers to the INFO:
    /// grpchat has no reply of its own, and sipe shows "not delivered" for a non-200.
    pub(crate) async fn post(
        &self,
        session: SessionId,
        principal: &Principal,
        chat: GrpChat,
        respond: impl FnOnce(InfoAnswer),
    ) {
        let refuse = |status, reason| InfoAnswer { status, reason };
        let info = match self.room_by_uri(&chat.message.channel_uri).await {
            Ok(Some(info)) => info,
            Ok(None) => return respond(refuse(404, "No Such Room")),
            Err(e) => {
                tracing::error!(error = %e, "room lookup failed");
                return respond(refuse(500, "Server Error"));
            }
        };
        if chat.message.ts.is_none() {
            return respond(refuse(400, "Missing ts"));
        }
        if self.settings.chat_limits.check(&chat.message.text).is_err() {
            return respond(refuse(413, "Message Too Large"));
        }
        // The size limits count the text as typed; what goes out is escaped, and must fit
        // the body limit of whoever receives it.
        let outgoing = ChatMessage {
            channel_uri: self.room_uri(&info),
            author: principal.uri.clone(),
            ..chat.message.clone()
        };
        if !fits_on_the_wire(self.settings.max_output_body_bytes, &outgoing, chat.seqid) {
            tracing::info!(
                principal = %principal.uri,
                bytes = chat.message.text.len(),
                "post refused: too large once escaped for the body limit"
            );
            return respond(refuse(413, "Message Too Large"));
        }
        let grant = match self.grant(&info, principal).await {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "role lookup failed");
                return respond(refuse(500, "Server Error"));
            }
        };
        let access = grant.on(&info);
        if !access.can_see() {
            return respond(refuse(404, "No Such Room"));
        }
        if !self.rosters().is_joined(info.room.id, session) {
            return respond(refuse(403, "Not Joined"));
        }
        if !access.can_post() {
            return respond(refuse(403, "Not Allowed To Post Here"));
        }
        let _order = self.lock_room(info.room.id).await;
        let stored = match self
            .store
            .post_message(info.room.id, principal.id, &chat.message.text, now_nanos())
            .await
        {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, room = info.room.id, "message not stored");
                return respond(refuse(500, "Server Error"));
            }
        };
        respond(InfoAnswer::OK);
        // The author is among the targets: sipe shows its own line only when it comes back.
        let delivery = GrpChat {
            seqid: chat.seqid,
            message: ChatMessage {
                channel_uri: self.room_uri(&info),
                author: principal.uri.clone(),
                ts: Some(format_timestamp(stored.posted_at)),
                message_id: Some(stored.seq as u64),
                text: stored.content,
            },
        };
        let targets = self.rosters().targets(info.room.id);
        self.send(&targets, delivery);
    }
}
