//! Attribute values as XML 1.0 can carry them.
//!
//! quick-xml escapes the five markup characters but leaves the rest to the caller, and two
//! more things matter for an archive. A parser turns a literal tab, line feed or carriage
//! return in an attribute into a space (attribute-value normalisation), so a multi-line chat
//! message would come back as one line: they are written as character references. And
//! XML 1.0 cannot carry the other C0 control characters, U+FFFE or U+FFFF at all, not even
//! as references: each becomes U+FFFD (the replacement character), so that the document
//! stays well-formed. The JSON Lines adapter keeps them exactly.

use std::borrow::Cow;

/// `value` escaped for a double-quoted attribute.
pub fn attribute_value(value: &str) -> Cow<'_, str> {
    if !value.chars().any(needs_escape) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push(char::REPLACEMENT_CHARACTER),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'' | '\t' | '\n' | '\r') || !is_xml_char(c)
}

/// XML 1.0's `Char` production (Rust's `char` has no surrogates to exclude).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use quick_xml::events::{BytesStart, Event};

    use super::*;

    /// `value` written as an attribute by quick-xml's writer, then read back as an XML 1.0
    /// parser reads it (attribute-value normalisation included).
    fn round_trip(value: &str) -> String {
        let mut e = BytesStart::new("a");
        e.push_attribute(crate::xml::attr("v", value));
        let mut w = quick_xml::Writer::new(Vec::new());
        w.write_event(Event::Empty(e)).unwrap();
        let xml = String::from_utf8(w.into_inner()).unwrap();
        let mut reader = quick_xml::Reader::from_str(&xml);
        match reader.read_event().unwrap() {
            Event::Empty(e) => e
                .try_get_attribute("v")
                .unwrap()
                .unwrap()
                .normalized_value(quick_xml::XmlVersion::Explicit1_0)
                .unwrap()
                .into_owned(),
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        /// Any text comes back exactly, but for the characters XML 1.0 cannot carry.
        #[test]
        fn every_string_survives_but_what_xml_cannot_carry(
            chars in prop::collection::vec(
                // Any character, and often the controls and markup this is about.
                prop_oneof![
                    any::<char>(),
                    prop::char::range('\0', ' '),
                    prop::sample::select(vec!['&', '<', '>', '"', '\'', '\u{FFFE}', '\u{FFFF}']),
                ],
                0..64,
            )
        ) {
            let value: String = chars.into_iter().collect();
            let expected: String = value
                .chars()
                .map(|c| if is_xml_char(c) { c } else { char::REPLACEMENT_CHARACTER })
                .collect();
            prop_assert_eq!(round_trip(&value), expected);
        }
    }

    #[test]
    fn markup_whitespace_and_controls() {
        assert!(matches!(attribute_value("plain text"), Cow::Borrowed(_)));
        assert_eq!(
            attribute_value("<b>\"A&B\"</b> 'q'"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt; &apos;q&apos;"
        );
        assert_eq!(attribute_value("a\tb\r\nc"), "a&#9;b&#13;&#10;c");
        assert_eq!(
            attribute_value("bell\u{7}nul\u{0}esc\u{1b}\u{FFFE}"),
            "bell\u{FFFD}nul\u{FFFD}esc\u{FFFD}\u{FFFD}"
        );
        // DEL, C1 controls and astral characters are XML 1.0 characters: kept.
        assert_eq!(attribute_value("\u{7f}\u{85}😀"), "\u{7f}\u{85}😀");
    }
}
