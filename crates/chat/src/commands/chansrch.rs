//! `cmd:chansrch`: room lists by query type (docs/protocol.md, "Room lists by query
//! type"). `BYNAME`: the rooms whose name (or, when asked, description) contains the
//! criteria, an empty criteria listing them all; `BYCATEGORY`: the rooms of the category
//! the criteria names; `BYMANAGER` / `BYMEMBER`: the rooms in which the user holds that
//! role. Every list holds only rooms the user may see ([`Access::can_see`]), at most
//! `sib@searchLimit`. Bounded like every search (length and rate, [`crate::search`]).
//!
//! [`Access::can_see`]: crate::Access::can_see

use std::collections::HashMap;

use parlance_store::rooms::{Privacy, Role, RoomInfo};
use xccos::shapes::{CATEGORY_SCHEME, QTYPE_BYCATEGORY, QTYPE_BYMANAGER, QTYPE_BYMEMBER};
use xccos::{Chanib, Qib, ReplyData, ResponseCode};

use super::Outcome;
use crate::permissions::Standing;
use crate::{ChatError, ChatService, Principal};

pub(super) async fn run(
    chat: &ChatService,
    principal: &Principal,
    qib: &Qib,
) -> Result<Outcome, ChatError> {
    let qtype = qib.qtype.to_ascii_uppercase();
    let criteria = qib.criteria.trim();
    let limit = chat.settings.search_limit;
    let candidates = match qtype.as_str() {
        xccos::QTYPE_BYNAME => {
            let bounds = chat.settings.search.check_length(criteria);
            if let Err(code) = chat.admit_search(principal, bounds) {
                return Ok(Err(code));
            }
            let found = chat
                .store
                .search_rooms(Some(criteria), qib.extended, Some(principal.id), limit)
                .await;
            match found {
                Ok(found) => found,
                Err(e) => return Ok(Err(chat.stopped_search(principal, e)?)),
            }
        }
        QTYPE_BYCATEGORY => {
            // Categories are not secret, but a malformed, foreign or unknown one is one
            // answer all the same.
            let Some(category) = category(chat, criteria).await? else {
                return Ok(Err(ResponseCode::NoSuchNode));
            };
            chat.store
                .rooms_in_category(category, principal.id, limit)
                .await?
        }
        QTYPE_BYMANAGER => {
            chat.store
                .rooms_with_role(principal.id, Role::Manager)
                .await?
        }
        QTYPE_BYMEMBER => {
            chat.store
                .rooms_with_role(principal.id, Role::Member)
                .await?
        }
        _ => return Ok(Err(ResponseCode::MsgNotSupported)),
    };
    Ok(Ok(ReplyData::ChanSrch(
        visible(chat, principal, candidates).await?,
    )))
}

/// The category a `ma-cat://<domain>/<GUID>` URI of this server names.
async fn category(chat: &ChatService, uri: &str) -> Result<Option<i64>, ChatError> {
    let Some((domain, guid)) = uri
        .get(..CATEGORY_SCHEME.len())
        .filter(|scheme| scheme.eq_ignore_ascii_case(CATEGORY_SCHEME))
        .and_then(|_| uri[CATEGORY_SCHEME.len()..].split_once('/'))
    else {
        return Ok(None);
    };
    if !domain.eq_ignore_ascii_case(&chat.settings.domain) || guid.is_empty() {
        return Ok(None);
    }
    // GUIDs are stored lower-case and come in any case. `find_category` also takes names;
    // only the GUID names a category on the wire.
    let guid = guid.to_ascii_lowercase();
    let found = chat.store.find_category(&guid).await?;
    Ok(found.filter(|c| c.guid == guid).map(|c| c.id))
}

/// The candidates the user may see, listed, at most `searchLimit`. The store's candidates
/// (see `permissions.rs`) are judged here one by one; scope is a property of the category,
/// asked once per category.
pub(super) async fn visible(
    chat: &ChatService,
    principal: &Principal,
    candidates: Vec<RoomInfo>,
) -> Result<Vec<Chanib>, ChatError> {
    let mut scope: HashMap<i64, bool> = HashMap::new();
    let mut chanibs = Vec::new();
    for info in candidates {
        if chanibs.len() >= chat.settings.search_limit as usize {
            break;
        }
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
        if standing.on(&info).can_see() {
            chanibs.push(listing(chat, &info));
        }
    }
    Ok(chanibs)
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
