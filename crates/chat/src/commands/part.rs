//! `cmd:part`: leaving a room. The others present hear of it (`ntc:part`) once the
//! principal's last session there has left; the same notice is sent when a session closes
//! or loses its access ([`ChatService::notify_part`]).

use parlance_store::history::ComplianceKind;
use xccos::{Chanib, Notice, ReplyData, ResponseCode, Uib};

use super::Outcome;
use crate::{ChatError, ChatService, Principal, SessionId};

pub(super) async fn run(
    chat: &ChatService,
    session: SessionId,
    principal: &Principal,
    channel_uri: &str,
) -> Result<Outcome, ChatError> {
    let Some(info) = chat.room_by_uri(channel_uri).await? else {
        return Ok(Err(ResponseCode::NoSuchNode));
    };
    let _order = chat.lock_room(info.room.id).await;
    if !chat.rosters().is_joined(info.room.id, session) {
        // Not for a room the principal may not see: that would reveal a Secret room.
        let standing = chat.standing(&info, principal).await?;
        let access = standing.on(&info);
        return Ok(Err(if access.can_see() {
            ResponseCode::UserNotJoined
        } else {
            access.refusal()
        }));
    }
    let uri = chat.room_uri(&info);
    chat.leave(info.room.id, &uri, session, principal, "")
        .await?;
    Ok(Ok(ReplyData::Part(vec![Chanib::new(uri)])))
}

impl ChatService {
    /// Takes a session out of a room (the caller holds the room's lock): its compliance part
    /// row, with `reason` as content, and `ntc:part` to the others once its principal's last
    /// session there has gone. False when the session was not in the room.
    pub(crate) async fn leave(
        &self,
        room: i64,
        room_uri: &str,
        session: SessionId,
        principal: &Principal,
        reason: &str,
    ) -> Result<bool, ChatError> {
        if !self.rosters().is_joined(room, session) {
            return Ok(false);
        }
        // As for a join: the row first, then the roster. A failed write leaves the session
        // in the room, where everyone still sees it, rather than gone without a trace.
        self.store
            .record_event(
                ComplianceKind::Part,
                room,
                principal.id,
                reason,
                self.now_nanos(),
            )
            .await?;
        self.drop_from(room, room_uri, session, principal);
        Ok(true)
    }

    /// Takes a session out of a room's roster (the caller holds the room's lock), and tells
    /// the others once its principal's last session there has gone.
    pub(crate) fn drop_from(
        &self,
        room: i64,
        room_uri: &str,
        session: SessionId,
        principal: &Principal,
    ) {
        if self.rosters().part(room, session) {
            self.principal_left(room, room_uri, principal);
        }
    }

    /// After a principal's last session here left a room (the caller holds the room's
    /// lock): the pool hears of it, and the sessions here too unless the principal is still
    /// in the room through another node.
    pub(crate) fn principal_left(&self, room: i64, room_uri: &str, principal: &Principal) {
        self.publish(
            room,
            parlance_bus::RoomEventKind::Parted {
                principal: principal.id,
            },
        );
        if !self.rosters().present_elsewhere(room, principal.id) {
            self.notify_part(room, room_uri, &principal.uri);
        }
    }

    /// Tells the sessions still in a room that a user left it (not in crowded rooms, whose
    /// rosters are hidden).
    pub(crate) fn notify_part(&self, room: i64, room_uri: &str, user_uri: &str) {
        if self.rosters().user_count(room) >= self.settings.participant_update_limit {
            return;
        }
        let targets = self.rosters().targets(room);
        let chanib = Chanib {
            uibs: vec![Uib::new(user_uri)],
            ..Chanib::new(room_uri)
        };
        self.send(&targets, Notice::Part(vec![chanib]));
    }
}
