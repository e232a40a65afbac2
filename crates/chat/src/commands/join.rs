//! `cmd:join` and `cmd:bjoin`: entering one room, or several at once. The reply carries each
//! room (listing, topic, who is present) and one user id space shared by all of them; a
//! room of a `bjoin` that cannot be joined is listed as failed (`fib`) and the others are
//! joined all the same. The others present hear of the joiner, unless the room is crowded:
//! `ntc:join` for a join, and for a `bjoin` one `ntc:bjoin` per session naming every room of
//! the batch that session shares with the joiner. After a `bjoin`, a session that follows
//! Lync 2013's flow gets the rooms' recent history pushed (`bccontext::push`).

use std::collections::{BTreeMap, HashMap};

use parlance_bus::{Presence, RoomEventKind};
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
    Ok(
        enter(chat, session, principal, chanid, &mut data, &mut ids, None)
            .await?
            .map(|()| ReplyData::Join(data)),
    )
}

pub(super) async fn bjoin(
    chat: &ChatService,
    session: SessionId,
    principal: &Principal,
    chanids: &[ChanId],
) -> Result<Outcome, ChatError> {
    let mut data = JoinData::default();
    let mut ids = HashMap::new();
    let mut joined = Vec::new();
    for chanid in chanids {
        let batch = Some(&mut joined);
        match enter(chat, session, principal, chanid, &mut data, &mut ids, batch).await {
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
    announce_batch(chat, principal, joined);
    Ok(Ok(ReplyData::BJoin(data)))
}

/// A room of a `bjoin` whose others are to hear of the joiner, and the joiner's role there.
struct Joined {
    room: i64,
    aib: Aib,
}

/// One `ntc:bjoin` per session present in any of the rooms: its `uib` carries an `aib` for
/// each room of the batch that session shares with the joiner. Sessions sharing the same
/// rooms get the same envelope. The notices follow the whole batch, so unlike `ntc:join`
/// they are not ordered with the rooms' posts; a session that has left a room since is not
/// told of it.
fn announce_batch(chat: &ChatService, principal: &Principal, joined: Vec<Joined>) {
    let mut rooms_of: BTreeMap<SessionId, Vec<usize>> = BTreeMap::new();
    for (i, j) in joined.iter().enumerate() {
        for s in others(chat, j.room, principal) {
            rooms_of.entry(s).or_default().push(i);
        }
    }
    let mut sessions_of: BTreeMap<Vec<usize>, Vec<SessionId>> = BTreeMap::new();
    for (session, rooms) in rooms_of {
        sessions_of.entry(rooms).or_default().push(session);
    }
    for (rooms, sessions) in sessions_of {
        let joiner = Uib {
            aibs: rooms.iter().map(|&i| joined[i].aib.clone()).collect(),
            ..Uib::new(principal.uri.clone())
        };
        chat.send(&sessions, Notice::BJoin(vec![joiner]));
    }
}

/// Joins one room, adding it to `data` (ids: the reply's shared user id space). The others
/// hear of it at once (`ntc:join`, in the room's order), or, in a `batch`, once it is done.
async fn enter(
    chat: &ChatService,
    session: SessionId,
    principal: &Principal,
    chanid: &ChanId,
    data: &mut JoinData,
    ids: &mut HashMap<String, u64>,
    batch: Option<&mut Vec<Joined>>,
) -> Result<Result<(), ResponseCode>, ChatError> {
    let Some((info, standing)) = chat.room_and_standing(&chanid.uri(), principal).await? else {
        return Ok(Err(ResponseCode::NoSuchNode));
    };
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
        chat.start_sequence(info.room.id).await?;
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
    let first_here = chat
        .rosters()
        .join(info.room.id, &uri, session, access.is_manager());
    if first_here {
        chat.publish(
            info.room.id,
            RoomEventKind::Joined(Presence {
                principal: principal.id,
                uri: principal.uri.clone(),
                manager: access.is_manager(),
            }),
        );
    }
    // The others hear of a principal new to the room on every node of the pool.
    let first = first_here && !chat.rosters().present_elsewhere(info.room.id, principal.id);
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
        let aib = Aib::room(key, chanid);
        match batch {
            Some(batch) => batch.push(Joined {
                room: info.room.id,
                aib,
            }),
            None => {
                let joined = Uib {
                    aibs: vec![aib],
                    ..Uib::new(principal.uri.clone())
                };
                chat.send(
                    &others(chat, info.room.id, principal),
                    Notice::Join(vec![joined]),
                );
            }
        }
    }
    Ok(Ok(()))
}

/// Sessions in the room that belong to other principals.
fn others(chat: &ChatService, room: i64, principal: &Principal) -> Vec<SessionId> {
    let mut rosters = chat.rosters();
    let targets = rosters.targets(room);
    targets
        .iter()
        .copied()
        .filter(|s| rosters.principal(*s).is_some_and(|p| p.id != principal.id))
        .collect()
}
