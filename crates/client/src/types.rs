//! The values the API hands out — rooms, members, chat lines, invitations — read from the
//! XCCOS items the server sends.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use xccos::{Bcq, Chanib, ChatMessage, Inv, JoinData, Sib};

/// A room as room lists and joins describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    /// `ma-chan://domain/id`: how the protocol names the room.
    pub uri: String,
    /// The room's name (its URI when the server sent none).
    pub name: String,
    pub description: String,
    pub topic: String,
    /// People in the room now, when the server says.
    pub user_count: Option<u64>,
    pub visibility: Option<Visibility>,
    pub file_post: Option<bool>,
    pub invitations: Option<bool>,
    pub logged: Option<bool>,
}

/// Who may find a room (`urn:parlano:ma:info:visibilty`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Everyone in the category's scope finds and joins it.
    Open,
    /// Everyone in scope finds it; members join it.
    Scope,
    /// Only members find it.
    Private,
    Other(String),
}

impl RoomInfo {
    pub(crate) fn from_chanib(c: &Chanib) -> RoomInfo {
        RoomInfo {
            uri: c.uri.clone(),
            name: c
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| c.uri.clone()),
            description: c.description.clone().unwrap_or_default(),
            topic: c.topic.clone().unwrap_or_default(),
            user_count: c.user_count,
            visibility: c.visibility.as_deref().map(|v| match v {
                xccos::VISIBILITY_OPEN => Visibility::Open,
                xccos::VISIBILITY_SCOPE => Visibility::Scope,
                xccos::VISIBILITY_PRIVATE => Visibility::Private,
                other => Visibility::Other(other.to_owned()),
            }),
            file_post: c.file_post,
            invitations: c.invite,
            logged: c.logged,
        }
    }
}

/// Someone present in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `sip:user@domain`.
    pub uri: String,
    /// Holds the manager role (sipe shows managers as channel operators).
    pub manager: bool,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// The room's `ma-chan:` URI.
    pub room: String,
    /// The author's `sip:` URI, as the server vouches for it.
    pub author: String,
    pub text: String,
    /// The per-room sequence number: history can be paged from it.
    pub id: Option<u64>,
    /// When the server accepted the message.
    pub time: Option<SystemTime>,
    /// Delivered by catch-up after a reconnect rather than live.
    pub replayed: bool,
    /// A high-importance message (`grpchat@alert`).
    pub alert: bool,
}

impl ChatLine {
    pub(crate) fn from_message(m: &ChatMessage, replayed: bool) -> ChatLine {
        ChatLine {
            room: m.channel_uri.clone(),
            author: m.author.clone(),
            text: m.text.clone(),
            id: m.message_id,
            time: m.ts.as_deref().and_then(system_time),
            replayed,
            alert: m.alert,
        }
    }
}

/// An XCCOS time stamp as a [`SystemTime`].
pub(crate) fn system_time(ts: &str) -> Option<SystemTime> {
    let nanos = xccos::parse_timestamp(ts).ok()?;
    let offset = Duration::from_nanos(nanos.unsigned_abs());
    if nanos >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    }
}

/// A room just joined: what it is, who is there, and its latest history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub room: RoomInfo,
    pub roster: Vec<Member>,
    /// Oldest first. Empty for rooms re-joined after a reconnect: what was missed arrives
    /// as [`crate::Event::Message`]s marked `replayed`.
    pub history: Vec<ChatLine>,
}

/// The rooms of a join reply with their rosters (the `uib` ids are shared by all rooms).
pub(crate) fn joined_rooms(data: &JoinData) -> Vec<Joined> {
    let users: BTreeMap<u64, &str> = data
        .uibs
        .iter()
        .filter_map(|u| Some((u.id?, u.uri.as_str())))
        .collect();
    data.chanibs
        .iter()
        .map(|chanib| {
            let mut roster: BTreeMap<&str, bool> = BTreeMap::new();
            for aib in &chanib.aibs {
                let manager = aib.key == xccos::AIB_KEY_MANAGER;
                for uri in aib.user_ids().iter().filter_map(|id| users.get(id)) {
                    *roster.entry(uri).or_default() |= manager;
                }
            }
            Joined {
                room: RoomInfo::from_chanib(chanib),
                roster: roster
                    .into_iter()
                    .map(|(uri, manager)| Member {
                        uri: uri.to_owned(),
                        manager,
                    })
                    .collect(),
                history: Vec::new(),
            }
        })
        .collect()
}

/// The outcome of joining several rooms at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchJoin {
    pub joined: Vec<Joined>,
    /// URIs of the rooms that could not be joined (the server gives no reason per room).
    pub failed: Vec<String>,
}

/// Which history to fetch. Counts of 0 mean the server's default; large ones are capped
/// by the server. Results are always oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryQuery {
    /// The newest `n` messages.
    Last(u32),
    /// Up to `count` messages older than message `id`.
    Before { id: u64, count: u32 },
    /// Up to `count` messages newer than message `id`.
    After { id: u64, count: u32 },
    /// Up to `count` of the newest messages containing every word of `text`.
    Search { text: String, count: u32 },
}

impl HistoryQuery {
    pub(crate) fn to_bcq(&self) -> Bcq {
        match self {
            HistoryQuery::Last(n) => Bcq::Last { cnt: *n },
            HistoryQuery::Before { id, count } => Bcq::Before {
                id: *id,
                cnt: *count,
            },
            HistoryQuery::After { id, count } => Bcq::After {
                id: *id,
                cnt: *count,
            },
            HistoryQuery::Search { text, count } => Bcq::Search {
                text: text.clone(),
                cnt: *count,
            },
        }
    }
}

/// An invitation to a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// Increasing per user: ask for invitations from the last one seen plus one.
    pub id: u64,
    pub room: RoomInfo,
    pub time: Option<SystemTime>,
}

impl Invitation {
    pub(crate) fn from_inv(inv: &Inv) -> Option<Invitation> {
        Some(Invitation {
            id: inv.invite_id,
            room: RoomInfo::from_chanib(inv.chanib.as_ref()?),
            time: inv.ts.as_deref().and_then(system_time),
        })
    }
}

/// The chat service's limits and addresses (`cmd:getserverinfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    pub search_limit: Option<u32>,
    /// Largest message, in bytes of UTF-8.
    pub message_size_limit: Option<u32>,
    pub story_size_limit: Option<u32>,
    pub server_time: Option<SystemTime>,
    pub root_category: Option<String>,
    pub room_management_url: Option<String>,
}

impl ServerInfo {
    pub(crate) fn from_sib(sib: &Sib) -> ServerInfo {
        ServerInfo {
            search_limit: sib.search_limit,
            message_size_limit: sib.message_size_limit,
            story_size_limit: sib.story_size_limit,
            server_time: sib.server_time.as_deref().and_then(system_time),
            root_category: sib.root_uri.clone(),
            room_management_url: sib.room_management_url.clone(),
        }
    }
}

/// Permission to upload or download one file through the file web service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileToken {
    pub token: String,
    /// The web service to present the token to.
    pub server_uri: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use xccos::{Aib, Uib};

    #[test]
    fn rosters_come_from_the_shared_user_ids() {
        let mut a = Chanib {
            name: Some("A".into()),
            ..Chanib::new("ma-chan://d/a")
        };
        a.aibs = vec![
            Aib::users(xccos::AIB_KEY_MEMBER, [0, 1]),
            Aib::users(xccos::AIB_KEY_MANAGER, [2]),
        ];
        let mut b = Chanib::new("ma-chan://d/b");
        b.aibs = vec![Aib::users(xccos::AIB_KEY_MEMBER, [1])];
        let uib = |id, uri: &str| Uib {
            id: Some(id),
            ..Uib::new(uri)
        };
        let data = JoinData {
            chanibs: vec![a, b],
            uibs: vec![uib(0, "sip:c@d"), uib(1, "sip:a@d"), uib(2, "sip:b@d")],
            fibs: vec![],
        };
        let rooms = joined_rooms(&data);
        let roster = |i: usize| {
            rooms[i]
                .roster
                .iter()
                .map(|m| (m.uri.as_str(), m.manager))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            roster(0),
            [("sip:a@d", false), ("sip:b@d", true), ("sip:c@d", false)]
        );
        assert_eq!(roster(1), [("sip:a@d", false)]);
        assert_eq!(
            (rooms[0].room.name.as_str(), rooms[1].room.name.as_str()),
            ("A", "ma-chan://d/b")
        );
    }

    #[test]
    fn time_stamps() {
        let t = system_time("1970-01-01T00:00:01.5Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap(),
            Duration::from_millis(1500)
        );
        assert!(system_time("yesterday").is_none());
    }
}
