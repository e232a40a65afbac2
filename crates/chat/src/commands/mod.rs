//! One handler per XCCOS command. Each answers with one reply to the asking session; joins
//! and parts also notify the others in the room.

mod grpchat;

use std::collections::HashMap;

use parlance_store::history::{ComplianceKind, HistoryQuery};
use parlance_store::rooms::{Privacy, RoomInfo};
use xccos::{
    Aib, Bcq, ChanId, Chanib, ChatMessage, Command, CommandKind, Fib, Inv, JoinData, Notice, Pref,
    Qib, Reply, ReplyData, ResponseCode, Sib, Uib, format_timestamp,
};

use crate::output::{Keep, fit_history};
use crate::roster::Present;
use crate::{ChatError, ChatService, Principal, SessionId, now_nanos};

type Outcome = Result<ReplyData, ResponseCode>;

impl ChatService {
    pub(crate) async fn command(
        &self,
        session: SessionId,
        principal: &Principal,
        envid: u64,
        command: Command,
    ) {
        let outcome = match self.run(session, principal, &command.kind).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, command = command.kind.id(), "command failed");
                Err(ResponseCode::Server)
            }
        };
        let reply = match outcome {
            Ok(data) => Reply::answer(&command, envid, ResponseCode::Ok, data),
            Err(code) => Reply::failure(&command, envid, code),
        };
        // A reply too large to send is still answered, so the client does not wait for it.
        if !self.send(&[session], reply) {
            self.send(
                &[session],
                Reply::failure(&command, envid, ResponseCode::LimitExceeded),
            );
        }
    }

    async fn run(
        &self,
        session: SessionId,
        principal: &Principal,
        kind: &CommandKind,
    ) -> Result<Outcome, ChatError> {
        Ok(match kind {
            CommandKind::ReqUri => Ok(ReplyData::ReqUri(Some(Uib::new(self.channel_server())))),
            CommandKind::GetServerInfo(asked) => Ok(ReplyData::GetServerInfo(Some(
                self.server_info(asked.as_ref()),
            ))),
            CommandKind::ChanSrch(qib) => self.search(principal, qib).await?,
            CommandKind::Join(chanid) => {
                let mut data = JoinData::default();
                let mut ids = HashMap::new();
                match self
                    .join(session, principal, chanid, &mut data, &mut ids)
                    .await?
                {
                    Ok(()) => Ok(ReplyData::Join(data)),
                    Err(code) => Err(code),
                }
            }
            CommandKind::BJoin(chanids) => {
                let mut data = JoinData::default();
                let mut ids = HashMap::new();
                for chanid in chanids {
                    if self
                        .join(session, principal, chanid, &mut data, &mut ids)
                        .await?
                        .is_err()
                    {
                        data.fibs.push(Fib::failed(chanid));
                    }
                }
                Ok(ReplyData::BJoin(data))
            }
            CommandKind::Part { channel_uri } => self.part(session, principal, channel_uri).await?,
            CommandKind::BcContext { channel_uri, query } => {
                self.history(principal, channel_uri, query).await?
            }
            CommandKind::GetInv(inv) => self.invitations(principal, inv.as_ref()).await?,
            CommandKind::GetPref(pref) => {
                let stored = self.store.preference(principal.id, &pref.label).await?;
                Ok(ReplyData::GetPref(Some(match stored {
                    // The client knows this version already: nothing to send.
                    Some(p) if pref.seqid >= p.seq as u64 => Pref {
                        label: p.label,
                        seqid: p.seq as u64,
                        create_default: None,
                        content: None,
                    },
                    Some(p) => Pref {
                        label: p.label,
                        seqid: p.seq as u64,
                        create_default: None,
                        content: Some(p.content),
                    },
                    None => Pref {
                        label: pref.label.clone(),
                        seqid: 0,
                        create_default: None,
                        content: None,
                    },
                })))
            }
            CommandKind::SetPref(pref) => {
                let current = self
                    .store
                    .preference(principal.id, &pref.label)
                    .await?
                    .map_or(0, |p| p.seq as u64);
                if pref.seqid != current {
                    Err(ResponseCode::DataCollision)
                } else {
                    let content = pref.content.clone().unwrap_or_default();
                    let quota = self.settings.preference_quota_bytes;
                    match self
                        .store
                        .set_preference(principal.id, &pref.label, &content, quota)
                        .await
                    {
                        Ok(p) => Ok(ReplyData::SetPref(Some(Pref {
                            label: p.label,
                            seqid: p.seq as u64,
                            create_default: None,
                            content: None,
                        }))),
                        Err(parlance_store::StoreError::QuotaExceeded { limit, .. }) => {
                            tracing::warn!(principal = %principal.uri, limit, "preference quota reached: setpref refused");
                            Err(ResponseCode::LimitExceeded)
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            CommandKind::NodesPermCreateChild => {
                let categories = self.store.creator_categories(principal.id).await?;
                Ok(ReplyData::NodesPermCreateChild(
                    categories
                        .into_iter()
                        .map(|c| format!("ma-cat://{}/{}", self.settings.domain, c.guid))
                        .collect(),
                ))
            }
            // File transfer is served by the file web service, which is not in yet.
            CommandKind::GetFuTok(_) | CommandKind::GetFdTok(_) | CommandKind::Unknown { .. } => {
                Err(ResponseCode::MsgNotSupported)
            }
        })
    }

    /// The channel server a client should use. One node serves everything today; a pool
    /// makes this choice load-aware.
    fn channel_server(&self) -> String {
        self.settings.channel_uri.clone()
    }

    fn server_info(&self, asked: Option<&Sib>) -> Sib {
        let limits = self.settings.chat_limits;
        Sib {
            domain: Some(self.settings.domain.clone()),
            info_type: asked.and_then(|s| s.info_type.clone()),
            server_time: Some(format_timestamp(now_nanos())),
            search_limit: Some(self.settings.search_limit),
            message_size_limit: u32::try_from(limits.message_bytes).ok(),
            story_size_limit: u32::try_from(limits.story_bytes).ok(),
            root_uri: Some(self.root_uri.clone()),
            db_version: Some(DB_VERSION.to_owned()),
            room_management_url: self.settings.room_management_url.clone(),
        }
    }

    async fn search(&self, principal: &Principal, qib: &Qib) -> Result<Outcome, ChatError> {
        if !qib.qtype.eq_ignore_ascii_case(xccos::QTYPE_BYNAME) {
            return Ok(Err(ResponseCode::MsgNotSupported));
        }
        let criteria = qib.criteria.trim();
        let bounds = self.settings.search.check_length(criteria);
        if let Err(code) = self.admit_search(principal, bounds) {
            return Ok(Err(code));
        }
        let found = match self
            .store
            .search_rooms(
                Some(criteria),
                qib.extended,
                Some(principal.id),
                self.settings.search_limit,
            )
            .await
        {
            Ok(found) => found,
            Err(e) => return Ok(Err(self.stopped_search(principal, e)?)),
        };
        let mut scope: HashMap<i64, bool> = HashMap::new();
        let mut chanibs = Vec::with_capacity(found.len());
        for info in found {
            let in_scope = match scope.get(&info.category.id) {
                Some(s) => *s,
                None => {
                    let s = self.store.in_scope(info.category.id, principal.id).await?;
                    scope.insert(info.category.id, s);
                    s
                }
            };
            let roles = if in_scope {
                Vec::new()
            } else {
                self.store.roles_of(info.room.id, principal.id).await?
            };
            // Secret rooms were already filtered by role in the store; scope is checked here.
            let visible = in_scope || !roles.is_empty() || info.room.privacy == Privacy::Secret;
            if !visible || info.room.disabled {
                continue;
            }
            chanibs.push(self.listing(&info));
        }
        Ok(Ok(ReplyData::ChanSrch(chanibs)))
    }

    /// A room as room lists show it.
    fn listing(&self, info: &RoomInfo) -> Chanib {
        Chanib {
            name: Some(info.room.name.clone()),
            description: Some(info.room.description.clone()),
            user_count: Some(self.rosters().user_count(info.room.id) as u64),
            visibility: Some(visibility(info.room.privacy).to_owned()),
            file_post: Some(info.file_post()),
            invite: Some(info.invitations()),
            logged: Some(info.logged()),
            ..Chanib::new(self.room_uri(info))
        }
    }

    /// Joins one room, adding it to `data` (ids: the reply's shared user id space).
    async fn join(
        &self,
        session: SessionId,
        principal: &Principal,
        chanid: &ChanId,
        data: &mut JoinData,
        ids: &mut HashMap<String, u64>,
    ) -> Result<Result<(), ResponseCode>, ChatError> {
        let Some(info) = self.room_by_uri(&chanid.uri()).await? else {
            return Ok(Err(ResponseCode::NoSuchNode));
        };
        let grant = self.grant(&info, principal).await?;
        let access = grant.on(&info);
        if !access.can_join() {
            return Ok(Err(access.refusal()));
        }
        let uri = self.room_uri(&info);
        let _order = self.lock_room(info.room.id).await;
        let first = self
            .rosters()
            .join(info.room.id, &uri, session, access.is_manager());
        self.store
            .record_event(
                ComplianceKind::Join,
                info.room.id,
                principal.id,
                "",
                now_nanos(),
            )
            .await?;
        // Above the limit the roster is hidden, as Lync Server does: listing thousands of
        // people in every join reply (and telling all of them of every join) costs more than
        // it tells anyone. The joiner still sees itself.
        let crowded =
            self.rosters().user_count(info.room.id) > self.settings.participant_update_limit;
        let present = if crowded {
            vec![Present {
                principal: principal.clone(),
                manager: access.is_manager(),
            }]
        } else {
            self.rosters().present(info.room.id)
        };
        let mut chanib = Chanib {
            name: Some(info.room.name.clone()),
            topic: Some(info.room.topic.clone()),
            ..self.listing(&info)
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
            let others = self.others(info.room.id, principal);
            self.send(&others, Notice::Join(vec![joined]));
        }
        Ok(Ok(()))
    }

    async fn part(
        &self,
        session: SessionId,
        principal: &Principal,
        channel_uri: &str,
    ) -> Result<Outcome, ChatError> {
        let Some(info) = self.room_by_uri(channel_uri).await? else {
            return Ok(Err(ResponseCode::NoSuchNode));
        };
        let _order = self.lock_room(info.room.id).await;
        if !self.rosters().is_joined(info.room.id, session) {
            // Not for a room the principal may not see: that would reveal a Secret room.
            let grant = self.grant(&info, principal).await?;
            let access = grant.on(&info);
            return Ok(Err(if access.can_see() {
                ResponseCode::UserNotJoined
            } else {
                access.refusal()
            }));
        }
        let gone = self.rosters().part(info.room.id, session);
        self.store
            .record_event(
                ComplianceKind::Part,
                info.room.id,
                principal.id,
                "",
                now_nanos(),
            )
            .await?;
        let uri = self.room_uri(&info);
        if gone {
            self.notify_part(info.room.id, &uri, &principal.uri);
        }
        Ok(Ok(ReplyData::Part(vec![Chanib::new(uri)])))
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

    /// Sessions in the room that belong to other principals.
    fn others(&self, room: i64, principal: &Principal) -> Vec<SessionId> {
        let rosters = self.rosters();
        let targets = rosters.targets(room);
        targets
            .iter()
            .copied()
            .filter(|s| rosters.principal(*s).is_some_and(|p| p.id != principal.id))
            .collect()
    }

    async fn history(
        &self,
        principal: &Principal,
        channel_uri: &str,
        query: &Bcq,
    ) -> Result<Outcome, ChatError> {
        let Some(info) = self.room_by_uri(channel_uri).await? else {
            return Ok(Err(ResponseCode::NoSuchNode));
        };
        let grant = self.grant(&info, principal).await?;
        let access = grant.on(&info);
        if !access.can_read_history() {
            return Ok(Err(access.refusal()));
        }
        if let Bcq::Search { text, .. } = query {
            let bounds = self.settings.search.check_history_query(text);
            if let Err(code) = self.admit_search(principal, bounds) {
                return Ok(Err(code));
            }
        }
        let uri = self.room_uri(&info);
        let mut chanib = Chanib::new(uri.clone());
        if info.logged() {
            let n = match query.cnt() {
                0 => self.settings.history_default,
                n => n.min(self.settings.history_max),
            };
            let q = match query {
                Bcq::Last { .. } => HistoryQuery::Last(n),
                Bcq::Before { id, .. } => HistoryQuery::Before {
                    seq: clamp_seq(*id),
                    n,
                },
                Bcq::After { id, .. } => HistoryQuery::After {
                    seq: clamp_seq(*id),
                    n,
                },
                Bcq::Search { text, .. } => HistoryQuery::Search {
                    text: text.clone(),
                    n,
                },
            };
            let messages = match self
                .store
                .read_history(info.room.id, principal.id, &q, now_nanos())
                .await
            {
                Ok(messages) => messages,
                Err(e) => return Ok(Err(self.stopped_search(principal, e)?)),
            };
            let messages = messages
                .into_iter()
                .map(|m| ChatMessage {
                    channel_uri: uri.clone(),
                    author: m.author_uri,
                    ts: Some(format_timestamp(m.posted_at)),
                    message_id: Some(m.seq as u64),
                    text: m.content,
                })
                .collect();
            let keep = match query {
                Bcq::After { .. } => Keep::Oldest,
                Bcq::Last { .. } | Bcq::Before { .. } | Bcq::Search { .. } => Keep::Newest,
            };
            chanib.msgs = fit_history(self.settings.max_output_body_bytes, &uri, messages, keep);
        }
        Ok(Ok(ReplyData::BcContext(vec![chanib])))
    }

    async fn invitations(
        &self,
        principal: &Principal,
        inv: Option<&Inv>,
    ) -> Result<Outcome, ChatError> {
        let from = inv.map_or(1, |i| i.invite_id.max(1)) as i64;
        let mut out = Vec::new();
        for invitation in self.store.invitations(principal.id, from).await? {
            let Some(info) = self.store.room_by_id(invitation.room_id).await? else {
                continue;
            };
            let grant = self.grant(&info, principal).await?;
            if !info.invitations() || !grant.on(&info).can_join() {
                continue;
            }
            out.push(Inv {
                invite_id: invitation.invite_id as u64,
                domain: Some(self.settings.domain.clone()),
                ts: Some(format_timestamp(
                    invitation.created_at.saturating_mul(1_000_000_000),
                )),
                chanib: Some(Chanib {
                    name: Some(info.room.name.clone()),
                    description: Some(info.room.description.clone()),
                    ..Chanib::new(self.room_uri(&info))
                }),
            });
        }
        Ok(Ok(ReplyData::GetInv(out)))
    }
}

/// Identifies this server's data model to clients (`sib@dbVersion`, a GUID on the wire);
/// changes when the chat schema does.
const DB_VERSION: &str = "6b1f2c9e-4a7d-4f3b-9c2e-0a5d7e8f0002";

fn visibility(privacy: Privacy) -> &'static str {
    match privacy {
        Privacy::Open => xccos::VISIBILITY_OPEN,
        Privacy::Closed => xccos::VISIBILITY_SCOPE,
        Privacy::Secret => xccos::VISIBILITY_PRIVATE,
    }
}

fn clamp_seq(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}
