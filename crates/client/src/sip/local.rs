//! Who we are on one connection: the account, the endpoint id, and the addresses that
//! every request we write carries.

use std::net::SocketAddr;

use sip_proto::{Method, Request, Uri, name};

use crate::config::Identity;

const USER_AGENT: &str = concat!("parlance-client/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone)]
pub(crate) struct Local {
    pub identity: Identity,
    /// Endpoint id (`epid` on From, as sipe sends it): the same for the client's lifetime.
    pub epid: String,
    /// `+sip.instance`: a reconnecting client replaces its old registration binding.
    pub instance: String,
    transport: &'static str,
    addr: SocketAddr,
}

impl Local {
    pub fn new(
        identity: Identity,
        epid: String,
        instance: String,
        transport: &'static str,
        addr: SocketAddr,
    ) -> Local {
        Local {
            identity,
            epid,
            instance,
            transport,
            addr,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Our From header with `tag`.
    pub fn from(&self, tag: &str) -> String {
        format!("<{}>;tag={tag};epid={}", self.identity.aor, self.epid)
    }

    /// Where the server reaches us: over this very connection, so the address is only a label.
    pub fn contact(&self) -> String {
        format!(
            "<sip:{}@{};transport={}>",
            self.identity.user,
            self.addr,
            self.transport.to_ascii_lowercase()
        )
    }

    /// A request with the headers every request needs; `to` is the whole To value.
    pub fn request(
        &self,
        method: Method,
        uri: Uri,
        from_tag: &str,
        to: &str,
        call_id: &str,
        cseq: u32,
    ) -> Request {
        let mut req = Request::new(method.clone(), uri);
        let h = &mut req.headers;
        h.push(
            name::VIA,
            format!(
                "SIP/2.0/{} {};branch={}",
                self.transport,
                self.addr,
                super::branch()
            ),
        );
        h.push(name::MAX_FORWARDS, "70");
        h.push(name::FROM, self.from(from_tag));
        h.push(name::TO, to);
        h.push(name::CALL_ID, call_id);
        h.push(name::CSEQ, format!("{cseq} {method}"));
        h.push(name::CONTACT, self.contact());
        h.push(name::USER_AGENT, USER_AGENT);
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_the_transaction_headers() {
        let id = Identity::parse("alice@example.test").unwrap();
        let local = Local::new(
            id,
            "e1".into(),
            "<urn:uuid:1>".into(),
            "TLS",
            "127.0.0.1:4000".parse().unwrap(),
        );
        let uri = Uri::parse("sip:example.test").unwrap();
        let req = local.request(
            Method::Register,
            uri,
            "t1",
            "<sip:alice@example.test>",
            "c1",
            7,
        );
        let text = String::from_utf8(req.to_bytes()).unwrap();
        assert!(text.starts_with("REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:4000;branch=z9hG4bK"), "{text}");
        assert!(text.contains("\r\nFrom: <sip:alice@example.test>;tag=t1;epid=e1\r\n"));
        assert!(text.contains("\r\nCSeq: 7 REGISTER\r\n"));
        assert!(text.contains("\r\nContact: <sip:alice@127.0.0.1:4000;transport=tls>\r\n"));
        let parsed = sip_proto::parse(
            &req.to_bytes()[..text.find("\r\n\r\n").unwrap()],
            bytes::Bytes::new(),
            sip_proto::HeadLimits {
                max_request_line: 4096,
                max_headers: 64,
            },
        );
        assert!(parsed.is_ok(), "our own request parses: {parsed:?}");
    }
}
