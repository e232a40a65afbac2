//! What ties a response to the client transaction that sent its request (RFC 3261
//! §17.1.3): the branch of its top Via and its CSeq, with its status. A sender of many
//! requests (a server delivering a room's message to each member) reads these few fields
//! straight from each answer's head ([`ResponseMatch::scan`]) instead of parsing every
//! header of it; an answer already parsed gives the same ([`ResponseMatch::of`]).

use crate::headers::name;
use crate::message::Response;

/// The fields that match a response to its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseMatch<'a> {
    pub status: u16,
    /// The top Via's branch parameter.
    pub branch: &'a str,
    /// The CSeq number.
    pub seq: u32,
    /// The CSeq method, as written.
    pub method: &'a str,
}

impl<'a> ResponseMatch<'a> {
    /// Reads a response's head: its start line and header lines, without the blank line
    /// that ends them. `None` for anything but a plain response (a request, a folded line,
    /// a second CSeq, a top Via or CSeq it cannot read): the caller then parses the
    /// message whole, and the parser says what is wrong with it. The other header lines
    /// are not checked: a sender matches an answer by these fields alone.
    pub fn scan(head: &'a [u8]) -> Option<ResponseMatch<'a>> {
        let head = std::str::from_utf8(head).ok()?;
        let mut lines = head.split("\r\n");
        let status = status_of(lines.next()?)?;
        let (mut branch, mut cseq) = (None, None);
        for line in lines {
            if line.starts_with([' ', '\t']) || line.contains(['\r', '\n']) {
                return None;
            }
            let (field, value) = line.split_once(':')?;
            let field = field.trim_end_matches([' ', '\t']);
            if is_via(field) {
                if branch.is_none() {
                    branch = Some(top_branch(value)?);
                }
            } else if field.eq_ignore_ascii_case(name::CSEQ) {
                if cseq.is_some() {
                    return None;
                }
                cseq = Some(seq_and_method(value)?);
            }
        }
        let (seq, method) = cseq?;
        Some(ResponseMatch {
            status,
            branch: branch?,
            seq,
            method,
        })
    }

    /// The same fields of a parsed response.
    pub fn of(response: &'a Response) -> Option<ResponseMatch<'a>> {
        let via = response.headers.get_list(name::VIA).next()?;
        let (seq, method) = seq_and_method(response.headers.get(name::CSEQ)?)?;
        Some(ResponseMatch {
            status: response.status,
            branch: top_branch(via)?,
            seq,
            method,
        })
    }
}

/// The status code of a response's start line (`SIP/2.0 200 OK`).
fn status_of(line: &str) -> Option<u16> {
    let rest = line.strip_prefix("SIP/2.0 ")?;
    let code = rest.get(..3)?;
    if !code.bytes().all(|b| b.is_ascii_digit())
        || !matches!(rest.as_bytes().get(3), None | Some(b' '))
    {
        return None;
    }
    code.parse().ok().filter(|c| (100..700).contains(c))
}

fn is_via(field: &str) -> bool {
    field.eq_ignore_ascii_case(name::VIA) || field.eq_ignore_ascii_case("v")
}

/// The branch parameter of the first Via value in a Via header line's value.
fn top_branch(value: &str) -> Option<&str> {
    let first = value.split(',').next()?;
    let (_, params) = first.split_once(';')?;
    params.split(';').find_map(|param| {
        let (key, value) = param.split_once('=')?;
        let value = value.trim();
        (key.trim().eq_ignore_ascii_case("branch") && !value.is_empty()).then_some(value)
    })
}

/// A CSeq value's number (below 2³¹, RFC 3261 §8.1.1.5) and method.
fn seq_and_method(value: &str) -> Option<(u32, &str)> {
    let mut parts = value.split_ascii_whitespace();
    let (Some(seq), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let seq: u32 = seq.parse().ok().filter(|s| *s < 1 << 31)?;
    Some((seq, method))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "SIP/2.0 481 Call Leg/Transaction Does Not Exist\r\n\
        v: SIP/2.0/TLS 127.0.0.1:5061 ; Branch = z9hG4bK.7.0a1b2c3d.12 ;received=10.0.0.1, \
        SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKother\r\n\
        Via: SIP/2.0/TCP 10.0.0.3;branch=z9hG4bKthird\r\n\
        From: <sip:chat@example.com>;tag=s\r\nTo: <sip:alice@example.com>;tag=c\r\n\
        Call-ID: c1\r\ncseq:  12   INFO \r\nContent-Length: 0";

    #[test]
    fn the_top_via_branch_cseq_and_status_are_read_from_the_head() {
        let expected = ResponseMatch {
            status: 481,
            branch: "z9hG4bK.7.0a1b2c3d.12",
            seq: 12,
            method: "INFO",
        };
        assert_eq!(ResponseMatch::scan(ANSWER.as_bytes()), Some(expected));
        let head = format!("{ANSWER}\r\n\r\n");
        let Ok(crate::Message::Response(parsed)) = crate::parse(
            &head.as_bytes()[..ANSWER.len()],
            bytes::Bytes::new(),
            HEAD_LIMITS,
        ) else {
            panic!("the answer parses");
        };
        assert_eq!(ResponseMatch::of(&parsed), Some(expected));
    }

    const HEAD_LIMITS: crate::HeadLimits = crate::HeadLimits {
        max_request_line: 4096,
        max_headers: 64,
    };

    #[test]
    fn anything_but_a_plain_response_is_left_to_the_parser() {
        let plain = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa\r\nCSeq: 1 INFO";
        assert!(ResponseMatch::scan(plain.as_bytes()).is_some());
        for head in [
            // A request.
            "INFO sip:a@b SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa\r\nCSeq: 1 INFO",
            // Start lines that are not SIP/2.0 with a three-digit status.
            "SIP/3.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa\r\nCSeq: 1 INFO",
            "SIP/2.0 2000 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa\r\nCSeq: 1 INFO",
            "SIP/2.0 099 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa\r\nCSeq: 1 INFO",
            "SIP/2.0 +20 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa\r\nCSeq: 1 INFO",
            // A folded line, a stray line break, a line without a colon.
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa\r\n x\r\nCSeq: 1 INFO",
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa\nCSeq: 1 INFO",
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa\r\nodd\r\nCSeq: 1 INFO",
            // No branch in the top Via, none at all, or no Via.
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h, SIP/2.0/TLS g;branch=z9hG4bKa\r\nCSeq: 1 INFO",
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=\r\nCSeq: 1 INFO",
            "SIP/2.0 200 OK\r\nCSeq: 1 INFO",
            // No CSeq, two, or one out of range.
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa",
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa\r\nCSeq: 1 INFO\r\nCSeq: 2 INFO",
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa\r\nCSeq: 2147483648 INFO",
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKa\r\nCSeq: 1 INFO x",
        ] {
            assert_eq!(ResponseMatch::scan(head.as_bytes()), None, "{head}");
        }
        assert_eq!(ResponseMatch::scan(b"SIP/2.0 200 OK\r\n\xff: 1"), None);
    }
}
