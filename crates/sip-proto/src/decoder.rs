//! Streaming framing of SIP over a byte stream (TCP, TLS) with hard limits.
//!
//! The decoder owns no socket: the caller appends received bytes to a `BytesMut` and calls
//! [`Decoder::decode`] until it returns `Ok(None)`. A [`FramingError`] means the stream can
//! no longer be split into messages and the connection must close; a bad message that was
//! still framed correctly comes back as [`Item::Rejected`] and the stream carries on.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem;

use crate::error::{FramingError, ParseError};
use crate::message::{HeadLimits, Message, Rejected, Response, parse};

/// Hard limits for one connection's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Start line plus header lines, in bytes.
    pub max_head: usize,
    /// Length of the request line.
    pub max_request_line: usize,
    /// Number of header lines.
    pub max_headers: usize,
    /// Body size as announced by Content-Length.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 16 * 1024,
            max_request_line: 4096,
            max_headers: 100,
            max_body: 256 * 1024,
        }
    }
}

/// What one call to [`Decoder::decode`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Message(Message),
    Rejected(Rejected),
}

#[derive(Debug)]
enum State {
    /// Waiting for the end of a head; `scanned` bytes are known to hold no terminator.
    Head { scanned: usize },
    /// The head is parsed-to-be; waiting for `len` body bytes.
    Body { head: Bytes, len: usize },
    /// Skipping the body of a message rejected as too large.
    Discard { remaining: usize },
}

#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    state: State,
    /// The head whose framing failed, kept to address the answer to it.
    failed_head: Option<Bytes>,
}

const TERMINATOR: &[u8] = b"\r\n\r\n";

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            state: State::Head { scanned: 0 },
            failed_head: None,
        }
    }

    /// After [`Self::decode`] failed on a head it could read (a bad Content-Length), the
    /// answer that request is owed before the connection closes.
    pub fn framing_answer(&self, error: &FramingError) -> Option<Response> {
        let head = self.failed_head.as_ref()?;
        let (status, reason) = error.status();
        let headers = match self.parse(head, Bytes::new()) {
            Item::Message(Message::Request(r)) => r.headers,
            Item::Rejected(Rejected {
                request_headers: Some(h),
                ..
            }) => h,
            _ => return None,
        };
        let probe = Rejected {
            error: ParseError::BadStartLine,
            request_headers: Some(headers),
        };
        let mut answer = probe.response()?;
        answer.status = status;
        answer.reason = reason.to_owned();
        Some(answer)
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// True when no part of a message is pending: `buf` holds nothing but the decoder is
    /// between messages. Used by the transport for header-read timeouts.
    pub fn is_between_messages(&self, buf: &BytesMut) -> bool {
        matches!(self.state, State::Head { .. }) && buf.is_empty()
    }

    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Item>, FramingError> {
        self.decode_with(buf, |_| false)
    }

    /// Like [`Self::decode`], but the head of each complete response (start line and
    /// header lines) is first offered to `take`: one it takes is consumed here, never
    /// parsed. A sender of many requests matches their answers by a few fields
    /// ([`crate::ResponseMatch::scan`]); whatever it does not take is parsed as usual.
    pub fn decode_with(
        &mut self,
        buf: &mut BytesMut,
        mut take: impl FnMut(&[u8]) -> bool,
    ) -> Result<Option<Item>, FramingError> {
        loop {
            match &mut self.state {
                State::Discard { remaining } => {
                    let n = (*remaining).min(buf.len());
                    buf.advance(n);
                    *remaining -= n;
                    if *remaining > 0 {
                        return Ok(None);
                    }
                    self.state = State::Head { scanned: 0 };
                }
                State::Head { scanned } => {
                    // CRLF keep-alives (RFC 5626 §3.5.1) may stand between messages.
                    let blank = buf
                        .iter()
                        .take_while(|b| matches!(b, b'\r' | b'\n'))
                        .count();
                    if blank > 0 {
                        buf.advance(blank);
                        *scanned = 0;
                    }
                    // `min` keeps a caller that shrank the buffer from panicking the slice below.
                    let from = scanned.saturating_sub(TERMINATOR.len() - 1).min(buf.len());
                    let Some(pos) = memmem::find(&buf[from..], TERMINATOR).map(|p| p + from) else {
                        // Until this many bytes are in, a terminator that starts within the
                        // limit may still be arriving: judging earlier would make the verdict
                        // depend on where the reads split the stream.
                        if buf.len() >= self.limits.max_head.saturating_add(TERMINATOR.len()) {
                            return Err(FramingError::HeadTooLarge {
                                limit: self.limits.max_head,
                            });
                        }
                        *scanned = buf.len();
                        return Ok(None);
                    };
                    if pos > self.limits.max_head {
                        return Err(FramingError::HeadTooLarge {
                            limit: self.limits.max_head,
                        });
                    }
                    let head = buf.split_to(pos).freeze();
                    buf.advance(TERMINATOR.len());
                    let len = match content_length(&head) {
                        Ok(len) => len,
                        Err(e) => {
                            self.failed_head = Some(head);
                            return Err(e);
                        }
                    };
                    if len > self.limits.max_body {
                        self.state = State::Discard { remaining: len };
                        let rejected = match self.parse(&head, Bytes::new()) {
                            Item::Rejected(r) => Rejected {
                                error: ParseError::BodyTooLarge {
                                    len,
                                    limit: self.limits.max_body,
                                },
                                ..r
                            },
                            Item::Message(m) => Rejected {
                                error: ParseError::BodyTooLarge {
                                    len,
                                    limit: self.limits.max_body,
                                },
                                request_headers: match m {
                                    Message::Request(r) => Some(r.headers),
                                    Message::Response(_) => None,
                                },
                            },
                        };
                        return Ok(Some(Item::Rejected(rejected)));
                    }
                    self.state = State::Body { head, len };
                }
                State::Body { head, len } => {
                    if buf.len() < *len {
                        buf.reserve(*len - buf.len());
                        return Ok(None);
                    }
                    let body = buf.split_to(*len).freeze();
                    let head = std::mem::take(head);
                    self.state = State::Head { scanned: 0 };
                    if head.starts_with(b"SIP/") && take(&head) {
                        continue;
                    }
                    return Ok(Some(self.parse(&head, body)));
                }
            }
        }
    }

    fn parse(&self, head: &[u8], body: Bytes) -> Item {
        let limits = HeadLimits {
            max_request_line: self.limits.max_request_line,
            max_headers: self.limits.max_headers,
        };
        match parse(head, body, limits) {
            Ok(m) => Item::Message(m),
            Err(r) => Item::Rejected(r),
        }
    }
}

/// Finds Content-Length (or its compact form `l`) in a head; absent means 0. Lines are split,
/// named and unfolded exactly as the message parser does it: were the two to disagree on
/// which line is a Content-Length, the framed body would not be the one the parsed message
/// describes.
fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    let mut found: Option<usize> = None;
    let mut lines = crlf_lines(head).skip(1).peekable();
    while let Some(line) = lines.next() {
        if is_continuation(line) {
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim_lws(&line[..colon]);
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let mut value = line[colon + 1..].to_vec();
        while let Some(next) = lines.next_if(|l| is_continuation(l)) {
            value.push(b' ');
            value.extend_from_slice(trim_lws(next));
        }
        let value = trim_lws(&value);
        let text = String::from_utf8_lossy(value).into_owned();
        let n = (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<usize>().ok())
            .flatten()
            .ok_or(FramingError::BadContentLength(text))?;
        if found.is_some_and(|f| f != n) {
            return Err(FramingError::ConflictingContentLength);
        }
        found = Some(n);
    }
    Ok(found.unwrap_or(0))
}

fn crlf_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(head);
    std::iter::from_fn(move || {
        let r = rest?;
        match memmem::find(r, b"\r\n") {
            Some(i) => {
                rest = Some(&r[i + 2..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

fn is_continuation(line: &[u8]) -> bool {
    matches!(line.first(), Some(b' ' | b'\t'))
}

fn trim_lws(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: &str) -> String {
        format!(
            "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
             From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\n\
             CSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    fn decode_all(d: &mut Decoder, buf: &mut BytesMut) -> Vec<Item> {
        std::iter::from_fn(|| d.decode(buf).unwrap()).collect()
    }

    #[test]
    fn frames_byte_by_byte_with_keepalives() {
        let stream = format!("\r\n\r\n{}\r\n\r\n{}", msg("hello"), msg("again"));
        let mut d = Decoder::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut items = Vec::new();
        for b in stream.bytes() {
            buf.extend_from_slice(&[b]);
            items.extend(decode_all(&mut d, &mut buf));
        }
        assert_eq!(items.len(), 2);
        let Item::Message(Message::Request(r)) = &items[1] else {
            panic!()
        };
        assert_eq!(&r.body[..], b"again");
        assert!(d.is_between_messages(&buf));
    }

    #[test]
    fn oversized_body_is_rejected_and_skipped() {
        let limits = Limits {
            max_body: 4,
            ..Limits::default()
        };
        let mut d = Decoder::new(limits);
        let mut buf = BytesMut::from(format!("{}{}", msg("too long"), msg("ok")).as_bytes());
        let items = decode_all(&mut d, &mut buf);
        assert_eq!(items.len(), 2);
        let Item::Rejected(r) = &items[0] else {
            panic!()
        };
        assert_eq!(r.response().unwrap().status, 413);
        assert!(matches!(&items[1], Item::Message(Message::Request(r)) if &r.body[..] == b"ok"));
    }

    #[test]
    fn head_without_end_is_fatal_past_the_limit() {
        let limits = Limits {
            max_head: 64,
            ..Limits::default()
        };
        let mut d = Decoder::new(limits);
        let mut buf = BytesMut::from(&[b'A'; 67][..]);
        assert_eq!(
            d.decode(&mut buf),
            Ok(None),
            "a terminator could still start at byte 64"
        );
        buf.extend_from_slice(b"A");
        assert_eq!(
            d.decode(&mut buf),
            Err(FramingError::HeadTooLarge { limit: 64 })
        );
    }

    /// Fuzz finding (sip_decoder): a head of exactly `max_head` bytes was refused when the read
    /// ended inside its terminator, and accepted when it arrived whole.
    #[test]
    fn head_of_exactly_the_limit_is_framed_however_it_arrives() {
        let text = msg("");
        let head_len = text.find("\r\n\r\n").unwrap();
        let limits = Limits {
            max_head: head_len,
            ..Limits::default()
        };
        let mut d = Decoder::new(limits);
        let mut buf = BytesMut::new();
        let mut items = Vec::new();
        for b in text.bytes() {
            buf.extend_from_slice(&[b]);
            items.extend(decode_all(&mut d, &mut buf));
        }
        assert!(matches!(&items[..], [Item::Message(_)]), "{items:?}");
    }

    #[test]
    fn bad_content_length_is_fatal() {
        let mut d = Decoder::new(Limits::default());
        let text = msg("x").replace("Content-Length: 1", "Content-Length: -1");
        let mut buf = BytesMut::from(text.as_bytes());
        let err = d.decode(&mut buf).unwrap_err();
        assert!(matches!(err, FramingError::BadContentLength(_)));
        let answer = d.framing_answer(&err).expect("the head was readable");
        assert_eq!(
            (answer.status, answer.reason.as_str()),
            (400, "Malformed Content-Length")
        );
        assert_eq!(answer.call_id(), "c1");
        let text = msg("x").replace("Content-Length: 1", "Content-Length: 1\r\nl: 2");
        let mut d = Decoder::new(Limits::default());
        let mut buf = BytesMut::from(text.as_bytes());
        assert_eq!(
            d.decode(&mut buf),
            Err(FramingError::ConflictingContentLength)
        );
    }

    #[test]
    fn content_length_is_read_like_the_parser_reads_headers() {
        // A folded line belongs to the header above it, whatever it looks like.
        let text = msg("x").replace(
            "Content-Type: text/plain",
            "Subject: hi\r\n Content-Length: 5",
        );
        let items = decode_all(
            &mut Decoder::new(Limits::default()),
            &mut BytesMut::from(text.as_bytes()),
        );
        let [Item::Message(Message::Request(r))] = &items[..] else {
            panic!("{items:?}")
        };
        assert_eq!(&r.body[..], b"x");
        assert_eq!(r.headers.get("Subject"), Some("hi Content-Length: 5"));
        // Folded digits are joined with a space, as the parser joins them: no number.
        let text = msg("x").replace("Content-Length: 1", "Content-Length: 1\r\n 0");
        let mut buf = BytesMut::from(text.as_bytes());
        assert_eq!(
            Decoder::new(Limits::default()).decode(&mut buf),
            Err(FramingError::BadContentLength("1 0".into()))
        );
        let text = msg("x").replace("Content-Length: 1", "Content-Length:\r\n\t1");
        let items = decode_all(
            &mut Decoder::new(Limits::default()),
            &mut BytesMut::from(text.as_bytes()),
        );
        assert!(matches!(&items[..], [Item::Message(Message::Request(r))] if &r.body[..] == b"x"));
    }
}
