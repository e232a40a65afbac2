//! `cmd:chansrch`: the rooms a principal may see whose name (or, when asked, description)
//! contains the criteria; an empty criteria lists them all. Bounded like every search
//! (length and rate, [`crate::search`]) and cut at `sib@searchLimit` results.

use std::collections::HashMap;

use parlance_store::rooms::{Privacy, RoomInfo};
use xccos::{Chanib, Qib, ReplyData, ResponseCode};

use super::Outcome;
use crate::permissions::Standing;
use crate::{ChatError, ChatService, Principal};

pub(super) async fn run(
    chat: &ChatService,
    principal: &Principal,
    qib: &Qib,
) -> Result<Outcome, ChatError> {
    if !qib.qtype.eq_ignore_ascii_case(xccos::QTYPE_BYNAME) {
        return Ok(Err(ResponseCode::MsgNotSupported));
    }
    let criteria = qib.criteria.trim();
    let bounds = chat.settings.search.check_length(criteria);
    if let Err(code) = chat.admit_search(principal, bounds) {
        return Ok(Err(code));
    }
    let found = match chat
        .store
        .search_rooms(
            Some(criteria),
            qib.extended,
            Some(principal.id),
            chat.settings.search_limit,
        )
        .await
    {
        Ok(found) => found,
        Err(e) => return Ok(Err(chat.stopped_search(principal, e)?)),
    };
    // The store returns candidates (see `permissions.rs`); each is judged here. Scope is
    // a property of the category: asked once per category.
    let mut scope: HashMap<i64, bool> = HashMap::new();
    let mut chanibs = Vec::with_capacity(found.len());
    for info in found {
        let in_scope = match scope.get(&info.category.id) {
            Some(s) => *s,
            None => {
                let s = chat.store.in_scope(info.category.id, principal.id).await?;
                scope.insert(info.category.id, s);
                s
            }
        };
        let standing = Standing {
            roles: chat.store.roles_of(info.room.id, principal.id).await?,
            in_scope,
        };
        if !standing.on(&info).can_see() {
            continue;
        }
        chanibs.push(listing(chat, &info));
    }
    Ok(Ok(ReplyData::ChanSrch(chanibs)))
}

/// A room as room lists show it (join replies add its topic and roster).
pub(crate) fn listing(chat: &ChatService, info: &RoomInfo) -> Chanib {
    Chanib {
        name: Some(info.room.name.clone()),
        description: Some(info.room.description.clone()),
        user_count: Some(chat.rosters().user_count(info.room.id) as u64),
        visibility: Some(visibility(info.room.privacy).to_owned()),
        file_post: Some(info.file_post()),
        invite: Some(info.invitations()),
        logged: Some(info.logged()),
        ..Chanib::new(chat.room_uri(info))
    }
}

fn visibility(privacy: Privacy) -> &'static str {
    match privacy {
        Privacy::Open => xccos::VISIBILITY_OPEN,
        Privacy::Closed => xccos::VISIBILITY_SCOPE,
        Privacy::Secret => xccos::VISIBILITY_PRIVATE,
    }
}
