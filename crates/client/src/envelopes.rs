//! The XCCOS bodies the client sends: one command or one chat line per envelope, each
//! envelope with its own id so that the reply (which echoes it in `commandid`) finds it.

use rand::Rng;
use xccos::{ChatMessage, Command, CommandKind, Envelope, GrpChat, format_timestamp};

#[derive(Debug)]
pub(crate) struct Envelopes {
    next: u64,
}

impl Envelopes {
    /// Ids start at a random 32-bit value and count up, as sipe's do (docs/protocol.md, "The client").
    pub fn new() -> Envelopes {
        Envelopes {
            next: u64::from(rand::rng().random::<u32>()),
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// A command body and its envelope id.
    pub fn command(&mut self, kind: CommandKind) -> (u64, String) {
        let envid = self.next_id();
        (
            envid,
            Envelope::new(envid, Command { seqid: 1, kind }).to_xml(),
        )
    }

    /// A chat line for `room` by `author`, stamped now (the server requires a `ts`, and
    /// replaces it with its own clock).
    pub fn chat(&mut self, room: &str, author: &str, text: &str) -> String {
        let message = ChatMessage {
            channel_uri: room.to_owned(),
            author: author.to_owned(),
            ts: Some(format_timestamp(now_nanos())),
            message_id: None,
            text: text.to_owned(),
            alert: false,
            rtf: None,
        };
        Envelope::new(self.next_id(), GrpChat { seqid: 1, message }).to_xml()
    }
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use xccos::{Limits, Message};

    #[test]
    fn bodies_parse_back() {
        let mut e = Envelopes::new();
        let (envid, body) = e.command(CommandKind::ReqUri);
        let parsed = Envelope::parse(body.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(parsed.envid, envid);
        assert!(
            matches!(&parsed.messages[..], [Message::Command(c)] if c.kind == CommandKind::ReqUri)
        );
        let chat = Envelope::parse(
            e.chat("ma-chan://d/r", "sip:a@d", "1 < 2 & ok").as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(chat.envid, envid + 1);
        let [Message::GrpChat(g)] = &chat.messages[..] else {
            panic!("{chat:?}")
        };
        assert_eq!(
            (g.message.text.as_str(), g.message.channel_uri.as_str()),
            ("1 < 2 & ok", "ma-chan://d/r")
        );
        assert!(
            g.message
                .ts
                .as_deref()
                .is_some_and(|ts| xccos::parse_timestamp(ts).is_ok())
        );
    }
}
