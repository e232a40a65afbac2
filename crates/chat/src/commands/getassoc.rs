//! `cmd:getassoc`: the rooms the user is associated with — holds a role in (member,
//! manager or presenter) — that the user may see, listed as `rpl:chansrch` lists rooms, by
//! name, at most `sib@searchLimit` (docs/protocol.md, "Room lists by query type").

use std::collections::BTreeMap;

use parlance_store::rooms::Role;
use xccos::ReplyData;

use super::Outcome;
use super::chansrch::visible;
use crate::{ChatError, ChatService, Principal};

pub(super) async fn run(chat: &ChatService, principal: &Principal) -> Result<Outcome, ChatError> {
    // By name, then id: one entry per room, whichever roles it is held under.
    let mut rooms = BTreeMap::new();
    for role in [Role::Member, Role::Manager, Role::Presenter] {
        for info in chat.store.rooms_with_role(principal.id, role).await? {
            rooms.insert((info.room.name.to_lowercase(), info.room.id), info);
        }
    }
    let candidates = rooms.into_values().collect();
    Ok(Ok(ReplyData::GetAssoc(
        visible(chat, principal, candidates).await?,
    )))
}
