//! The `.ATTACH` manifest written beside an output file that has FILEUPLOAD events: what
//! became of each file (docs/protocol.md, "Compliance export"). Its shape is the
//! `Attachments` element of `schema/conversations.xsd`.

use std::io::{self, Write};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};

use crate::attach::Attachment;
use crate::escape::attr;

/// One FILEUPLOAD of the output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The outbox row of the FILEUPLOAD.
    pub event_id: i64,
    /// The room's `ma-chan:` URI (the `Channel@uri` of its conversation).
    pub channel: String,
    /// The repository name (the `Message@content` of the FILEUPLOAD).
    pub content: String,
    /// The name the uploader gave the file; empty when its record is gone.
    pub original_name: String,
    pub attachment: Attachment,
}

/// Writes the manifest of the output file named `output`.
pub fn write_manifest<W: Write>(out: W, output: &str, entries: &[Entry]) -> io::Result<W> {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    let mut root = BytesStart::new("Attachments");
    root.push_attribute(attr("output", output));
    w.write_event(Event::Start(root))?;
    for entry in entries {
        let mut e = BytesStart::new("Attachment");
        let event = entry.event_id.to_string();
        e.push_attribute(attr("event", &event));
        e.push_attribute(attr("channel", &entry.channel));
        e.push_attribute(attr("content", &entry.content));
        e.push_attribute(attr("originalName", &entry.original_name));
        match &entry.attachment {
            Attachment::Copied { path, size, sha256 } => {
                let size = size.to_string();
                e.push_attribute(attr("status", "copied"));
                e.push_attribute(attr("path", path));
                e.push_attribute(attr("size", &size));
                e.push_attribute(attr("sha256", sha256));
            }
            Attachment::Missing { reason } => {
                e.push_attribute(attr("status", "missing"));
                e.push_attribute(attr("reason", reason));
            }
        }
        w.write_event(Event::Empty(e))?;
    }
    w.write_event(Event::End(BytesEnd::new("Attachments")))?;
    let mut out = w.into_inner();
    out.write_all(b"\n")?;
    Ok(out)
}
