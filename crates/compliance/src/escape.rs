//! Attribute values as XML 1.0 can carry them.
//!
//! quick-xml escapes the five markup characters but leaves the rest to the caller, and two
//! more things matter for an archive. A parser turns a literal tab, line feed or carriage
//! return in an attribute into a space (attribute-value normalisation), so a multi-line chat
//! message would come back as one line: they are written as character references. And
//! XML 1.0 cannot carry the other C0 control characters, U+FFFE or U+FFFF at all, not even
//! as references: each becomes U+FFFD (the replacement character), so that the document
//! stays well-formed. The JSON Lines adapter keeps them exactly.
//!
//! Every event's content passes through here, so the scan works on bytes: a table says
//! which bytes may start something to replace, and the runs between them are copied whole.
//! Most chat text has nothing to escape and is copied in one piece.

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::name::QName;

/// An attribute for quick-xml's writer whose value is escaped as [`attribute_value`] says
/// (quick-xml's own escaping leaves line breaks to be normalised away and control
/// characters through).
pub(crate) fn attr<'a>(key: &'a str, value: &'a str) -> Attribute<'a> {
    Attribute {
        key: QName(key),
        value: attribute_value(value),
    }
}

/// `value` escaped for a double-quoted attribute.
pub fn attribute_value(value: &str) -> Cow<'_, str> {
    if next_special(value.as_bytes(), 0).is_none() {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len() + 16);
    escape_into(&mut out, value);
    // Escaping replaces whole characters by ASCII or by U+FFFD, so UTF-8 stays UTF-8.
    Cow::Owned(String::from_utf8(out).unwrap_or_default())
}

/// Appends `value` escaped for a double-quoted attribute to `out`.
pub fn escape_into(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    let mut copied = 0;
    let mut from = 0;
    while let Some(at) = next_special(bytes, from) {
        let (replacement, len): (&[u8], usize) = match bytes[at] {
            b'&' => (b"&amp;", 1),
            b'<' => (b"&lt;", 1),
            b'>' => (b"&gt;", 1),
            b'"' => (b"&quot;", 1),
            b'\'' => (b"&apos;", 1),
            b'\t' => (b"&#9;", 1),
            b'\n' => (b"&#10;", 1),
            b'\r' => (b"&#13;", 1),
            0xEF if is_noncharacter_at(bytes, at) => (REPLACEMENT, 3),
            0xEF => {
                // Another character of that lead byte: an XML character like any other.
                from = at + 1;
                continue;
            }
            _ => (REPLACEMENT, 1),
        };
        out.extend_from_slice(&bytes[copied..at]);
        out.extend_from_slice(replacement);
        copied = at + len;
        from = copied;
    }
    out.extend_from_slice(&bytes[copied..]);
}

/// U+FFFD in UTF-8.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// The bytes that may begin something to replace: the C0 controls, the five markup
/// characters, and 0xEF, the lead byte of U+FFFE and U+FFFF. Every other character of
/// valid UTF-8 is an XML 1.0 character (surrogates cannot occur in a `str`).
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'&' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'"' as usize] = true;
    table[b'\'' as usize] = true;
    table[0xEF] = true;
    table
};

fn next_special(bytes: &[u8], from: usize) -> Option<usize> {
    bytes[from..]
        .iter()
        .position(|&b| SPECIAL[usize::from(b)])
        .map(|i| from + i)
}

/// Whether U+FFFE or U+FFFF (EF BF BE, EF BF BF) begins at `at`.
fn is_noncharacter_at(bytes: &[u8], at: usize) -> bool {
    matches!(bytes.get(at + 1..at + 3), Some([0xBF, 0xBE | 0xBF]))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use quick_xml::events::{BytesStart, Event};

    use super::*;

    /// XML 1.0's `Char` production (Rust's `char` has no surrogates to exclude): what the
    /// byte scan must keep.
    fn is_xml_char(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    }

    /// `value` written as an attribute by quick-xml's writer, then read back as an XML 1.0
    /// parser reads it (attribute-value normalisation included).
    fn round_trip(value: &str) -> String {
        let mut e = BytesStart::new("a");
        e.push_attribute(attr("v", value));
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
                    prop::sample::select(vec![
                        '&', '<', '>', '"', '\'', '\u{FFFE}', '\u{FFFF}',
                        // Characters sharing U+FFFE's lead byte, which are kept.
                        '\u{F000}', '\u{FF01}', '\u{FFFD}',
                    ]),
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
        assert_eq!(
            attribute_value("\u{FF01}\u{FFFD}\u{FFFE}\u{EFFF}"),
            "\u{FF01}\u{FFFD}\u{FFFD}\u{EFFF}"
        );
    }
}
