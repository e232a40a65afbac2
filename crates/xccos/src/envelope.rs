//! The `xccos` envelope: one SIP INFO body holding one or more messages.

use crate::command::Command;
use crate::error::ParseError;
use crate::grpchat::GrpChat;
use crate::limits::Limits;
use crate::notice::Notice;
use crate::reply::Reply;
use crate::tree;
use crate::write::XmlWriter;

/// Namespace of the `xccos` root.
pub const NAMESPACE: &str = "urn:parlano:xml:ns:xccos";
/// The only protocol version.
pub const VERSION: &str = "1";

/// `<xccos ver="1" envid="N" xmlns="urn:parlano:xml:ns:xccos">…</xccos>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Chosen by the sender per envelope; replies echo it in `commandid`.
    pub envid: u64,
    /// In document order. Send sipe one kind per envelope: it reads `rpl`s, else `ntc`s,
    /// else `grpchat`.
    pub messages: Vec<Message>,
}

/// One child of `xccos`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Command(Command),
    Reply(Reply),
    Notice(Notice),
    GrpChat(GrpChat),
}

impl From<Command> for Message {
    fn from(m: Command) -> Self {
        Self::Command(m)
    }
}

impl From<Reply> for Message {
    fn from(m: Reply) -> Self {
        Self::Reply(m)
    }
}

impl From<Notice> for Message {
    fn from(m: Notice) -> Self {
        Self::Notice(m)
    }
}

impl From<GrpChat> for Message {
    fn from(m: GrpChat) -> Self {
        Self::GrpChat(m)
    }
}

impl Envelope {
    /// An envelope carrying one message.
    pub fn new(envid: u64, message: impl Into<Message>) -> Self {
        Self {
            envid,
            messages: vec![message.into()],
        }
    }

    /// Parses one body. Children of `xccos` other than `cmd`, `rpl`, `ntc` and `grpchat`
    /// are skipped; an envelope left with none is [`ParseError::EmptyEnvelope`].
    pub fn parse(body: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        let root = tree::parse(body, limits)?;
        if root.name != "xccos" {
            return Err(ParseError::NotXccos(root.name));
        }
        let version = root.required_attr("ver")?;
        if version != VERSION {
            return Err(ParseError::UnsupportedVersion(version.to_owned()));
        }
        let envid = root.required_parsed("envid")?;
        let mut messages = Vec::new();
        for child in &root.children {
            messages.push(match child.name.as_str() {
                "cmd" => Message::Command(Command::from_element(child)?),
                "rpl" => Message::Reply(Reply::from_element(child)?),
                "ntc" => Message::Notice(Notice::from_element(child)?),
                "grpchat" => Message::GrpChat(GrpChat::from_element(child)?),
                _ => continue,
            });
        }
        if messages.is_empty() {
            return Err(ParseError::EmptyEnvelope);
        }
        Ok(Self { envid, messages })
    }

    /// The body: compact, no XML declaration, root attributes in the order sipe writes them.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::default();
        w.start("xccos")
            .attr("ver", VERSION)
            .attr_display("envid", self.envid)
            .attr("xmlns", NAMESPACE)
            .children(|w| {
                for message in &self.messages {
                    match message {
                        Message::Command(m) => m.write(w),
                        Message::Reply(m) => m.write(w),
                        Message::Notice(m) => m.write(w),
                        Message::GrpChat(m) => m.write(w),
                    }
                }
            });
        w.finish()
    }
}
