//! The XmlAdapter: the original's `Conversations` document (xccos.md §6), one
//! `Conversation` per room of the batch. `schema/conversations.xsd` describes it.
//!
//! An export writes a few hundred bytes of XML for every event, so the document is written
//! by hand into one reusable buffer rather than through a general XML writer: the fixed
//! markup is copied as constant fragments, only attribute values are escaped
//! ([`escape_into`]), and each principal's `Sender` element — the same for all of its
//! messages — is rendered once per file and copied after that. The layout (two-space
//! indentation, one element per line, the attribute order) is exactly what quick-xml's
//! indenting writer made of the same document; a test holds the two side by side.

use std::collections::HashMap;
use std::io::{self, Write};
use std::ops::Range;

use crate::Details;
use crate::durable::WRITE_BUFFER;
use crate::escape::escape_into;
use crate::model::{Conversation, Message, Sender};
use crate::time::Instant;

/// The buffer is handed to the output once it holds this much: as much as the output's own
/// buffer holds, so that it writes the piece straight through instead of copying it.
const FLUSH_AT: usize = WRITE_BUFFER;

const HEADER: &[u8] = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
<Conversations xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n";
const FOOTER: &[u8] = b"</Conversations>\n";

/// Writes the document for `conversations` to `out`.
pub fn write_conversations<W: Write>(
    mut out: W,
    conversations: &[Conversation],
    details: Details,
) -> io::Result<W> {
    let mut doc = Document {
        buf: Vec::with_capacity(FLUSH_AT + FLUSH_AT / 4),
        details,
        senders: HashMap::new(),
        fragments: Vec::new(),
    };
    doc.buf.extend_from_slice(HEADER);
    for conversation in conversations {
        doc.conversation(&mut out, conversation)?;
    }
    doc.buf.extend_from_slice(FOOTER);
    out.write_all(&doc.buf)?;
    Ok(out)
}

/// One output file's document under way.
struct Document {
    /// What is written but not yet handed to the output.
    buf: Vec<u8>,
    details: Details,
    /// Where each principal's rendered `Sender` line is in `fragments`, by principal id: a
    /// batch's records name each principal with the same address and name (one join of
    /// the store's read), and the model makes one `Sender` of them.
    senders: HashMap<i64, Range<usize>>,
    fragments: Vec<u8>,
}

impl Document {
    fn conversation<W: Write>(&mut self, out: &mut W, c: &Conversation) -> io::Result<()> {
        let Some((start, end)) = c.span() else {
            return Ok(());
        };
        let (start, end) = (*start, *end);
        self.buf
            .extend_from_slice(b"  <Conversation>\n    <Channel uri=\"");
        escape_into(&mut self.buf, &c.channel.uri);
        self.buf.extend_from_slice(b"\" name=\"");
        escape_into(&mut self.buf, c.channel.shown_name(self.details));
        self.buf.extend_from_slice(b"\"/>\n");
        // The original repeats the first message before the list.
        self.message(b"FirstMessage", 4, &c.messages[0]);
        self.buf.extend_from_slice(b"    <Messages>\n");
        for m in &c.messages {
            self.message(b"Message", 6, m);
            if self.buf.len() >= FLUSH_AT {
                out.write_all(&self.buf)?;
                self.buf.clear();
            }
        }
        self.buf.extend_from_slice(b"    </Messages>\n");
        self.instant(b"StartTimeUTC", 4, &start);
        self.instant(b"EndTimeUTC", 4, &end);
        self.buf.extend_from_slice(b"  </Conversation>\n");
        Ok(())
    }

    fn message(&mut self, element: &[u8], indent: usize, m: &Message) {
        self.indent(indent);
        self.buf.push(b'<');
        self.buf.extend_from_slice(element);
        self.buf.extend_from_slice(b" type=\"");
        escape_into(&mut self.buf, m.kind.as_str());
        self.buf.extend_from_slice(b"\" content=\"");
        escape_into(&mut self.buf, &m.content);
        self.buf.extend_from_slice(b"\" id=\"");
        push_decimal(&mut self.buf, m.id);
        self.buf.extend_from_slice(b"\">\n");
        self.indent(indent + 2);
        self.sender(&m.sender);
        self.instant(b"DateTimeUTC", indent + 2, &m.at);
        self.indent(indent);
        self.buf.extend_from_slice(b"</");
        self.buf.extend_from_slice(element);
        self.buf.extend_from_slice(b">\n");
    }

    /// The principal's `Sender` line, rendered on its first message of the file.
    fn sender(&mut self, s: &Sender) {
        let range = match self.senders.get(&s.id) {
            Some(range) => range.clone(),
            None => {
                let from = self.fragments.len();
                render_sender(&mut self.fragments, s, self.details);
                let range = from..self.fragments.len();
                self.senders.insert(s.id, range.clone());
                range
            }
        };
        self.buf.extend_from_slice(&self.fragments[range]);
    }

    fn instant(&mut self, element: &[u8], indent: usize, at: &Instant) {
        self.indent(indent);
        self.buf.push(b'<');
        self.buf.extend_from_slice(element);
        self.buf.extend_from_slice(b" since1970=\"");
        push_decimal(&mut self.buf, at.since1970);
        self.buf.extend_from_slice(b"\" string=\"");
        self.buf.extend_from_slice(at.string().as_bytes());
        self.buf.extend_from_slice(b"\" long=\"");
        push_decimal(&mut self.buf, at.ticks);
        self.buf.extend_from_slice(b"\"/>\n");
    }

    fn indent(&mut self, width: usize) {
        const SPACES: [u8; 8] = [b' '; 8];
        self.buf.extend_from_slice(&SPACES[..width]);
    }
}

fn render_sender(out: &mut Vec<u8>, s: &Sender, details: Details) {
    out.extend_from_slice(b"<Sender ");
    if details.users {
        out.extend_from_slice(b"UserName=\"");
        escape_into(out, &s.name);
        out.extend_from_slice(b"\" ");
    }
    out.extend_from_slice(b"id=\"");
    push_decimal(out, s.id);
    if details.users {
        // Parlance keeps no e-mail addresses; a SIP address is the user's e-mail address in
        // the deployments the original served, as its samples show.
        out.extend_from_slice(b"\" email=\"");
        escape_into(out, &s.uri);
        // No federation: every principal is this server's own.
        out.extend_from_slice(b"\" internal=\"true");
    }
    out.extend_from_slice(b"\" uri=\"");
    escape_into(out, &s.uri);
    out.extend_from_slice(b"\"/>\n");
}

/// Appends `value` in decimal.
fn push_decimal(out: &mut Vec<u8>, value: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;
    use quick_xml::Writer;
    use quick_xml::events::attributes::Attribute;
    use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};
    use quick_xml::name::QName;

    use super::*;
    use crate::escape::attr;
    use crate::model::{Channel, MessageType};

    /// The document as quick-xml's indenting writer makes it, event by event: what this
    /// adapter wrote before it wrote by hand, and what it must go on writing byte for byte.
    fn through_quick_xml(conversations: &[Conversation], details: Details) -> Vec<u8> {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
            .unwrap();
        let mut root = BytesStart::new("Conversations");
        root.push_attribute(attr(
            "xmlns:xsi",
            "http://www.w3.org/2001/XMLSchema-instance",
        ));
        root.push_attribute(attr("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"));
        w.write_event(Event::Start(root)).unwrap();
        for c in conversations {
            let Some((start, end)) = c.span() else {
                continue;
            };
            w.write_event(Event::Start(BytesStart::new("Conversation")))
                .unwrap();
            let mut channel = BytesStart::new("Channel");
            channel.push_attribute(attr("uri", &c.channel.uri));
            channel.push_attribute(attr("name", c.channel.shown_name(details)));
            w.write_event(Event::Empty(channel)).unwrap();
            quick_xml_message(&mut w, "FirstMessage", &c.messages[0], details);
            w.write_event(Event::Start(BytesStart::new("Messages")))
                .unwrap();
            for m in &c.messages {
                quick_xml_message(&mut w, "Message", m, details);
            }
            w.write_event(Event::End(BytesEnd::new("Messages")))
                .unwrap();
            w.write_event(Event::Empty(instant("StartTimeUTC", start)))
                .unwrap();
            w.write_event(Event::Empty(instant("EndTimeUTC", end)))
                .unwrap();
            w.write_event(Event::End(BytesEnd::new("Conversation")))
                .unwrap();
        }
        w.write_event(Event::End(BytesEnd::new("Conversations")))
            .unwrap();
        let mut out = w.into_inner();
        out.push(b'\n');
        out
    }

    fn quick_xml_message(w: &mut Writer<Vec<u8>>, element: &str, m: &Message, details: Details) {
        let mut e = BytesStart::new(element);
        e.push_attribute(attr("type", m.kind.as_str()));
        e.push_attribute(attr("content", &m.content));
        e.push_attribute(number("id", m.id));
        w.write_event(Event::Start(e)).unwrap();
        let mut sender = BytesStart::new("Sender");
        if details.users {
            sender.push_attribute(attr("UserName", &m.sender.name));
        }
        sender.push_attribute(number("id", m.sender.id));
        if details.users {
            sender.push_attribute(attr("email", &m.sender.uri));
            sender.push_attribute(attr("internal", "true"));
        }
        sender.push_attribute(attr("uri", &m.sender.uri));
        w.write_event(Event::Empty(sender)).unwrap();
        w.write_event(Event::Empty(instant("DateTimeUTC", &m.at)))
            .unwrap();
        w.write_event(Event::End(BytesEnd::new(element))).unwrap();
    }

    fn number(key: &str, value: i64) -> Attribute<'_> {
        Attribute {
            key: QName(key),
            value: value.to_string().into(),
        }
    }

    fn instant(element: &str, at: &Instant) -> BytesStart<'static> {
        let mut e = BytesStart::new(element.to_owned());
        e.push_attribute(number("since1970", at.since1970));
        e.push_attribute(attr("string", at.string()));
        e.push_attribute(number("long", at.ticks));
        e
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                any::<char>(),
                prop::sample::select(vec!['&', '<', '"', '\'', '\n', '\u{7}', '\u{FFFE}']),
                Just('x'),
            ],
            0..24,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    fn message(senders: Vec<Arc<Sender>>) -> impl Strategy<Value = Message> {
        (
            0..7usize,
            text(),
            any::<i64>(),
            any::<i64>(),
            any::<prop::sample::Index>(),
        )
            .prop_map(move |(kind, content, id, at, sender)| Message {
                event_id: id.wrapping_abs(),
                kind: match kind {
                    0 => MessageType::Join,
                    1 => MessageType::Part,
                    2 => MessageType::Chat,
                    3 => MessageType::Backchat,
                    4 => MessageType::FileUpload,
                    5 => MessageType::FileDownload,
                    _ => MessageType::Other(content.to_uppercase()),
                },
                content: content.into(),
                id,
                sender: sender.get(&senders).clone(),
                at: Instant::from_unix_nanos(at),
            })
    }

    fn conversations() -> impl Strategy<Value = Vec<Conversation>> {
        let senders = prop::collection::vec(
            (any::<i64>(), text(), text())
                .prop_map(|(id, uri, name)| Arc::new(Sender { id, uri, name })),
            1..4,
        );
        senders.prop_flat_map(|senders| {
            prop::collection::vec(
                (
                    any::<i64>(),
                    text(),
                    text(),
                    prop::collection::vec(message(senders.clone()), 0..6),
                )
                    .prop_map(|(room_id, uri, name, messages)| Conversation {
                        channel: Channel {
                            room_id,
                            guid: String::new(),
                            uri,
                            name,
                        },
                        messages,
                    }),
                0..4,
            )
        })
    }

    proptest! {
        #[test]
        fn the_same_bytes_as_quick_xmls_indenting_writer(
            conversations in conversations(),
            rooms in any::<bool>(),
            users in any::<bool>(),
        ) {
            let details = Details { rooms, users };
            let written = write_conversations(Vec::new(), &conversations, details).unwrap();
            prop_assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(through_quick_xml(&conversations, details)).unwrap()
            );
        }
    }

    #[test]
    fn decimals_at_the_ends_of_the_range() {
        for value in [0, 7, -7, 10, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
    }
}
