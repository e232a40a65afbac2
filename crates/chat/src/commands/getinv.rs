//! `cmd:getinv`: the principal's invitations from an id on, to rooms that take invitations
//! and that it may join (an invitation to a room it may no longer enter is not shown).

use xccos::{Chanib, Inv, ReplyData, format_timestamp};

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
        let Some(info) = chat.store.room_by_id(invitation.room_id).await? else {
            continue;
        };
        let standing = chat.standing(&info, principal).await?;
        if !info.invitations() || !standing.on(&info).can_join() {
            continue;
        }
        out.push(Inv {
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
        });
    }
    Ok(Ok(ReplyData::GetInv(out)))
}
