//! Bytes to the one element a SOAP 1.1 Body carries and the text of the children the caller
//! asks for, under [`Limits`]; the only place that drives quick-xml.
//!
//! Names are matched by namespace and local name, resolved as XML Namespaces define them,
//! because every SOAP stack picks its own prefixes (`s:`, `soap:`, `soapenv:`, a default
//! namespace). DTDs and processing instructions are refused outright, so no entity can be
//! declared: only the five predefined entities and character references are resolved, and
//! neither XXE nor billion laughs has anything to work with.
//!
//! Nothing is kept but the values asked for, so memory is the body plus those values. A
//! value that comes in one piece of text (how a chunk's base64 always comes) is borrowed
//! from the body, not copied.

use std::borrow::Cow;
use std::str::FromStr;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::SOAP_ENV;
use crate::binary::{Base64Error, decode};
use crate::error::{SoapError, quoted};
use crate::limits::Limits;
use crate::operation::{Field, XsdType};

/// The envelope namespace of SOAP 1.2, recognised only to be refused with a clear reason.
const SOAP12_ENV: &str = "http://www.w3.org/2003/05/soap-envelope";

/// Which children of the Body's element to keep: those in `namespace` (`None`: unqualified)
/// named in `fields`. Any other child is skipped.
#[derive(Debug)]
pub(crate) struct Children {
    pub(crate) namespace: Option<&'static str>,
    pub(crate) fields: &'static [Field],
}

/// Reads `body`. `select` is shown the namespace and local name of the Body's element and
/// says what it is (`T`) and which of its children to keep, or refuses it.
pub(crate) fn read_body<'a, T>(
    body: &'a [u8],
    limits: &Limits,
    select: impl FnOnce(Option<&str>, &str) -> Result<(T, Children), SoapError>,
) -> Result<(T, Values<'a>), SoapError> {
    if body.len() > limits.max_body_bytes {
        return Err(SoapError::BodyTooLarge {
            size: body.len(),
            limit: limits.max_body_bytes,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| SoapError::NotUtf8)?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    // `--` inside a comment is not well-formed; quick-xml lets it pass unless asked.
    reader.config_mut().check_comments = true;
    let mut state = Reader {
        limits,
        select: Some(select),
        open: Vec::new(),
        root_done: false,
        body_seen: false,
        payload: None,
    };
    state.run(&mut reader)?;
    let (payload, children, texts) = state.payload.ok_or(SoapError::EmptyBody)?;
    let values = Values {
        items: children
            .fields
            .iter()
            .zip(texts)
            .collect::<Vec<_>>()
            .into_iter(),
        limits: *limits,
    };
    Ok((payload, values))
}

/// Where the reader is: one entry per open element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Envelope,
    Header,
    Body,
    /// The Body's element.
    Payload,
    /// A child kept as the value of `fields[i]`.
    Field(usize),
    Ignored,
}

type Payload<'a, T> = (T, Children, Vec<Option<Cow<'a, str>>>);

struct Reader<'l, 'a, T, S> {
    limits: &'l Limits,
    select: Option<S>,
    open: Vec<Scope>,
    root_done: bool,
    body_seen: bool,
    payload: Option<Payload<'a, T>>,
}

impl<'a, T, S> Reader<'_, 'a, T, S>
where
    S: FnOnce(Option<&str>, &str) -> Result<(T, Children), SoapError>,
{
    fn run(&mut self, reader: &mut NsReader<&'a [u8]>) -> Result<(), SoapError> {
        let mut first = true;
        loop {
            let event = reader.read_event().map_err(malformed)?;
            match event {
                Event::Start(start) => {
                    let scope = self.open_element(reader, &start)?;
                    self.open.push(scope);
                }
                Event::Empty(start) => {
                    let scope = self.open_element(reader, &start)?;
                    self.open.push(scope);
                    self.close_element()?;
                }
                Event::End(_) => self.close_element()?,
                Event::Text(text) => {
                    let text = if self.in_base64() {
                        text.into_inner()
                    } else {
                        text.xml10_content()
                    };
                    self.text(text)?;
                }
                Event::CData(data) => {
                    let text = if self.in_base64() {
                        data.into_inner()
                    } else {
                        data.xml10_content()
                    };
                    self.text(text)?;
                }
                Event::GeneralRef(reference) => {
                    if self.open.is_empty() {
                        return Err(SoapError::OutsideRoot);
                    }
                    let resolved = match reference.resolve_char_ref().map_err(malformed)? {
                        Some(c) => c.to_string(),
                        None => resolve_predefined_entity(&reference)
                            .ok_or_else(|| SoapError::UnknownEntity(quoted(&reference)))?
                            .to_owned(),
                    };
                    self.text(Cow::Owned(resolved))?;
                }
                Event::Comment(_) => {}
                Event::Decl(decl) if first => {
                    // The bytes were checked to be UTF-8; a declaration saying otherwise
                    // means the sender meant other characters than those we would read.
                    if let Some(encoding) = decl.encoding() {
                        let encoding = encoding.map_err(malformed)?;
                        if !encoding.eq_ignore_ascii_case("utf-8") {
                            return Err(SoapError::NotUtf8);
                        }
                    }
                }
                Event::Decl(_) => return Err(SoapError::MisplacedDeclaration),
                Event::PI(pi) => {
                    return Err(SoapError::ProcessingInstruction(quoted(pi.target())));
                }
                Event::DocType(_) => return Err(SoapError::Doctype),
                Event::Eof => break,
            }
            first = false;
        }
        if !self.open.is_empty() || !self.root_done {
            return Err(SoapError::UnexpectedEof);
        }
        if !self.body_seen {
            return Err(SoapError::MissingBody);
        }
        Ok(())
    }

    /// Checks a start tag and decides what the element is to the reader.
    fn open_element(
        &mut self,
        reader: &NsReader<&'a [u8]>,
        start: &BytesStart<'_>,
    ) -> Result<Scope, SoapError> {
        if self.open.len() >= self.limits.max_depth {
            return Err(SoapError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let must_understand = check_attributes(reader, start)?;
        let (resolved, local) = reader.resolver().resolve_element(start.name());
        let namespace = namespace(resolved)?;
        let local = local.into_inner();
        let in_soap = namespace == Some(SOAP_ENV);
        let scope = match self.open.last().copied() {
            None if self.root_done => return Err(SoapError::OutsideRoot),
            None if in_soap && local == "Envelope" => Scope::Envelope,
            None if namespace == Some(SOAP12_ENV) => return Err(SoapError::Soap12),
            None => return Err(SoapError::NotSoap11),
            Some(Scope::Envelope) if in_soap && local == "Body" => {
                if self.body_seen {
                    return Err(SoapError::DuplicateBody);
                }
                self.body_seen = true;
                Scope::Body
            }
            Some(Scope::Envelope) if in_soap && local == "Header" => Scope::Header,
            // SOAP 1.1 §4.2.3: a header entry marked mustUnderstand="1" must be obeyed or
            // the message refused; this service obeys none.
            Some(Scope::Header) if must_understand => {
                return Err(SoapError::MustUnderstand(quoted(local)));
            }
            Some(Scope::Body) => {
                let select = self.select.take().ok_or(SoapError::SeveralBodyElements)?;
                let (payload, children) = select(namespace, local)?;
                let texts = vec![None; children.fields.len()];
                self.payload = Some((payload, children, texts));
                Scope::Payload
            }
            Some(Scope::Payload) => self.open_child(namespace, local)?,
            Some(Scope::Field(i)) => return Err(SoapError::UnexpectedElement(self.field(i).name)),
            Some(Scope::Envelope | Scope::Header | Scope::Ignored) => Scope::Ignored,
        };
        Ok(scope)
    }

    fn open_child(&mut self, namespace: Option<&str>, local: &str) -> Result<Scope, SoapError> {
        let Some((_, children, texts)) = self.payload.as_mut() else {
            return Ok(Scope::Ignored);
        };
        if namespace != children.namespace {
            return Ok(Scope::Ignored);
        }
        let Some(i) = children.fields.iter().position(|f| f.name == local) else {
            return Ok(Scope::Ignored);
        };
        if texts[i].is_some() {
            return Err(SoapError::DuplicateElement(children.fields[i].name));
        }
        texts[i] = Some(Cow::Borrowed(""));
        Ok(Scope::Field(i))
    }

    fn close_element(&mut self) -> Result<(), SoapError> {
        self.open.pop().ok_or(SoapError::OutsideRoot)?;
        if self.open.is_empty() {
            self.root_done = true;
        }
        Ok(())
    }

    fn field(&self, i: usize) -> &'static Field {
        let (_, children, _) = self
            .payload
            .as_ref()
            .expect("a field scope is only opened inside the payload");
        &children.fields[i]
    }

    /// Base64 text is kept as it stands: its whitespace is skipped when it is decoded, so
    /// normalising line ends would only copy it.
    fn in_base64(&self) -> bool {
        match self.open.last() {
            Some(&Scope::Field(i)) => self.field(i).xsd == XsdType::Base64Binary,
            _ => false,
        }
    }

    fn text(&mut self, text: Cow<'a, str>) -> Result<(), SoapError> {
        check_chars(&text)?;
        match self.open.last().copied() {
            Some(Scope::Field(i)) => {
                if let Some((_, _, texts)) = self.payload.as_mut()
                    && let Some(value) = texts[i].as_mut()
                {
                    if value.is_empty() {
                        *value = text;
                    } else {
                        value.to_mut().push_str(&text);
                    }
                }
            }
            Some(_) => {}
            None if text.bytes().all(is_xml_space) => {}
            None => return Err(SoapError::OutsideRoot),
        }
        Ok(())
    }
}

/// Checks every attribute of a start tag (well-formed, no undeclared entity, only XML
/// characters) and says whether it carries SOAP's `mustUnderstand="1"`.
fn check_attributes(reader: &NsReader<&[u8]>, start: &BytesStart<'_>) -> Result<bool, SoapError> {
    let mut must_understand = false;
    for attr in start.attributes() {
        let attr = attr.map_err(malformed)?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| attribute_error(&e))?;
        check_chars(&value)?;
        let (resolved, local) = reader.resolver().resolve_attribute(attr.key);
        if namespace(resolved)? == Some(SOAP_ENV)
            && local.into_inner() == "mustUnderstand"
            && matches!(value.trim(), "1" | "true")
        {
            must_understand = true;
        }
    }
    Ok(must_understand)
}

/// A resolved namespace; a prefix bound nowhere makes the body not namespace-well-formed.
fn namespace(resolved: ResolveResult<'_>) -> Result<Option<&str>, SoapError> {
    match resolved {
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Bound(namespace) => Ok(Some(namespace.0)),
        ResolveResult::Unknown(prefix) => Err(malformed(format_args!(
            "namespace prefix `{prefix}` is not declared"
        ))),
    }
}

/// The XML 1.0 `Char` production (Rust `char` already excludes surrogates).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether `bytes` are all ASCII characters XML allows, which is how every value of this
/// protocol comes (a chunk's base64 above all). Checked in blocks without an early exit so
/// the compiler can vectorise it: the chunk's text is scanned at memory speed.
fn is_plain_ascii(bytes: &[u8]) -> bool {
    bytes.chunks(64).all(|block| {
        block.iter().fold(true, |ok, &b| {
            ok & (matches!(b, 0x20..=0x7F) | (b == b'\t') | (b == b'\n') | (b == b'\r'))
        })
    })
}

/// The XML 1.0 `S` production.
pub(crate) fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn check_chars(s: &str) -> Result<(), SoapError> {
    if is_plain_ascii(s.as_bytes()) {
        return Ok(());
    }
    match s.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(SoapError::InvalidCharacter(u32::from(c))),
        None => Ok(()),
    }
}

fn malformed(e: impl std::fmt::Display) -> SoapError {
    SoapError::Malformed(quoted(&e.to_string()))
}

/// Keeps "unknown entity" distinguishable from other malformed attribute values.
fn attribute_error(e: &quick_xml::Error) -> SoapError {
    match e {
        quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(_, name)) => {
            SoapError::UnknownEntity(quoted(name))
        }
        e => malformed(e),
    }
}

/// The kept children's text, in the order of their fields, read off one by one by the
/// typed accessors; each names its field in its errors.
#[derive(Debug)]
pub(crate) struct Values<'a> {
    items: std::vec::IntoIter<(&'static Field, Option<Cow<'a, str>>)>,
    limits: Limits,
}

impl<'a> Values<'a> {
    fn next_text(&mut self) -> Result<(&'static str, Cow<'a, str>), SoapError> {
        let (field, text) = self
            .items
            .next()
            .expect("values are read off in the order and number of their fields");
        text.map(|text| (field.name, text))
            .ok_or(SoapError::MissingElement(field.name))
    }

    /// An `xs:string`, as written (no whitespace trimmed).
    pub(crate) fn string(&mut self) -> Result<String, SoapError> {
        let (name, text) = self.next_text()?;
        let limit = self.limits.max_string_chars;
        if text.chars().count() > limit {
            return Err(SoapError::StringTooLong {
                element: name,
                limit,
            });
        }
        Ok(text.into_owned())
    }

    /// An integer: XML Schema collapses whitespace around it and allows a leading `+`.
    fn number<N: FromStr>(&mut self) -> Result<(&'static str, N), SoapError> {
        let (name, text) = self.next_text()?;
        let number = text
            .trim_matches(|c: char| u8::try_from(c).is_ok_and(is_xml_space))
            .parse()
            .map_err(|_| SoapError::InvalidNumber(name))?;
        Ok((name, number))
    }

    pub(crate) fn long(&mut self) -> Result<i64, SoapError> {
        self.number().map(|(_, n)| n)
    }

    pub(crate) fn int(&mut self) -> Result<i32, SoapError> {
        self.number().map(|(_, n)| n)
    }

    /// An `xs:long` that counts bytes, so may not be negative.
    pub(crate) fn count(&mut self) -> Result<u64, SoapError> {
        let (name, n) = self.number::<i64>()?;
        u64::try_from(n).map_err(|_| SoapError::NegativeNumber(name))
    }

    /// An `xs:base64Binary` of at most `max_chunk_bytes`.
    pub(crate) fn bytes(&mut self) -> Result<Vec<u8>, SoapError> {
        let (name, text) = self.next_text()?;
        let limit = self.limits.max_chunk_bytes;
        decode(&text, limit).map_err(|e| match e {
            Base64Error::TooLarge => SoapError::ChunkTooLarge {
                element: name,
                limit,
            },
            Base64Error::Invalid => SoapError::InvalidBase64(name),
        })
    }
}
