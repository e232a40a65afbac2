//! `cmd:join` and `cmd:bjoin`: entering one room, or several at once. The reply carries each
//! room (listing, topic, who is present) and one user id space shared by all of them; a
//! room of a `bjoin` that cannot be joined is listed as failed (`fib`) and the others are
//! joined all the same. The others present hear of the joiner (`ntc:join`), unless the room
//! is crowded.

use std::collections::HashMap;

use parlance_store::history::ComplianceKind;
use xccos::{Aib, ChanId, Chanib, Fib, JoinData, Notice, ReplyData, ResponseCode, Uib};

use super::Outcome;
use super::chansrch::listing;
use crate::roster::Present;
use crate::{ChatError, ChatService, Principal, SessionId};

pub(super) async fn join(
    chat: &ChatService,
    session: SessionId,
    principal: &Principal,
    chanid: &ChanId,
) -> Result<Outcome, ChatError> {
    let mut data = JoinData::default();
    let mut ids = HashMap::new();
    Ok(enter(chat, session, principal, chanid, &mut data, &mut ids)
        .await?
        .map(|()| ReplyData::Join(data)))
}

pub(super) async fn bjoin(
    chat: &ChatService,
    session: SessionId,
    principal: &Principal,
    chanids: &[ChanId],
) -> Result<Outcome, ChatError> {
    let mut data = JoinData::default();
    let mut ids = HashMap::new();
    for chanid in chanids {
        match enter(chat, session, principal, chanid, &mut data, &mut ids).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => data.fibs.push(Fib::failed(chanid)),
            // The rooms joined before stay joined (their rows are written): this one failed
            // like a refused one, and the reply says so.
            Err(e) => {
                tracing::error!(error = %e, room = %chanid.uri(), "bjoin: join not recorded");
                data.fibs.push(Fib::failed(chanid));
            }
        }
    }
    Ok(Ok(ReplyData::BJoin(data)))
}

/// Joins one room, adding it to `data` (ids: the reply's shared user id space).
async fn enter(
    chat: &ChatService,
    session: SessionId,
    principal: &Principal,
    chanid: &ChanId,
    data: &mut JoinData,
    ids: &mut HashMap<String, u64>,
) -> Result<Result<(), ResponseCode>, ChatError> {
    let Some(info) = chat.room_by_uri(&chanid.uri()).await? else {
        return Ok(Err(ResponseCode::NoSuchNode));
    };
    let standing = chat.standing(&info, principal).await?;
    let access = standing.on(&info);
    if !access.can_join() {
        return Ok(Err(access.refusal()));
    }
    let uri = chat.room_uri(&info);
    let _order = chat.lock_room(info.room.id).await;
    // The join row is the join's only durable trace, so it is committed before the roster
    // changes: a failed write leaves the session out of the room, and the client hears the
    // failure. A session joining a room it is in already writes no second row, which would
    // be a join without its part.
    if !chat.rosters().is_joined(info.room.id, session) {
        chat.store
            .record_event(
                ComplianceKind::Join,
                info.room.id,
                principal.id,
                "",
                chat.now_nanos(),
            )
            .await?;
    }
    let first = chat
        .rosters()
        .join(info.room.id, &uri, session, access.is_manager());
    // Above the limit the roster is hidden, as Lync Server does: listing thousands of
    // people in every join reply (and telling all of them of every join) costs more than
    // it tells anyone. The joiner still sees itself.
    let crowded = chat.rosters().user_count(info.room.id) > chat.settings.participant_update_limit;
    let present = if crowded {
        vec![Present {
            principal: principal.clone(),
            manager: access.is_manager(),
        }]
    } else {
        chat.rosters().present(info.room.id)
    };
    let mut chanib = Chanib {
        name: Some(info.room.name.clone()),
        topic: Some(info.room.topic.clone()),
        ..listing(chat, &info)
    };
    chanib.uri = uri.clone();
    let (mut members, mut managers) = (Vec::new(), Vec::new());
    for p in &present {
        let next = ids.len() as u64;
        let id = *ids.entry(p.principal.uri.clone()).or_insert_with(|| {
            data.uibs.push(Uib {
                id: Some(next),
                ..Uib::new(p.principal.uri.clone())
            });
            next
        });
        if p.manager {
            managers.push(id)
        } else {
            members.push(id)
        }
    }
    chanib.aibs = vec![
        Aib::users(xccos::AIB_KEY_MEMBER, members),
        Aib::users(xccos::AIB_KEY_MANAGER, managers),
    ];
    data.chanibs.push(chanib);
    if first && !crowded {
        let key = if access.is_manager() {
            xccos::AIB_KEY_MANAGER
        } else {
            xccos::AIB_KEY_MEMBER
        };
        let joined = Uib {
            aibs: vec![Aib::room(key, chanid)],
            ..Uib::new(principal.uri.clone())
        };
        let others = others(chat, info.room.id, principal);
        chat.send(&others, Notice::Join(vec![joined]));
    }
    Ok(Ok(()))
}

/// Sessions in the room that belong to other principals.
fn others(chat: &ChatService, room: i64, principal: &Principal) -> Vec<SessionId> {
    let rosters = chat.rosters();
    let targets = rosters.targets(room);
    targets
        .iter()
        .copied()
        .filter(|s| rosters.principal(*s).is_some_and(|p| p.id != principal.id))
        .collect()
}
