//! The XmlAdapter: the original's `Conversations` document (xccos.md §6), one
//! `Conversation` per room of the batch, written event by event with quick-xml's writer.
//! `schema/conversations.xsd` describes it.

use std::borrow::Cow;
use std::io::{self, Write};

use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};
use quick_xml::name::QName;

use crate::Details;
use crate::escape::attribute_value;
use crate::model::{Channel, Conversation, Message, Sender};
use crate::time::Instant;

/// Writes the document for `conversations` to `out`.
pub fn write_conversations<W: Write>(
    out: W,
    conversations: &[Conversation],
    details: Details,
) -> io::Result<W> {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    let mut root = BytesStart::new("Conversations");
    root.push_attribute(attr(
        "xmlns:xsi",
        "http://www.w3.org/2001/XMLSchema-instance",
    ));
    root.push_attribute(attr("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"));
    w.write_event(Event::Start(root))?;
    for conversation in conversations {
        let Some((start, end)) = conversation.span() else {
            continue;
        };
        w.write_event(Event::Start(BytesStart::new("Conversation")))?;
        w.write_event(Event::Empty(channel(&conversation.channel, details)))?;
        // The original repeats the first message before the list.
        message(&mut w, "FirstMessage", &conversation.messages[0], details)?;
        w.write_event(Event::Start(BytesStart::new("Messages")))?;
        for m in &conversation.messages {
            message(&mut w, "Message", m, details)?;
        }
        w.write_event(Event::End(BytesEnd::new("Messages")))?;
        w.write_event(Event::Empty(instant("StartTimeUTC", start)))?;
        w.write_event(Event::Empty(instant("EndTimeUTC", end)))?;
        w.write_event(Event::End(BytesEnd::new("Conversation")))?;
    }
    w.write_event(Event::End(BytesEnd::new("Conversations")))?;
    let mut out = w.into_inner();
    out.write_all(b"\n")?;
    Ok(out)
}

/// An attribute whose value is escaped as [`attribute_value`] says (quick-xml's own
/// escaping leaves line breaks to be normalised away and control characters through).
pub(crate) fn attr<'a>(key: &'a str, value: &'a str) -> Attribute<'a> {
    Attribute {
        key: QName(key),
        value: attribute_value(value),
    }
}

fn number<'a>(key: &'a str, value: i64) -> Attribute<'a> {
    Attribute {
        key: QName(key),
        value: Cow::Owned(value.to_string()),
    }
}

fn channel(c: &Channel, details: Details) -> BytesStart<'static> {
    let mut e = BytesStart::new("Channel");
    e.push_attribute(attr("uri", &c.uri));
    e.push_attribute(attr("name", c.shown_name(details)));
    e
}

fn message<W: Write>(
    w: &mut Writer<W>,
    element: &str,
    m: &Message,
    details: Details,
) -> io::Result<()> {
    let mut e = BytesStart::new(element);
    e.push_attribute(attr("type", m.kind.as_str()));
    e.push_attribute(attr("content", &m.content));
    e.push_attribute(number("id", m.id));
    w.write_event(Event::Start(e))?;
    w.write_event(Event::Empty(sender(&m.sender, details)))?;
    w.write_event(Event::Empty(instant("DateTimeUTC", &m.at)))?;
    w.write_event(Event::End(BytesEnd::new(element)))
}

fn sender(s: &Sender, details: Details) -> BytesStart<'static> {
    let mut e = BytesStart::new("Sender");
    if details.users {
        e.push_attribute(attr("UserName", &s.name));
    }
    e.push_attribute(number("id", s.id));
    if details.users {
        // Parlance keeps no e-mail addresses; a SIP address is the user's e-mail address in
        // the deployments the original served, as its samples show.
        e.push_attribute(attr("email", &s.uri));
        // No federation: every principal is this server's own.
        e.push_attribute(attr("internal", "true"));
    }
    e.push_attribute(attr("uri", &s.uri));
    e
}

fn instant(element: &str, at: &Instant) -> BytesStart<'static> {
    let mut e = BytesStart::new(element.to_owned());
    e.push_attribute(number("since1970", at.since1970));
    e.push_attribute(attr("string", &at.string));
    e.push_attribute(number("long", at.ticks));
    e
}
