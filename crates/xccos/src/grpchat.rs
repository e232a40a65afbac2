//! Chat messages: `grpchat` (posted by a client, delivered by the server as a direct child
//! of `xccos`) and its history form `msg id="grpchat"` inside a `rpl:bccontext` `chanib`.

use crate::error::ParseError;
use crate::shapes::{ALERT_ATTR, MESSAGE_ID_ATTR, RTF_CHILD};
use crate::tree::Element;
use crate::write::XmlWriter;

/// One chat line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `chanUri`: the room.
    pub channel_uri: String,
    /// `author`: the poster's SIP URI.
    pub author: String,
    /// `ts`, kept verbatim: clients send whole seconds, the server writes seven fractional
    /// digits ([`crate::format_timestamp`]); [`crate::parse_timestamp`] reads both.
    pub ts: Option<String>,
    /// The per-room sequence number, written by the server (see [`MESSAGE_ID_ATTR`]).
    pub message_id: Option<u64>,
    /// The `chat` child's text.
    pub text: String,
    /// A high-importance message (attribute [`ALERT_ATTR`], written only when set).
    pub alert: bool,
    /// The RTF copy of the text (child [`RTF_CHILD`], after `chat`), kept and written
    /// back exactly as the client sent it; absent when it sent none.
    pub rtf: Option<String>,
}

impl ChatMessage {
    /// The `id` of `grpchat` and of history `msg` entries.
    pub const ID: &'static str = "grpchat";

    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        Ok(Self {
            channel_uri: e.required_string("chanUri")?,
            author: e.required_string("author")?,
            ts: e.string_attr("ts"),
            message_id: e.parsed_attr(MESSAGE_ID_ATTR)?,
            text: e.required_child("chat")?.text().to_owned(),
            alert: e.bool_attr(ALERT_ATTR)?.unwrap_or(false),
            rtf: e.child(RTF_CHILD).map(|r| r.text().to_owned()),
        })
    }

    /// Bytes of the history form as written, escaping included: what this message adds to
    /// a `rpl:bccontext` body. Replies are cut by it to fit a body limit.
    pub fn history_len(&self) -> usize {
        let mut w = XmlWriter::default();
        self.write_msg(&mut w);
        w.finish().len()
    }

    /// The history form, `<msg id="grpchat" …><chat>…</chat>[<rtf>…</rtf>]</msg>`.
    pub(crate) fn write_msg(&self, w: &mut XmlWriter) {
        self.write_as(w, "msg", None);
    }

    fn write_as(&self, w: &mut XmlWriter, element: &'static str, seqid: Option<u64>) {
        w.start(element)
            .attr("id", Self::ID)
            .attr_display_opt("seqid", seqid)
            .attr("chanUri", &self.channel_uri)
            .attr("author", &self.author)
            .attr_opt("ts", self.ts.as_deref())
            .attr_display_opt(MESSAGE_ID_ATTR, self.message_id)
            .attr_opt(ALERT_ATTR, self.alert.then_some("true"))
            .children(|w| {
                w.start("chat").text(&self.text);
                if let Some(rtf) = &self.rtf {
                    w.start(RTF_CHILD).text(rtf);
                }
            });
    }
}

/// `grpchat`: a chat line travelling on its own, with the sender's `seqid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpChat {
    pub seqid: u64,
    pub message: ChatMessage,
}

impl GrpChat {
    pub(crate) fn from_element(e: &Element) -> Result<Self, ParseError> {
        Ok(Self {
            seqid: e.required_parsed("seqid")?,
            message: ChatMessage::from_element(e)?,
        })
    }

    pub(crate) fn write(&self, w: &mut XmlWriter) {
        self.message.write_as(w, "grpchat", Some(self.seqid));
    }
}
