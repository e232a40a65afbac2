//! Bytes to a small element tree under [`Limits`]; the only place that drives quick-xml.
//!
//! Names are reduced to their local part and namespace declarations are dropped, because
//! real servers add `xmlns:xsd`/`xmlns:xsi` and sipe strips prefixes: dispatch is by local
//! name only. DTDs and processing instructions are refused outright, so no entity can be
//! declared; only the five predefined entities and character references are resolved.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::error::ParseError;
use crate::limits::Limits;

/// One element: local name, attributes by local name, child elements, and the
/// concatenation of its own character data (text, CDATA and references, in order).
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub(crate) name: String,
    attrs: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    text: String,
}

impl Element {
    /// An element without attributes or content, standing in for an absent optional one.
    pub(crate) fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn required_attr(&self, name: &'static str) -> Result<&str, ParseError> {
        self.attr(name).ok_or_else(|| ParseError::MissingAttribute {
            element: self.name.clone(),
            attribute: name,
        })
    }

    pub(crate) fn string_attr(&self, name: &'static str) -> Option<String> {
        self.attr(name).map(str::to_owned)
    }

    pub(crate) fn required_string(&self, name: &'static str) -> Result<String, ParseError> {
        self.required_attr(name).map(str::to_owned)
    }

    /// An optional attribute that must parse as `T` when present.
    pub(crate) fn parsed_attr<T: std::str::FromStr>(
        &self,
        name: &'static str,
    ) -> Result<Option<T>, ParseError> {
        self.attr(name)
            .map(|v| v.parse().map_err(|_| self.invalid(name)))
            .transpose()
    }

    pub(crate) fn required_parsed<T: std::str::FromStr>(
        &self,
        name: &'static str,
    ) -> Result<T, ParseError> {
        self.parsed_attr(name)?
            .ok_or_else(|| ParseError::MissingAttribute {
                element: self.name.clone(),
                attribute: name,
            })
    }

    pub(crate) fn bool_attr(&self, name: &'static str) -> Result<Option<bool>, ParseError> {
        self.attr(name)
            .map(|v| parse_bool(v).ok_or_else(|| self.invalid(name)))
            .transpose()
    }

    fn invalid(&self, attribute: &'static str) -> ParseError {
        ParseError::InvalidAttribute {
            element: self.name.clone(),
            attribute,
        }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn required_child(&self, name: &'static str) -> Result<&Element, ParseError> {
        self.child(name).ok_or_else(|| ParseError::MissingElement {
            parent: self.name.clone(),
            child: name,
        })
    }

    pub(crate) fn children_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Booleans as sipe reads them: `true`/`false`, any case.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The XML 1.0 `Char` production (Rust `char` already excludes surrogates).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

fn check_chars(s: &str) -> Result<(), ParseError> {
    match s.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(ParseError::InvalidCharacter(u32::from(c))),
        None => Ok(()),
    }
}

fn malformed(e: impl std::fmt::Display) -> ParseError {
    ParseError::Malformed(e.to_string())
}

/// Parses `body` into its root element.
pub(crate) fn parse(body: &[u8], limits: &Limits) -> Result<Element, ParseError> {
    if body.len() > limits.max_body_bytes {
        return Err(ParseError::BodyTooLarge {
            size: body.len(),
            limit: limits.max_body_bytes,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    Builder::new(limits).run(Reader::from_str(text))
}

/// Open elements and the finished root.
struct Builder<'l> {
    limits: &'l Limits,
    open: Vec<Element>,
    root: Option<Element>,
    seen_event: bool,
}

impl<'l> Builder<'l> {
    fn new(limits: &'l Limits) -> Self {
        Self {
            limits,
            open: Vec::new(),
            root: None,
            seen_event: false,
        }
    }

    fn run(mut self, mut reader: Reader<&[u8]>) -> Result<Element, ParseError> {
        loop {
            let event = reader.read_event().map_err(malformed)?;
            let first = !self.seen_event;
            self.seen_event = true;
            match event {
                Event::Start(start) => {
                    let element = self.open_element(&start)?;
                    self.open.push(element);
                }
                Event::Empty(start) => {
                    let element = self.open_element(&start)?;
                    self.close(element);
                }
                Event::End(_) => {
                    let element = self.open.pop().ok_or(ParseError::TrailingContent)?;
                    self.close(element);
                }
                Event::Text(text) => self.push_text(&text.xml10_content())?,
                Event::CData(data) => self.push_text(&data.xml10_content())?,
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref().map_err(malformed)? {
                        Some(c) => c.to_string(),
                        None => resolve_predefined_entity(&reference)
                            .ok_or_else(|| ParseError::UnknownEntity(reference.to_string()))?
                            .to_owned(),
                    };
                    self.push_text(&resolved)?;
                }
                Event::Comment(_) => {}
                Event::Decl(_) if first => {}
                Event::Decl(_) => return Err(ParseError::MisplacedDeclaration),
                Event::PI(pi) => {
                    return Err(ParseError::ProcessingInstruction(pi.target().to_owned()));
                }
                Event::DocType(_) => return Err(ParseError::Doctype),
                Event::Eof => break,
            }
        }
        if !self.open.is_empty() {
            return Err(ParseError::UnexpectedEof);
        }
        self.root.ok_or(ParseError::UnexpectedEof)
    }

    fn open_element(&mut self, start: &BytesStart<'_>) -> Result<Element, ParseError> {
        if self.root.is_some() {
            return Err(ParseError::TrailingContent);
        }
        if self.open.len() >= self.limits.max_depth {
            return Err(ParseError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        if let Some(parent) = self.open.last()
            && parent.children.len() >= self.limits.max_items
        {
            return Err(ParseError::TooManyItems {
                element: parent.name.clone(),
                limit: self.limits.max_items,
            });
        }
        let mut element = Element::named(start.local_name().as_ref());
        for (count, attr) in start.attributes().enumerate() {
            if count >= self.limits.max_attributes {
                return Err(ParseError::TooManyAttributes {
                    element: element.name,
                    limit: self.limits.max_attributes,
                });
            }
            let attr = attr.map_err(malformed)?;
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| attribute_error(&e))?;
            check_chars(&value)?;
            if attr.key.as_namespace_binding().is_none() {
                element.attrs.push((
                    attr.key.local_name().as_ref().to_owned(),
                    value.into_owned(),
                ));
            }
        }
        Ok(element)
    }

    fn close(&mut self, element: Element) {
        match self.open.last_mut() {
            Some(parent) => parent.children.push(element),
            None => self.root = Some(element),
        }
    }

    fn push_text(&mut self, text: &str) -> Result<(), ParseError> {
        check_chars(text)?;
        match self.open.last_mut() {
            Some(element) => element.text.push_str(text),
            None if text.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n')) => {}
            None => return Err(ParseError::TrailingContent),
        }
        Ok(())
    }
}

/// Keeps "unknown entity" distinguishable from other malformed attribute values.
fn attribute_error(e: &quick_xml::Error) -> ParseError {
    match e {
        quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(_, name)) => {
            ParseError::UnknownEntity(name.clone())
        }
        e => malformed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(xml: &str) -> Result<Element, ParseError> {
        parse(xml.as_bytes(), &Limits::default())
    }

    #[test]
    fn names_lose_prefixes_and_namespace_declarations_disappear() {
        let root = tree(
            r#"<x:xccos xmlns:x="urn:parlano:xml:ns:xccos" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xsi:ver="1"><x:cmd/></x:xccos>"#,
        )
        .unwrap();
        assert_eq!(root.name, "xccos");
        assert_eq!(root.attrs, vec![("ver".to_owned(), "1".to_owned())]);
        assert_eq!(root.children[0].name, "cmd");
    }

    #[test]
    fn text_resolves_predefined_entities_character_references_and_cdata() {
        let root = tree("<chat>a&lt;&#x42;&#67;<![CDATA[<d>]]>&quot;\r\ne</chat>").unwrap();
        assert_eq!(root.text(), "a<BC<d>\"\ne");
    }

    #[test]
    fn attribute_character_references_keep_whitespace() {
        let root = tree("<a v=\"x&#10;y\tz\"/>").unwrap();
        assert_eq!(root.attr("v"), Some("x\ny z"));
    }

    #[test]
    fn declaration_allowed_only_first() {
        assert!(tree("<?xml version=\"1.0\" encoding=\"utf-8\"?><a/>").is_ok());
        assert_eq!(
            tree(" <?xml version=\"1.0\"?><a/>").unwrap_err(),
            ParseError::MisplacedDeclaration
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(
            tree("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>").unwrap_err(),
            ParseError::Doctype
        );
        assert_eq!(
            tree("<a>&e;</a>").unwrap_err(),
            ParseError::UnknownEntity("e".into())
        );
        assert_eq!(
            tree("<a v=\"&e;\"/>").unwrap_err(),
            ParseError::UnknownEntity("e".into())
        );
        assert_eq!(
            tree("<?php x?><a/>").unwrap_err(),
            ParseError::ProcessingInstruction("php".into())
        );
        assert_eq!(
            tree("<a>&#1;</a>").unwrap_err(),
            ParseError::InvalidCharacter(1)
        );
        assert_eq!(
            tree("<a v=\"\u{1}\"/>").unwrap_err(),
            ParseError::InvalidCharacter(1)
        );
        assert_eq!(tree("<a/><b/>").unwrap_err(), ParseError::TrailingContent);
        assert_eq!(tree("<a/>x").unwrap_err(), ParseError::TrailingContent);
        assert_eq!(tree("<a><b>").unwrap_err(), ParseError::UnexpectedEof);
        assert_eq!(tree("").unwrap_err(), ParseError::UnexpectedEof);
        assert_eq!(tree("\u{FEFF}<a/>\r\n").unwrap().name, "a");
        assert!(matches!(tree("<a></b>"), Err(ParseError::Malformed(_))));
        assert!(matches!(
            tree("<a x=\"1\" x=\"2\"/>"),
            Err(ParseError::Malformed(_))
        ));
    }

    #[test]
    fn limits() {
        let limits = Limits {
            max_body_bytes: 64,
            max_depth: 2,
            max_attributes: 2,
            max_items: 2,
        };
        let parse_with = |xml: &str| parse(xml.as_bytes(), &limits);
        assert_eq!(
            parse_with(&format!("<a>{}</a>", "x".repeat(60))).unwrap_err(),
            ParseError::BodyTooLarge {
                size: 67,
                limit: 64
            }
        );
        assert!(parse_with("<a><b/></a>").is_ok());
        assert_eq!(
            parse_with("<a><b><c/></b></a>").unwrap_err(),
            ParseError::TooDeep { limit: 2 }
        );
        assert!(parse_with("<a x=\"1\" y=\"2\"/>").is_ok());
        assert_eq!(
            parse_with("<a x=\"1\" y=\"2\" z=\"3\"/>").unwrap_err(),
            ParseError::TooManyAttributes {
                element: "a".into(),
                limit: 2
            }
        );
        assert_eq!(
            parse_with("<a><b/><b/><b/></a>").unwrap_err(),
            ParseError::TooManyItems {
                element: "a".into(),
                limit: 2
            }
        );
    }
}
