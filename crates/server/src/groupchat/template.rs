//! The server's requests in one chat dialog, written once. A room's message goes to every
//! member as an INFO that differs from the dialog's previous one only in its branch, its
//! CSeq and its body; the rest (request line, Via, From, To, Call-ID, Contact) is rendered
//! when the dialog is made, and a delivery copies it around the numbers it writes in
//! place, straight into the connection's write buffer: no header is built or allocated per
//! delivery. The bytes are the serialiser's for the same request (see the tests), which
//! still writes the dialog's requests where a whole one is needed: a BYE, or a connection
//! that signs each message.

use std::fmt::Write as _;

use bytes::Bytes;
use sip_proto::{Method, Request, Uri, name};

/// What a dialog's requests say about it.
#[derive(Debug)]
pub(super) struct Parts {
    /// The Request-URI: the client's Contact.
    pub target: Uri,
    /// The Via value up to the end of its branch, which each request completes with its
    /// CSeq number.
    pub via_stem: String,
    /// Our From: the URI the client invited, with our tag.
    pub from: String,
    /// The client's From header, verbatim (sipe's carries `epid`).
    pub to: String,
    pub call_id: String,
    pub contact: String,
}

/// A dialog's requests: its parts, and its INFO rendered but for CSeq, branch and body.
#[derive(Debug)]
pub(super) struct DialogTemplate {
    parts: Parts,
    info: String,
    /// Where the CSeq number goes: the end of the branch, and the CSeq header's value.
    branch_end: usize,
    cseq_at: usize,
}

impl DialogTemplate {
    pub fn new(parts: Parts) -> DialogTemplate {
        let mut info = format!(
            "{} {} SIP/2.0\r\n{}: {}",
            Method::Info,
            parts.target,
            name::VIA,
            parts.via_stem
        );
        let branch_end = info.len();
        // Writing to a String cannot fail.
        let _ = write!(
            info,
            "\r\n{}: 70\r\n{}: {}\r\n{}: {}\r\n{}: {}\r\n{}: ",
            name::MAX_FORWARDS,
            name::FROM,
            parts.from,
            name::TO,
            parts.to,
            name::CALL_ID,
            parts.call_id,
            name::CSEQ,
        );
        let cseq_at = info.len();
        let _ = write!(
            info,
            " {}\r\n{}: {}\r\n{}: text/plain\r\n{}: ",
            Method::Info,
            name::CONTACT,
            parts.contact,
            name::CONTENT_TYPE,
            name::CONTENT_LENGTH,
        );
        DialogTemplate {
            parts,
            info,
            branch_end,
            cseq_at,
        }
    }

    /// The request of the dialog with this method and CSeq, whole.
    pub fn request(&self, method: Method, cseq: u32) -> Request {
        let parts = &self.parts;
        let mut req = Request::new(method.clone(), parts.target.clone());
        req.headers
            .push(name::VIA, format!("{}{cseq}", parts.via_stem));
        req.headers.push(name::MAX_FORWARDS, "70");
        req.headers.push(name::FROM, parts.from.as_str());
        req.headers.push(name::TO, parts.to.as_str());
        req.headers.push(name::CALL_ID, parts.call_id.as_str());
        req.headers.push(name::CSEQ, format!("{cseq} {method}"));
        req.headers.push(name::CONTACT, parts.contact.as_str());
        req
    }

    /// The INFO with this CSeq, carrying `body`, whole.
    pub fn info(&self, cseq: u32, body: &Bytes) -> Request {
        let mut info = self.request(Method::Info, cseq);
        info.headers.push(name::CONTENT_TYPE, "text/plain");
        info.body = body.clone();
        info
    }

    /// The size of the INFO with this CSeq and a body of `body` bytes, as rendered.
    pub fn info_len(&self, cseq: u32, body: usize) -> usize {
        let cseq = decimal_len(cseq as usize);
        self.info.len() + 2 * cseq + decimal_len(body) + "\r\n\r\n".len() + body
    }

    /// Appends the INFO with this CSeq and body to `out`: the bytes of [`Self::info`].
    pub fn render_info(&self, out: &mut Vec<u8>, cseq: u32, body: &[u8]) {
        let info = self.info.as_bytes();
        out.extend_from_slice(&info[..self.branch_end]);
        write_decimal(out, cseq as usize);
        out.extend_from_slice(&info[self.branch_end..self.cseq_at]);
        write_decimal(out, cseq as usize);
        out.extend_from_slice(&info[self.cseq_at..]);
        write_decimal(out, body.len());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
    }
}

fn decimal_len(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// `n` in decimal, without the formatting machinery: it costs more than the few digits of
/// a CSeq or a length, once per member of every delivery.
fn write_decimal(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Header values as peers send them: printable, spaces and UTF-8 inside, no line break.
    fn value() -> impl Strategy<Value = String> {
        "[!-~]([ -~\u{e9}\u{4e00}-\u{4e10}]{0,40}[!-~])?"
    }

    fn parts() -> impl Strategy<Value = Parts> {
        let target = prop_oneof![
            Just("sip:alice@192.0.2.10:50123;transport=tls".to_owned()),
            Just("sip:bob@[2001:db8::9]:5061;transport=tls;ms-opaque=d3470f2e1d".to_owned()),
            "sip:[a-z0-9]{1,12}@[a-z0-9]{1,12}\\.example\\.com(:[1-9][0-9]{0,3})?",
        ];
        let via_stem = (
            "(TLS|TCP)",
            any::<[u8; 4]>(),
            any::<u16>(),
            1u64..,
            "[0-9a-f]{8}",
        )
            .prop_map(|(transport, ip, port, session, nonce)| {
                let ip = std::net::Ipv4Addr::from(ip);
                format!("SIP/2.0/{transport} {ip}:{port};branch=z9hG4bK.{session}.{nonce}.")
            });
        (target, via_stem, value(), value(), "[!-~]{1,40}", value()).prop_map(
            |(target, via_stem, to, from, call_id, contact)| Parts {
                target: Uri::parse(&target).expect("a SIP URI"),
                via_stem,
                from: format!("<{from}>;tag=0a1b2c3d4e"),
                to,
                call_id,
                contact,
            },
        )
    }

    #[test]
    fn decimals_are_written_as_format_writes_them() {
        for n in [0, 7, 9, 10, 99, 100, 65_535, u32::MAX as usize, usize::MAX] {
            let mut out = b"x".to_vec();
            write_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
            assert_eq!(decimal_len(n), n.to_string().len());
        }
    }

    proptest! {
        #[test]
        fn an_info_renders_as_the_serialiser_writes_it(
            parts in parts(),
            cseq in 1u32..(1 << 31),
            body in "[ -~\u{e9}]{0,300}",
        ) {
            let template = DialogTemplate::new(parts);
            let body = Bytes::from(body);
            let serialised = template.info(cseq, &body).to_bytes();
            let mut rendered = b"already queued".to_vec();
            template.render_info(&mut rendered, cseq, &body);
            prop_assert_eq!(&rendered[b"already queued".len()..], &serialised[..]);
            prop_assert_eq!(template.info_len(cseq, body.len()), serialised.len());
        }
    }

    #[test]
    fn a_request_carries_the_dialog_and_its_cseq_ends_the_branch() {
        let template = DialogTemplate::new(Parts {
            target: Uri::parse("sip:alice@192.0.2.10:50123;transport=tls").unwrap(),
            via_stem: "SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK.7.0a1b2c3d.".into(),
            from: "<sip:chat@example.com>;tag=s".into(),
            to: "<sip:alice@example.com>;tag=c;epid=e".into(),
            call_id: "c1".into(),
            contact: "<sip:chat@example.com>".into(),
        });
        let mut rendered = Vec::new();
        template.render_info(&mut rendered, 10, b"<xccos/>");
        assert_eq!(
            String::from_utf8(rendered).unwrap(),
            "INFO sip:alice@192.0.2.10:50123;transport=tls SIP/2.0\r\n\
             Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK.7.0a1b2c3d.10\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:chat@example.com>;tag=s\r\n\
             To: <sip:alice@example.com>;tag=c;epid=e\r\n\
             Call-ID: c1\r\n\
             CSeq: 10 INFO\r\n\
             Contact: <sip:chat@example.com>\r\n\
             Content-Type: text/plain\r\n\
             Content-Length: 8\r\n\r\n<xccos/>"
        );
        let bye = template.request(Method::Bye, 11).to_bytes();
        let bye = String::from_utf8(bye).unwrap();
        assert!(bye.starts_with("BYE sip:alice@192.0.2.10:50123;transport=tls SIP/2.0\r\n"));
        assert!(
            bye.contains(";branch=z9hG4bK.7.0a1b2c3d.11\r\n")
                && bye.contains("\r\nCSeq: 11 BYE\r\n")
        );
    }
}
