//! `cmd:getinv`: the principal's invitations from an id on, to rooms that take invitations
//! and that it may join (an invitation to a room it may no longer enter is not shown); and
//! `ntc:inv`, a new invitation pushed to the principal's sessions in the same shape.

use parlance_store::history::Invitation;
use xccos::{Chanib, Inv, Notice, ReplyData, format_timestamp};

use super::Outcome;
use crate::{ChatError, ChatService, Principal};

pub(super) async fn run(
    chat: &ChatService,
    principal: &Principal,
    inv: Option<&Inv>,
) -> Result<Outcome, ChatError> {
    let from = inv.map_or(1, |i| i.invite_id.max(1)) as i64;
    let mut out = Vec::new();
    for invitation in chat.store.invitations(principal.id, from).await? {
        out.extend(offer(chat, principal, &invitation).await?);
    }
    Ok(Ok(ReplyData::GetInv(out)))
}

/// An invitation as the principal is shown it; `None` when its room is gone, takes no
/// invitations, or may not be joined by the principal.
async fn offer(
    chat: &ChatService,
    principal: &Principal,
    invitation: &Invitation,
) -> Result<Option<Inv>, ChatError> {
    let Some(info) = chat.store.room_by_id(invitation.room_id).await? else {
        return Ok(None);
    };
    let standing = chat.standing(&info, principal).await?;
    if !info.invitations() || !standing.on(&info).can_join() {
        return Ok(None);
    }
    Ok(Some(Inv {
        invite_id: invitation.invite_id as u64,
        domain: Some(chat.settings.domain.clone()),
        ts: Some(format_timestamp(
            invitation.created_at.saturating_mul(1_000_000_000),
        )),
        chanib: Some(Chanib {
            name: Some(info.room.name.clone()),
            description: Some(info.room.description.clone()),
            ..Chanib::new(chat.room_uri(&info))
        }),
    }))
}

impl ChatService {
    /// Pushes a new invitation of `principal_id` to `room_id` to the principal's sessions
    /// (`ntc:inv`, docs/protocol.md), as `cmd:getinv` would show it. Returns how many
    /// sessions were told: none when the principal is not connected or may not see it.
    pub async fn push_invitation(
        &self,
        principal_id: i64,
        room_id: i64,
    ) -> Result<usize, ChatError> {
        let Some((principal, sessions)) = self.rosters().sessions_of(principal_id) else {
            return Ok(0);
        };
        let invitations = self.store.invitations(principal_id, 1).await?;
        let Some(invitation) = invitations.iter().find(|i| i.room_id == room_id) else {
            return Ok(0);
        };
        let Some(inv) = offer(self, &principal, invitation).await? else {
            return Ok(0);
        };
        self.send(&sessions, Notice::Inv(vec![inv]));
        Ok(sessions.len())
    }
}
