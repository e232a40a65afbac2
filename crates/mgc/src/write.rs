//! The writer. Every body of the service has the same frame: the XML declaration, a
//! `soap:Envelope` and `soap:Body`, and one element whose children each carry one value, so
//! one function writes them all. The output is compact (no indentation) and escaped so that
//! any conforming parser reads back exactly the values written.

use std::borrow::Cow;
use std::io::Write as _;

use quick_xml::escape::partial_escape;

use crate::SOAP_ENV;
use crate::binary::{encode_into, encoded_len};
use crate::operation::Field;
use crate::read::is_xml_char;

/// One value to write, typed so that numbers and binaries need no escaping.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Text(&'a str),
    Unsigned(u64),
    Signed(i64),
    Bytes(&'a [u8]),
}

impl Value<'_> {
    /// About how many bytes the value takes written, so a large chunk is encoded straight
    /// into an output that does not need to grow.
    fn written_len(&self) -> usize {
        match self {
            Self::Text(text) => text.len(),
            Self::Unsigned(_) | Self::Signed(_) => 20,
            Self::Bytes(bytes) => encoded_len(bytes.len()),
        }
    }
}

/// A whole body: `element` (declaring `namespace` as the default one, if given) in the
/// envelope's Body, with one child per field, in order.
pub(crate) fn body_element(
    element: &str,
    namespace: Option<&str>,
    fields: &[Field],
    values: &[Value<'_>],
) -> Vec<u8> {
    debug_assert_eq!(
        fields.len(),
        values.len(),
        "one value per field of {element}"
    );
    let content: usize = fields
        .iter()
        .zip(values)
        .map(|(field, value)| 5 + 2 * field.name.len() + value.written_len())
        .sum();
    let mut out = open_body(element, namespace, content);
    for (field, value) in fields.iter().zip(values) {
        write_field(&mut out, field.name, value);
    }
    close_body(&mut out, element);
    out
}

/// The frame up to and including `element`'s start tag, with room for `content` more bytes.
pub(crate) fn open_body(element: &str, namespace: Option<&str>, content: usize) -> Vec<u8> {
    let frame = 256 + 2 * element.len();
    let mut out = Vec::with_capacity(frame + content);
    push(
        &mut out,
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap=""#,
    );
    push(&mut out, SOAP_ENV);
    push(&mut out, r#""><soap:Body><"#);
    push(&mut out, element);
    if let Some(namespace) = namespace {
        push(&mut out, " xmlns=\"");
        push(&mut out, namespace);
        push(&mut out, "\"");
    }
    push(&mut out, ">");
    out
}

/// The frame from `element`'s end tag on.
pub(crate) fn close_body(out: &mut Vec<u8>, element: &str) {
    push(out, "</");
    push(out, element);
    push(out, "></soap:Body></soap:Envelope>");
}

/// Text into the body. The body is kept as bytes, not a `String`, so that base64 can be
/// encoded straight into it; everything written is text, so it stays UTF-8.
pub(crate) fn push(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
}

/// `<name>value</name>`, or `<name/>` for an empty string or binary.
fn write_field(out: &mut Vec<u8>, name: &str, value: &Value<'_>) {
    push(out, "<");
    push(out, name);
    match value {
        Value::Text("") | Value::Bytes([]) => {
            push(out, "/>");
            return;
        }
        Value::Text(text) => {
            push(out, ">");
            push(out, &partial_escape(xml_chars(text)));
        }
        // Writing into a Vec cannot fail.
        Value::Unsigned(n) => {
            let _ = write!(out, ">{n}");
        }
        Value::Signed(n) => {
            let _ = write!(out, ">{n}");
        }
        Value::Bytes(bytes) => {
            push(out, ">");
            encode_into(bytes, out);
        }
    }
    push(out, "</");
    push(out, name);
    push(out, ">");
}

/// `s` with the characters XML 1.0 cannot carry at all (most C0 controls, U+FFFE, U+FFFF)
/// replaced by U+FFFD: the parser refuses them, so parsed values never hold them, and a
/// body with one would not be XML.
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
    use crate::operation::XsdType;

    const FIELDS: &[Field] = &[
        Field {
            name: "a",
            xsd: XsdType::String,
        },
        Field {
            name: "b",
            xsd: XsdType::Base64Binary,
        },
        Field {
            name: "c",
            xsd: XsdType::Long,
        },
    ];

    fn written(values: &[Value<'_>]) -> String {
        String::from_utf8(body_element("Op", Some("urn:x"), FIELDS, values)).unwrap()
    }

    #[test]
    fn the_frame() {
        assert_eq!(
            written(&[Value::Text("t"), Value::Bytes(b"ABC"), Value::Signed(-1)]),
            r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Op xmlns="urn:x"><a>t</a><b>QUJD</b><c>-1</c></Op></soap:Body></soap:Envelope>"#
        );
    }

    #[test]
    fn empty_values_are_self_closing() {
        let xml = written(&[Value::Text(""), Value::Bytes(b""), Value::Unsigned(0)]);
        assert!(xml.contains("<a/><b/><c>0</c>"), "{xml}");
    }

    #[test]
    fn text_escapes_markup_carriage_returns_and_what_xml_cannot_carry() {
        let xml = written(&[
            Value::Text("a<b>&\"c'\r\n]]>\u{1}\u{FFFF}é"),
            Value::Bytes(b""),
            Value::Unsigned(0),
        ]);
        assert!(
            xml.contains("<a>a&lt;b&gt;&amp;\"c'&#13;\n]]&gt;\u{FFFD}\u{FFFD}é</a>"),
            "{xml}"
        );
    }
}
