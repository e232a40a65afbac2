//! The JSON Lines adapter: one JSON object per event and line, with the XmlAdapter's fields
//! under the same names, for feeding a SIEM or a search engine. JSON carries every
//! character, control characters included, exactly.

use std::io::{self, Write};

use serde::Serialize;

use crate::Details;
use crate::model::{Conversation, Message};
use crate::time::Instant;

#[derive(Serialize)]
struct Line<'a> {
    /// The outbox row: unique per event, in the order events happened.
    event: i64,
    #[serde(rename = "type")]
    kind: &'a str,
    content: &'a str,
    id: i64,
    #[serde(rename = "Channel")]
    channel: ChannelFields<'a>,
    #[serde(rename = "Sender")]
    sender: SenderFields<'a>,
    #[serde(rename = "DateTimeUTC")]
    at: InstantFields<'a>,
}

#[derive(Serialize)]
struct ChannelFields<'a> {
    uri: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct SenderFields<'a> {
    #[serde(rename = "UserName", skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    internal: Option<bool>,
    uri: &'a str,
}

#[derive(Serialize)]
struct InstantFields<'a> {
    since1970: i64,
    string: &'a str,
    long: i64,
}

impl<'a> From<&'a Instant> for InstantFields<'a> {
    fn from(at: &'a Instant) -> Self {
        InstantFields {
            since1970: at.since1970,
            string: at.string(),
            long: at.ticks,
        }
    }
}

/// Writes one line per message of `conversations`, room after room.
pub fn write_lines<W: Write>(
    mut out: W,
    conversations: &[Conversation],
    details: Details,
) -> io::Result<W> {
    for c in conversations {
        for m in &c.messages {
            serde_json::to_writer(&mut out, &line(c, m, details))?;
            out.write_all(b"\n")?;
        }
    }
    Ok(out)
}

fn line<'a>(c: &'a Conversation, m: &'a Message, details: Details) -> Line<'a> {
    let users = details.users;
    Line {
        event: m.event_id,
        kind: m.kind.as_str(),
        content: &m.content,
        id: m.id,
        channel: ChannelFields {
            uri: &c.channel.uri,
            name: c.channel.shown_name(details),
        },
        sender: SenderFields {
            user_name: users.then_some(m.sender.name.as_str()),
            id: m.sender.id,
            email: users.then_some(m.sender.uri.as_str()),
            internal: users.then_some(true),
            uri: &m.sender.uri,
        },
        at: (&m.at).into(),
    }
}
