//! What the archive says, independent of how an adapter writes it: outbox rows become
//! messages, grouped into one conversation per room for each batch (the interval).

use std::collections::HashMap;
use std::sync::Arc;

use parlance_store::SharedText;
use parlance_store::history::CompliancePage;

use crate::Details;
use crate::time::Instant;

/// A message type: the original's `ComplianceMessageType` for the six outbox kinds it
/// knows. A kind added to the outbox later is written upper-cased rather than dropped, so
/// that no event is lost; the XSD then needs it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageType {
    Join,
    Part,
    Chat,
    Backchat,
    FileUpload,
    FileDownload,
    Other(String),
}

impl MessageType {
    pub fn from_kind(kind: &str) -> MessageType {
        match kind {
            "join" => MessageType::Join,
            "part" => MessageType::Part,
            "chat" => MessageType::Chat,
            "backchat" => MessageType::Backchat,
            "fileupload" => MessageType::FileUpload,
            "filedownload" => MessageType::FileDownload,
            other => MessageType::Other(other.to_ascii_uppercase()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            MessageType::Join => "JOIN",
            MessageType::Part => "PART",
            MessageType::Chat => "CHAT",
            MessageType::Backchat => "BACKCHAT",
            MessageType::FileUpload => "FILEUPLOAD",
            MessageType::FileDownload => "FILEDOWNLOAD",
            MessageType::Other(name) => name,
        }
    }
}

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The principal id (`Sender@id`).
    pub id: i64,
    /// The SIP address without `sip:` (`Sender@uri`), as the original writes it.
    pub uri: String,
    /// The display name (`Sender@UserName`, with user details).
    pub name: String,
}

/// One archived event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The outbox row: unique, and the order events happened in.
    pub event_id: i64,
    pub kind: MessageType,
    /// Chat text, history query, or the file's repository name.
    pub content: SharedText,
    /// The room's message sequence number for CHAT; 0 otherwise (`Message@id`).
    pub id: i64,
    /// Shared by every message of the principal in the batch.
    pub sender: Arc<Sender>,
    pub at: Instant,
}

/// The room a conversation happened in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub room_id: i64,
    /// The room's GUID: where its files are in the file store.
    pub guid: String,
    /// `ma-chan://<domain>/<GUID>`.
    pub uri: String,
    pub name: String,
}

impl Channel {
    /// The room's name, or without room details its URI, as the original writes it then.
    pub fn shown_name(&self, details: Details) -> &str {
        if details.rooms { &self.name } else { &self.uri }
    }
}

/// One room's events of one batch, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub channel: Channel,
    pub messages: Vec<Message>,
}

impl Conversation {
    /// The earliest and latest message's instants (`StartTimeUTC`, `EndTimeUTC`): the
    /// first and last message's, unless the server's clock was stepped back between them.
    pub fn span(&self) -> Option<(&Instant, &Instant)> {
        let times = || self.messages.iter().map(|m| &m.at);
        Some((
            times().min_by_key(|at| at.ticks)?,
            times().max_by_key(|at| at.ticks)?,
        ))
    }
}

/// Groups a batch's events (in outbox order) into one conversation per room, rooms in the
/// order of their first event. A batch names a few principals many times over: each
/// [`Sender`] is made once.
pub fn conversations(batch: CompliancePage, domain: &str) -> Vec<Conversation> {
    let CompliancePage {
        events,
        principals,
        mut rooms,
    } = batch;
    let mut out: Vec<Conversation> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    let mut senders: HashMap<i64, Arc<Sender>> = HashMap::new();
    for e in events {
        let at = index.entry(e.room_id).or_insert_with(|| {
            let room = rooms.remove(&e.room_id);
            let (guid, name) = room.map(|r| (r.guid, r.name)).unwrap_or_default();
            out.push(Conversation {
                channel: Channel {
                    room_id: e.room_id,
                    uri: format!("ma-chan://{domain}/{guid}"),
                    guid,
                    name,
                },
                messages: Vec::new(),
            });
            out.len() - 1
        });
        let kind = MessageType::from_kind(&e.kind);
        out[*at].messages.push(Message {
            event_id: e.id,
            id: match kind {
                MessageType::Chat => e.message_seq.unwrap_or(0),
                _ => 0,
            },
            kind,
            content: e.content,
            sender: senders
                .entry(e.principal_id)
                .or_insert_with(|| {
                    let principal = principals.get(&e.principal_id);
                    let uri = principal.map_or("", |p| p.uri.as_str());
                    Arc::new(Sender {
                        id: e.principal_id,
                        uri: uri.strip_prefix("sip:").unwrap_or(uri).to_owned(),
                        name: principal
                            .map(|p| p.display_name.clone())
                            .unwrap_or_default(),
                    })
                })
                .clone(),
            at: Instant::from_unix_nanos(e.at),
        });
    }
    out
}
