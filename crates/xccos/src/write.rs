//! The serialiser's primitives: compact XML (no indentation, no declaration) with escaping
//! that survives a conforming parser unchanged.
//!
//! Characters XML 1.0 cannot carry at all (most C0 controls, U+FFFE, U+FFFF) are written
//! as U+FFFD: dropping a whole message because of one stray control byte from a database
//! row would be worse, and the parser refuses them, so parsed values never contain them.
//!
//! Character data is escaped by quick-xml. The rest stays ours, because these bytes are the
//! ones the wire tests pin and clients have been seen to accept: quick-xml's writer escapes
//! attribute values its own way (`'` as `&apos;`); with its escaping bypassed it would only
//! be writing `<`, `/>` and `</name>`; and it cannot turn an element whose children wrote
//! nothing into `<name/>` without taking back what it already wrote.

use std::borrow::Cow;
use std::fmt::{Display, Write as _};

use quick_xml::escape::partial_escape;

use crate::tree::is_xml_char;

/// Accumulates one XCCOS body.
#[derive(Debug, Default)]
pub(crate) struct XmlWriter {
    out: String,
}

impl XmlWriter {
    pub(crate) fn finish(self) -> String {
        self.out
    }

    /// Starts `<name`; the returned [`Tag`] adds attributes and closes it.
    pub(crate) fn start(&mut self, name: &'static str) -> Tag<'_> {
        self.out.push('<');
        self.out.push_str(name);
        Tag { w: self, name }
    }
}

/// An open start tag.
#[must_use = "a tag must be closed with empty, text or children"]
pub(crate) struct Tag<'w> {
    w: &'w mut XmlWriter,
    name: &'static str,
}

impl Tag<'_> {
    pub(crate) fn attr(self, name: &str, value: &str) -> Self {
        let out = &mut self.w.out;
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        escape_attr(out, value);
        out.push('"');
        self
    }

    pub(crate) fn attr_opt(self, name: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.attr(name, v),
            None => self,
        }
    }

    /// For numbers and booleans, whose `Display` never needs escaping.
    pub(crate) fn attr_display(self, name: &str, value: impl Display) -> Self {
        let out = &mut self.w.out;
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        let _ = write!(out, "{value}");
        out.push('"');
        self
    }

    pub(crate) fn attr_display_opt(self, name: &str, value: Option<impl Display>) -> Self {
        match value {
            Some(v) => self.attr_display(name, v),
            None => self,
        }
    }

    pub(crate) fn empty(self) {
        self.w.out.push_str("/>");
    }

    /// Closes the tag around escaped character data; empty text gives `<name .../>`.
    pub(crate) fn text(self, text: &str) {
        if text.is_empty() {
            return self.empty();
        }
        let out = &mut self.w.out;
        out.push('>');
        escape_text(out, text);
        close(out, self.name);
    }

    /// Closes the tag around whatever `body` writes; nothing written gives `<name .../>`.
    pub(crate) fn children(self, body: impl FnOnce(&mut XmlWriter)) {
        let mark = self.w.out.len();
        self.w.out.push('>');
        body(self.w);
        let out = &mut self.w.out;
        if out.len() == mark + 1 {
            out.truncate(mark);
            out.push_str("/>");
        } else {
            close(out, self.name);
        }
    }
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Attribute values: besides markup, whitespace other than space is written as a
/// character reference because attribute-value normalisation would turn it into spaces.
/// quick-xml's escaping for attributes is not public, and its public `escape` leaves tab and
/// line feed as they are.
fn escape_attr(out: &mut String, value: &str) {
    for c in xml_chars(value).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Character data: markup, and CR as a reference because end-of-line normalisation would
/// otherwise turn CR LF into LF.
fn escape_text(out: &mut String, text: &str) {
    out.push_str(&partial_escape(xml_chars(text)));
}

/// `s` with the characters XML cannot carry replaced by U+FFFD; borrowed when it has none.
fn xml_chars(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        s.chars()
            .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut XmlWriter)) -> String {
        let mut w = XmlWriter::default();
        f(&mut w);
        w.finish()
    }

    #[test]
    fn empty_children_collapse_to_a_self_closing_tag() {
        let xml = written(|w| w.start("data").children(|_| {}));
        assert_eq!(xml, "<data/>");
        let xml = written(|w| w.start("data").children(|w| w.start("x").empty()));
        assert_eq!(xml, "<data><x/></data>");
    }

    #[test]
    fn attributes_escape_markup_and_whitespace() {
        let xml = written(|w| w.start("a").attr("v", "<&>\"'\t\n\r é").empty());
        assert_eq!(xml, "<a v=\"&lt;&amp;&gt;&quot;'&#9;&#10;&#13; é\"/>");
    }

    #[test]
    fn text_escapes_markup_and_carriage_returns() {
        let xml = written(|w| w.start("chat").text("a<b>&\"c\"\r\n]]>"));
        assert_eq!(xml, "<chat>a&lt;b&gt;&amp;\"c\"&#13;\n]]&gt;</chat>");
    }

    #[test]
    fn characters_xml_cannot_carry_become_replacement_characters() {
        let xml = written(|w| w.start("chat").text("a\u{1}b\u{FFFF}"));
        assert_eq!(xml, "<chat>a\u{FFFD}b\u{FFFD}</chat>");
    }
}
