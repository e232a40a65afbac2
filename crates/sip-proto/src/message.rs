//! Requests, responses, parsing of a framed message head and serialisation.

use bytes::Bytes;

use crate::error::{ParseError, reason_phrase};
use crate::headers::{Headers, canonical_name, name};
use crate::method::Method;
use crate::syntax::{is_token, trim_lws};
use crate::typed::{CSeq, Via};
use crate::uri::{NameAddr, Uri};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: Headers,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

/// A message that was framed but rejected. For requests, what could be read of the head is
/// kept so that the error answer can carry the transaction's Via, From, To, Call-ID and CSeq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub error: ParseError,
    /// The request's headers when the start line was a request line and the header lines
    /// could be split; `None` for responses and for unreadable heads.
    pub request_headers: Option<Headers>,
}

impl Rejected {
    /// The error answer for a rejected request (RFC 3261 §8.2), if one can be addressed.
    pub fn response(&self) -> Option<Response> {
        let headers = self.request_headers.as_ref()?;
        // A client matches an answer to its transaction by the top Via's branch and the CSeq
        // method (RFC 3261 §17.1.3). Without those nobody could use the answer; stay silent.
        // From, To and Call-ID are copied when present: a request lacking them still deserves
        // its 400 (RFC 4475 §3.3.1).
        for required in [name::VIA, name::CSEQ] {
            headers.get(required)?;
        }
        let (status, reason) = self.error.status();
        let mut resp = Response::for_headers(headers, status);
        resp.reason = reason;
        Some(resp)
    }
}

/// Limits applied while parsing a head (the decoder enforces the byte limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    pub max_request_line: usize,
    pub max_headers: usize,
}

/// Parses a framed head (start line and header lines, without the blank line) plus body.
pub fn parse(head: &[u8], body: Bytes, limits: HeadLimits) -> Result<Message, Rejected> {
    let text = std::str::from_utf8(head).map_err(|_| Rejected {
        error: ParseError::NotUtf8,
        request_headers: None,
    })?;
    let (start, rest) = text.split_once("\r\n").unwrap_or((text, ""));
    let start = StartLine::parse(start, limits.max_request_line);
    let headers = parse_header_lines(rest, limits.max_headers);
    match (start, headers) {
        (Ok(StartLine::Request(method, uri)), Ok(headers)) => {
            validate_request(&method, &headers).map_err(|error| Rejected {
                error,
                request_headers: Some(headers.clone()),
            })?;
            Ok(Message::Request(Request {
                method,
                uri,
                headers,
                body,
            }))
        }
        (Ok(StartLine::Response(status, reason)), Ok(headers)) => {
            validate_common(&headers).map_err(|error| Rejected {
                error,
                request_headers: None,
            })?;
            Ok(Message::Response(Response {
                status,
                reason,
                headers,
                body,
            }))
        }
        (Err((error, is_request)), Ok(headers)) => Err(Rejected {
            error,
            request_headers: is_request.then_some(headers),
        }),
        (Ok(StartLine::Request(..)), Err(error)) | (Err((_, true)), Err(error)) => {
            // The head could not be split into headers: answer from a best-effort split.
            let salvaged = parse_header_lines_lenient(rest);
            Err(Rejected {
                error,
                request_headers: Some(salvaged),
            })
        }
        (_, Err(error)) => Err(Rejected {
            error,
            request_headers: None,
        }),
    }
}

enum StartLine {
    Request(Method, Uri),
    Response(u16, String),
}

impl StartLine {
    /// On error, also tells whether the line looked like a request line.
    fn parse(line: &str, max_request_line: usize) -> Result<StartLine, (ParseError, bool)> {
        // Only CRLF ends a line (RFC 3261 §7); a stray CR or LF would survive into a reason
        // phrase or version and be written back out as a line break.
        if line.contains(['\r', '\n']) {
            let method = line.split(' ').next().unwrap_or("");
            return Err((ParseError::BadStartLine, Method::parse(method).is_some()));
        }
        if let Some(rest) = line.strip_prefix("SIP/") {
            let mut it = rest.splitn(3, ' ');
            let (Some(version), Some(code), reason) = (it.next(), it.next(), it.next()) else {
                return Err((ParseError::BadStartLine, false));
            };
            if version != "2.0" {
                return Err((
                    ParseError::UnsupportedVersion(format!("SIP/{version}")),
                    false,
                ));
            }
            let status = code
                .parse::<u16>()
                .ok()
                .filter(|c| (100..700).contains(c) && code.len() == 3)
                .ok_or((ParseError::BadStartLine, false))?;
            return Ok(StartLine::Response(status, reason.unwrap_or("").to_owned()));
        }
        let mut it = line.split(' ');
        let (Some(method), Some(uri), Some(version), None) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err((
                ParseError::BadStartLine,
                Method::parse(line.split(' ').next().unwrap_or("")).is_some(),
            ));
        };
        let method = Method::parse(method).ok_or((ParseError::BadStartLine, false))?;
        if line.len() > max_request_line {
            return Err((
                ParseError::RequestLineTooLong {
                    limit: max_request_line,
                },
                true,
            ));
        }
        if version != "SIP/2.0" {
            if version.len() > 4 && version.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/") {
                return Err((ParseError::UnsupportedVersion(version.to_owned()), true));
            }
            return Err((ParseError::BadStartLine, true));
        }
        let uri = Uri::parse(uri).map_err(|e| (ParseError::BadRequestUri(e), true))?;
        match &uri {
            Uri::Other(_) => return Err((ParseError::UnsupportedUriScheme, true)),
            // Headers are not allowed in a Request-URI (RFC 3261 §19.1.1); a proxy must not
            // forward them, and rejecting is the safe choice RFC 4475 §3.1.2.11 allows.
            Uri::Sip(sip) if sip.headers.is_some() => {
                return Err((ParseError::RequestUriHeaders, true));
            }
            Uri::Sip(_) => {}
        }
        Ok(StartLine::Request(method, uri))
    }
}

/// Splits header lines, unfolding continuation lines (RFC 3261 §7.3.1). Each value is
/// trimmed once it is complete, so that writing it out and reading it back is the identity.
fn parse_header_lines(text: &str, max_headers: usize) -> Result<Headers, ParseError> {
    let mut headers = Headers::new();
    let mut current: Option<(String, String)> = None;
    for line in text.split("\r\n") {
        if line.contains(['\r', '\n']) {
            return Err(ParseError::BadHeaderLine(line.into()));
        }
        if line.starts_with([' ', '\t']) {
            let (_, value) = current
                .as_mut()
                .ok_or_else(|| ParseError::BadHeaderLine(line.into()))?;
            value.push(' ');
            value.push_str(trim_lws(line));
            continue;
        }
        if let Some((n, v)) = current.take() {
            headers.push(n, trim_lws(&v));
        }
        if line.is_empty() {
            continue;
        }
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| ParseError::BadHeaderLine(line.into()))?;
        let n = n.trim_end_matches([' ', '\t']);
        if !is_token(n) {
            return Err(ParseError::BadHeaderLine(line.into()));
        }
        if headers.len() >= max_headers {
            return Err(ParseError::TooManyHeaders { limit: max_headers });
        }
        current = Some((canonical_name(n), v.to_owned()));
    }
    if let Some((n, v)) = current {
        headers.push(n, trim_lws(&v));
    }
    Ok(headers)
}

/// Keeps whatever well-formed lines there are; used only to address an error answer, which
/// is why a line with a stray CR or LF is left out rather than echoed back.
fn parse_header_lines_lenient(text: &str) -> Headers {
    let mut headers = Headers::new();
    for line in text.split("\r\n").take(256) {
        if let Some((n, v)) = line.split_once(':') {
            let n = n.trim_end_matches([' ', '\t']);
            if is_token(n) && !v.contains(['\r', '\n']) {
                headers.push(canonical_name(n), trim_lws(v));
            }
        }
    }
    headers
}

/// Header fields that carry exactly one value (RFC 3261 §7.3.1 allows repeating a field only
/// when it is a comma-separated list).
const SINGLE_VALUED: &[&str] = &[
    name::FROM,
    name::TO,
    name::CALL_ID,
    name::CSEQ,
    name::MAX_FORWARDS,
    name::EXPIRES,
];

fn validate_common(headers: &Headers) -> Result<(), ParseError> {
    if let Some(h) = SINGLE_VALUED
        .iter()
        .find(|h| headers.get_all(h).nth(1).is_some())
    {
        return Err(ParseError::DuplicateHeader(h));
    }
    if !headers.contains(name::VIA) {
        return Err(ParseError::MissingHeader(name::VIA));
    }
    for via in headers.get_list(name::VIA) {
        Via::parse(via).map_err(|_| ParseError::BadHeader(name::VIA))?;
    }
    for (h, required) in [(name::FROM, true), (name::TO, true)] {
        match headers.get(h) {
            Some(v) => {
                NameAddr::parse(v).map_err(|_| ParseError::BadHeader(h))?;
            }
            None if required => return Err(ParseError::MissingHeader(h)),
            None => {}
        }
    }
    let call_id = headers
        .get(name::CALL_ID)
        .ok_or(ParseError::MissingHeader(name::CALL_ID))?;
    if call_id.is_empty() || call_id.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::BadHeader(name::CALL_ID));
    }
    let cseq = headers
        .get(name::CSEQ)
        .ok_or(ParseError::MissingHeader(name::CSEQ))?;
    CSeq::parse(cseq).map_err(|_| ParseError::BadHeader(name::CSEQ))?;
    Ok(())
}

fn validate_request(method: &Method, headers: &Headers) -> Result<(), ParseError> {
    validate_common(headers)?;
    let cseq = CSeq::parse(headers.get(name::CSEQ).unwrap_or_default())
        .map_err(|_| ParseError::BadHeader(name::CSEQ))?;
    if &cseq.method != method {
        return Err(ParseError::CSeqMethodMismatch);
    }
    if let Some(mf) = headers.get(name::MAX_FORWARDS) {
        mf.parse::<u8>()
            .map_err(|_| ParseError::BadHeader(name::MAX_FORWARDS))?;
    }
    if let Some(exp) = headers.get(name::EXPIRES) {
        exp.parse::<u32>()
            .map_err(|_| ParseError::BadHeader(name::EXPIRES))?;
    }
    for (h, list) in [
        (name::CONTACT, true),
        (name::ROUTE, true),
        (name::RECORD_ROUTE, true),
    ] {
        for v in headers.get_all(h) {
            if h == name::CONTACT && v.trim() == "*" {
                continue;
            }
            if list {
                NameAddr::parse_list(v).map_err(|_| ParseError::BadHeader(h))?;
            }
        }
    }
    Ok(())
}

/// Accessors shared by requests and responses.
macro_rules! common_accessors {
    () => {
        pub fn call_id(&self) -> &str {
            self.headers.get(name::CALL_ID).unwrap_or_default()
        }

        /// The CSeq header (checked when the message was parsed).
        pub fn cseq(&self) -> Option<CSeq> {
            self.headers
                .get(name::CSEQ)
                .and_then(|v| CSeq::parse(v).ok())
        }

        pub fn from(&self) -> Option<NameAddr> {
            self.headers
                .get(name::FROM)
                .and_then(|v| NameAddr::parse(v).ok())
        }

        pub fn to(&self) -> Option<NameAddr> {
            self.headers
                .get(name::TO)
                .and_then(|v| NameAddr::parse(v).ok())
        }

        /// Every Via, top first.
        pub fn vias(&self) -> Vec<Via> {
            self.headers
                .get_list(name::VIA)
                .filter_map(|v| Via::parse(v).ok())
                .collect()
        }

        pub fn top_via(&self) -> Option<Via> {
            self.headers
                .get_list(name::VIA)
                .next()
                .and_then(|v| Via::parse(v).ok())
        }

        /// Every Contact value (an empty list for `Contact: *`).
        pub fn contacts(&self) -> Vec<NameAddr> {
            self.headers
                .get_all(name::CONTACT)
                .filter_map(|v| NameAddr::parse_list(v).ok())
                .flatten()
                .collect()
        }

        pub fn expires(&self) -> Option<u32> {
            self.headers
                .get(name::EXPIRES)
                .and_then(|v| v.trim().parse().ok())
        }

        /// Serialises the message; Content-Length always states the body's length. The
        /// buffer is allocated at exactly the message's size: a room's fan-out serialises a
        /// request per member, and a buffer that grows costs a copy of the whole message.
        pub fn to_bytes(&self) -> Vec<u8> {
            let start = self.start_line();
            let headers = || {
                self.headers
                    .iter()
                    .filter(|h| !h.name.eq_ignore_ascii_case(name::CONTENT_LENGTH))
            };
            let length = self.body.len().to_string();
            let size = start.len()
                + headers()
                    .map(|h| h.name.len() + ": \r\n".len() + h.value.len())
                    .sum::<usize>()
                + name::CONTENT_LENGTH.len()
                + ": \r\n\r\n".len()
                + length.len()
                + self.body.len();
            let mut out = Vec::with_capacity(size);
            out.extend_from_slice(start.as_bytes());
            for h in headers() {
                out.extend_from_slice(h.name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(h.value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(name::CONTENT_LENGTH.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(length.as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(&self.body);
            debug_assert_eq!(out.len(), size);
            out
        }
    };
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: Uri) -> Request {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    common_accessors!();

    /// Max-Forwards, defaulting to 70 when absent (RFC 3261 §8.1.1.6).
    pub fn max_forwards(&self) -> u8 {
        self.headers
            .get(name::MAX_FORWARDS)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(70)
    }

    fn start_line(&self) -> String {
        format!("{} {} SIP/2.0\r\n", self.method, self.uri)
    }
}

impl Response {
    /// A response to a request with these headers (RFC 3261 §8.2.6): Via, From, To,
    /// Call-ID and CSeq copied.
    pub fn for_headers(request: &Headers, status: u16) -> Response {
        let mut headers = Headers::new();
        for h in [name::VIA, name::FROM, name::TO, name::CALL_ID, name::CSEQ] {
            for v in request.get_all(h) {
                headers.push(h, v);
            }
        }
        Response {
            status,
            reason: reason_phrase(status).to_owned(),
            headers,
            body: Bytes::new(),
        }
    }

    pub fn for_request(request: &Request, status: u16) -> Response {
        Response::for_headers(&request.headers, status)
    }

    /// Adds a To-tag unless the To header already has one.
    pub fn with_to_tag(mut self, tag: &str) -> Response {
        if self.to().is_some_and(|to| to.tag().is_none()) {
            // Keep the rest of the received To value untouched: only append the tag.
            let raw = self.headers.get(name::TO).unwrap_or_default().to_owned();
            self.headers.set(name::TO, format!("{raw};tag={tag}"));
        }
        self
    }

    common_accessors!();

    fn start_line(&self) -> String {
        format!("SIP/2.0 {} {}\r\n", self.status, self.reason)
    }
}

impl Message {
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }

    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_request_line: 4096,
        max_headers: 64,
    };

    fn head(s: &str) -> Result<Message, Rejected> {
        parse(s.as_bytes(), Bytes::new(), LIMITS)
    }

    const REGISTER: &str = "REGISTER sip:example.com SIP/2.0\r\n\
        Via: SIP/2.0/TLS 192.0.2.10:50123;branch=z9hG4bK1A2B\r\n\
        From: <sip:alice@example.com>;tag=12345678;epid=01010101\r\n\
        To: <sip:alice@example.com>\r\n\
        Max-Forwards: 70\r\n\
        CSeq: 1 REGISTER\r\n\
        Call-ID: 1A2Bg3C4\r\n\
        Contact: <sip:192.0.2.10:50123;transport=tls>;proxy=replace\r\n\
        Content-Length: 0";

    #[test]
    fn parses_a_register() {
        let Ok(Message::Request(r)) = head(REGISTER) else {
            panic!()
        };
        assert_eq!(r.method, Method::Register);
        assert_eq!(r.call_id(), "1A2Bg3C4");
        assert_eq!(r.cseq().unwrap().seq, 1);
        assert_eq!(r.from().unwrap().tag(), Some("12345678"));
        assert_eq!(r.top_via().unwrap().rfc3261_branch(), Some("z9hG4bK1A2B"));
        assert_eq!(r.contacts().len(), 1);
        assert_eq!(r.max_forwards(), 70);
    }

    #[test]
    fn compact_headers_and_folding() {
        let msg = "OPTIONS sip:x@example.com SIP/2.0\r\nv: SIP/2.0/TCP h\r\nf: <sip:a@h>;tag=1\r\n\
            t: <sip:x@example.com>\r\ni: abc\r\nCSeq: 2\r\n  OPTIONS\r\nl: 0";
        let Ok(Message::Request(r)) = head(msg) else {
            panic!("{:?}", head(msg))
        };
        assert_eq!(r.headers.get("Call-ID"), Some("abc"));
        assert_eq!(r.cseq().unwrap().method, Method::Options);
        let bytes = String::from_utf8(r.to_bytes()).unwrap();
        assert!(bytes.contains("\r\nVia: SIP/2.0/TCP h\r\n"), "{bytes}");
        assert!(bytes.contains("\r\nCall-ID: abc\r\n"));
    }

    #[test]
    fn rejections_map_to_answers() {
        let cases = [
            (
                REGISTER.replace("CSeq: 1 REGISTER", "CSeq: 1 INVITE"),
                400,
                "CSeq Method Mismatch",
            ),
            (
                REGISTER.replace("SIP/2.0\r\n", "SIP/7.0\r\n"),
                505,
                "Version Not Supported",
            ),
            (
                REGISTER.replace("sip:example.com", "tel:+1555"),
                416,
                "Unsupported URI Scheme",
            ),
            (
                REGISTER.replace("Call-ID: 1A2Bg3C4\r\n", ""),
                400,
                "Missing Call-ID Header",
            ),
            (
                REGISTER.replace(
                    "Via: SIP/2.0/TLS 192.0.2.10:50123;branch=z9hG4bK1A2B\r\n",
                    "",
                ),
                0,
                "",
            ),
            (
                REGISTER.replace(
                    "Max-Forwards: 70",
                    "Max-Forwards: 70\r\nt: <sip:bob@example.com>",
                ),
                400,
                "Duplicate To Header",
            ),
            (
                REGISTER.replace("sip:example.com SIP", "sip:example.com?Route=x SIP"),
                400,
                "Headers Not Allowed In Request-URI",
            ),
            (
                REGISTER.replace("Max-Forwards: 70", "Max-Forwards: many"),
                400,
                "Malformed Max-Forwards Header",
            ),
            (
                REGISTER.replace("To: <sip:alice@example.com>", "To: <sip:alice@"),
                400,
                "Malformed To Header",
            ),
        ];
        for (msg, status, reason) in cases {
            let rejected = head(&msg).unwrap_err();
            match rejected.response() {
                Some(resp) => {
                    assert_eq!(
                        (resp.status, resp.reason.as_str()),
                        (status, reason),
                        "{msg}"
                    );
                    assert_eq!(
                        resp.headers.get("CSeq"),
                        msg.lines()
                            .find_map(|l| l.strip_prefix("CSeq: ").map(|s| s.trim_end()))
                    );
                }
                None => assert_eq!(status, 0, "expected an answer for {msg}"),
            }
        }
    }

    /// Fuzz finding (sip_roundtrip): a value that began on a continuation line kept a leading
    /// space, so writing the message out and reading it back changed the value.
    #[test]
    fn folded_values_are_trimmed_once_complete() {
        let msg = REGISTER.replace(
            "Max-Forwards: 70",
            "X-Empty:\r\n  late\r\nX-Tail: early\r\n \r\nMax-Forwards: 70",
        );
        let Ok(Message::Request(r)) = head(&msg) else {
            panic!("{:?}", head(&msg))
        };
        assert_eq!(r.headers.get("X-Empty"), Some("late"));
        assert_eq!(r.headers.get("X-Tail"), Some("early"));
    }

    /// Fuzz finding (sip_roundtrip): a bare LF inside a header value hid a Content-Length line
    /// from the parser but not from the framing, and the written copy no longer framed.
    #[test]
    fn stray_cr_or_lf_in_the_head_is_rejected() {
        let lf = REGISTER.replace("Max-Forwards: 70", "X-A: 1\nContent-Length: 5");
        let rejected = head(&lf).unwrap_err();
        assert!(
            matches!(rejected.error, ParseError::BadHeaderLine(_)),
            "{:?}",
            rejected.error
        );
        let answer = rejected.response().unwrap();
        assert!(
            answer
                .headers
                .iter()
                .all(|h| !h.value.contains(['\r', '\n']))
        );
        let cr = REGISTER.replace("SIP/2.0\r\nVia", "SIP/2.0\rX\r\nVia");
        assert_eq!(head(&cr).unwrap_err().error, ParseError::BadStartLine);
        let reason = "SIP/2.0 200 O\nK\r\nVia: SIP/2.0/TCP h\r\nFrom: <sip:a@h>\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS";
        assert_eq!(head(reason).unwrap_err().error, ParseError::BadStartLine);
    }

    /// Fuzz finding (sip_roundtrip): a version token with a multi-byte character across byte 4
    /// was sliced as a `str`, which panics.
    #[test]
    fn non_ascii_version_is_rejected_without_panicking() {
        let msg = REGISTER.replace("SIP/2.0\r\nVia", "ab\u{20ac}x\r\nVia");
        assert_eq!(head(&msg).unwrap_err().error, ParseError::BadStartLine);
    }

    #[test]
    fn too_many_headers_is_rejected_with_an_answer() {
        let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
        let msg = format!("{REGISTER}\r\n{many}");
        let rejected = head(msg.trim_end()).unwrap_err();
        assert_eq!(rejected.error, ParseError::TooManyHeaders { limit: 64 });
        assert_eq!(rejected.response().unwrap().status, 400);
    }

    #[test]
    fn response_for_request_copies_transaction_headers() {
        let Ok(Message::Request(r)) = head(REGISTER) else {
            panic!()
        };
        let resp = Response::for_request(&r, 200).with_to_tag("srv1");
        assert_eq!(resp.to().unwrap().tag(), Some("srv1"));
        assert_eq!(resp.headers.get("Via"), r.headers.get("Via"));
        let text = String::from_utf8(resp.to_bytes()).unwrap();
        assert!(text.starts_with("SIP/2.0 200 OK\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
    }
}
