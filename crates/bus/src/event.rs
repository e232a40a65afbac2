//! What travels between the nodes of a pool, and its encoding. Every event names the node it
//! comes from (`origin`), so that a node can tell whose presences it describes and drop the
//! lot when that node dies.
//!
//! The encoding is JSON with one- and two-letter keys: a post's event is its text plus a few
//! dozen bytes, and JSON is already how the workspace serialises everything else. A post
//! carries all a node needs to build the `grpchat` its sessions get, so relaying one costs
//! no store read; only a gap does (the node re-reads what it missed).

use serde::{Deserialize, Serialize};

/// One event between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum Event {
    /// Something that happened in one room, in that room's order.
    #[serde(rename = "r")]
    Room(RoomEvent),
    /// A node (re)connected and asks every other node for its presences ([`Event::Roster`]).
    #[serde(rename = "q")]
    RosterRequest {
        #[serde(rename = "o")]
        origin: String,
    },
    /// Part of a node's presences, all rooms; the parts of one answer travel in order.
    #[serde(rename = "s")]
    Roster(RosterPart),
}

/// Something that happened in a room on the node `origin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEvent {
    #[serde(rename = "r")]
    pub room: i64,
    #[serde(rename = "o")]
    pub origin: String,
    #[serde(rename = "k")]
    pub kind: RoomEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum RoomEventKind {
    /// A message committed, with its per-room sequence number.
    #[serde(rename = "p")]
    Posted(Posted),
    /// A principal became present on `origin` (its first session there joined). A second
    /// session of the same principal on the same node sends nothing.
    #[serde(rename = "j")]
    Joined(Presence),
    /// A principal's last session on `origin` left.
    #[serde(rename = "l")]
    Parted {
        #[serde(rename = "p")]
        principal: i64,
    },
    /// The room's settings changed through the room-management application on `origin`:
    /// its sessions are to get the room's properties again. (Who may still be in it every
    /// node learns from the store's access change feed, as for the admin commands.)
    #[serde(rename = "c")]
    Changed,
}

/// A committed message, as its room's sessions receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    #[serde(rename = "s")]
    pub seq: i64,
    /// The author's `seqid` of the `grpchat` that carried it.
    #[serde(rename = "i")]
    pub seqid: u64,
    #[serde(rename = "a")]
    pub author: String,
    /// Unix nanoseconds, the posting node's time.
    #[serde(rename = "at")]
    pub posted_at: i64,
    #[serde(rename = "x")]
    pub text: String,
    #[serde(rename = "al", default, skip_serializing_if = "is_false")]
    pub alert: bool,
    #[serde(rename = "rt", default, skip_serializing_if = "Option::is_none")]
    pub rtf: Option<String>,
}

/// A principal present in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    #[serde(rename = "p")]
    pub principal: i64,
    #[serde(rename = "u")]
    pub uri: String,
    #[serde(rename = "m", default, skip_serializing_if = "is_false")]
    pub manager: bool,
}

/// A slice of one node's answer to a [`Event::RosterRequest`]: `first` starts the answer,
/// `last` ends it; the receiver replaces everything it knew of `origin`'s presences with
/// the rooms of the whole answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterPart {
    #[serde(rename = "o")]
    pub origin: String,
    #[serde(rename = "f", default, skip_serializing_if = "is_false")]
    pub first: bool,
    #[serde(rename = "z", default, skip_serializing_if = "is_false")]
    pub last: bool,
    #[serde(rename = "r")]
    pub rooms: Vec<(i64, Vec<Presence>)>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, thiserror::Error)]
#[error("not a pool event: {0}")]
pub struct DecodeError(#[from] serde_json::Error);

impl Event {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("events serialise")
    }

    pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The node the event comes from.
    pub fn origin(&self) -> &str {
        match self {
            Event::Room(e) => &e.origin,
            Event::RosterRequest { origin } => origin,
            Event::Roster(part) => &part.origin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = "5f0c6a8e-9a43-4b1e-8d7c-2f3e4a5b6c7d";

    fn posted() -> Event {
        Event::Room(RoomEvent {
            room: 7,
            origin: NODE.into(),
            kind: RoomEventKind::Posted(Posted {
                seq: 42,
                seqid: 3,
                author: "sip:alice@example.test".into(),
                posted_at: 1_700_000_000_000_000_000,
                text: "hello \"pool\" <&>".into(),
                alert: false,
                rtf: None,
            }),
        })
    }

    #[test]
    fn every_kind_round_trips() {
        let events = [
            posted(),
            Event::Room(RoomEvent {
                room: 7,
                origin: NODE.into(),
                kind: RoomEventKind::Posted(Posted {
                    seq: 1,
                    seqid: 1,
                    author: "sip:bob@example.test".into(),
                    posted_at: 1,
                    text: "ma-filelink://example.test/g/f.txt".into(),
                    alert: true,
                    rtf: Some("{\\rtf1 x}".into()),
                }),
            }),
            Event::Room(RoomEvent {
                room: 7,
                origin: NODE.into(),
                kind: RoomEventKind::Joined(Presence {
                    principal: 9,
                    uri: "sip:carol@example.test".into(),
                    manager: true,
                }),
            }),
            Event::Room(RoomEvent {
                room: 7,
                origin: NODE.into(),
                kind: RoomEventKind::Parted { principal: 9 },
            }),
            Event::Room(RoomEvent {
                room: 7,
                origin: NODE.into(),
                kind: RoomEventKind::Changed,
            }),
            Event::RosterRequest {
                origin: NODE.into(),
            },
            Event::Roster(RosterPart {
                origin: NODE.into(),
                first: true,
                last: false,
                rooms: vec![(
                    7,
                    vec![Presence {
                        principal: 9,
                        uri: "sip:carol@example.test".into(),
                        manager: false,
                    }],
                )],
            }),
        ];
        for event in events {
            assert_eq!(Event::decode(&event.encode()).unwrap(), event);
            assert_eq!(event.origin(), NODE);
        }
    }

    #[test]
    fn a_post_costs_its_text_author_and_node_and_a_little_more() {
        let bytes = posted().encode();
        let text = "hello \\\"pool\\\" <&>".len();
        let names = "sip:alice@example.test".len() + NODE.len();
        assert!(
            bytes.len() < text + names + 100,
            "{} bytes: {}",
            bytes.len(),
            String::from_utf8_lossy(&bytes)
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], b"{}", b"{\"t\":\"r\"}", b"\xff\xfe", b"[1,2]"] {
            assert!(Event::decode(bytes).is_err());
        }
    }
}
