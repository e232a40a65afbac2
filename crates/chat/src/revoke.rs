//! Rights taken away while people are in a room: an administrator removed a role, made a room
//! Closed or Secret, disabled or deleted it, or changed a category's scope. A session that may no longer
//! be in a room leaves it at once, as if it had parted: out of the roster (so nothing more is
//! delivered to it), a compliance part row, and `ntc:part` to the room and to the session
//! itself (it did not ask to leave, so no reply tells it).

use std::collections::BTreeMap;

use xccos::{Chanib, Notice, Uib};

use crate::{ChatError, ChatService, Principal, SessionId};

/// What the compliance part row says when a session was made to leave.
const REVOKED: &str = "access revoked";

impl ChatService {
    /// Re-checks the sessions of `principal_id` (everyone's when `None`) in `room_id` (every
    /// room they are in when `None`), keeping only rooms of `category_id` when given. Returns
    /// how many sessions left a room.
    pub async fn recheck_access(
        &self,
        principal_id: Option<i64>,
        room_id: Option<i64>,
        category_id: Option<i64>,
    ) -> Result<usize, ChatError> {
        // Grouped by room, then principal: one room and one standing lookup each.
        let mut by_room: BTreeMap<i64, BTreeMap<i64, (Principal, Vec<SessionId>)>> =
            BTreeMap::new();
        for (room, session, principal) in self.rosters().joined(principal_id, room_id) {
            by_room
                .entry(room)
                .or_default()
                .entry(principal.id)
                .or_insert_with(|| (principal, Vec::new()))
                .1
                .push(session);
        }
        let mut left = 0;
        for (room, principals) in by_room {
            let Some(info) = self.store.room_by_id(room).await? else {
                left += self.gone(room, principals.into_values()).await;
                continue;
            };
            if category_id.is_some_and(|c| info.category.id != c) {
                continue;
            }
            let uri = self.room_uri(&info);
            for (principal, sessions) in principals.into_values() {
                let standing = self.standing(&info, &principal).await?;
                if standing.on(&info).can_join() {
                    continue;
                }
                for session in sessions {
                    if self.evict(room, &uri, session, &principal).await? {
                        left += 1;
                    }
                }
            }
        }
        Ok(left)
    }

    /// Makes everyone leave a room that was deleted (`parlance room delete`); returns how
    /// many sessions left. There is nothing to record: the room's compliance rows went with
    /// it.
    async fn gone(
        &self,
        room: i64,
        principals: impl Iterator<Item = (Principal, Vec<SessionId>)>,
    ) -> usize {
        let _order = self.lock_room(room).await;
        let Some(uri) = self.rosters().room_uri(room) else {
            return 0;
        };
        let mut left = 0;
        for (principal, sessions) in principals {
            for session in sessions {
                self.drop_from(room, &uri, session, &principal);
                tracing::info!(session, user = %principal.uri, room = uri, "room deleted: session left it");
                self.tell_parted(session, &uri, &principal);
                left += 1;
            }
        }
        left
    }

    /// Makes one session leave a room. False when it had left already.
    async fn evict(
        &self,
        room: i64,
        uri: &str,
        session: SessionId,
        principal: &Principal,
    ) -> Result<bool, ChatError> {
        let _order = self.lock_room(room).await;
        match self.leave(room, uri, session, principal, REVOKED).await {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            // Unlike a part it asked for, this one cannot wait for the store: the rights are
            // gone. The part row left unwritten is written at the next start, with the other
            // joins left open (`close_open_joins`).
            Err(e) => {
                tracing::error!(error = %e, session, room = uri, "access revoked: part not recorded; the session leaves all the same");
                self.drop_from(room, uri, session, principal);
            }
        }
        tracing::info!(session, user = %principal.uri, room = uri, "access revoked: session left the room");
        self.tell_parted(session, uri, principal);
        Ok(true)
    }

    /// `ntc:part` to a session made to leave: it did not ask to, so no reply tells it.
    fn tell_parted(&self, session: SessionId, uri: &str, principal: &Principal) {
        let chanib = Chanib {
            uibs: vec![Uib::new(principal.uri.clone())],
            ..Chanib::new(uri)
        };
        self.send(&[session], Notice::Part(vec![chanib]));
    }
}
