//! A dialog with the chat service (lookup or channel), opened by our INVITE: the Call-ID,
//! both tags, where in-dialog requests go, our CSeq, and the session timer the server set.

use std::time::Duration;

use bytes::Bytes;
use sip_proto::{Method, Request, Response, Uri, UriError, name};

use super::local::Local;

#[derive(Debug)]
pub(crate) struct Dialog {
    call_id: String,
    local_tag: String,
    /// The URI we invited: the To of our requests, the From of the server's.
    remote_uri: String,
    remote_tag: String,
    /// The Request-URI of in-dialog requests: the server's Contact.
    target: Uri,
    /// Record-Route, reversed (RFC 3261 §12.1.2); empty when the server routes nothing.
    route: Vec<String>,
    cseq: u32,
    invite_cseq: u32,
    /// `Session-Expires` of the answer: refresh before it runs out.
    pub session_expires: Option<Duration>,
}

impl Dialog {
    /// The INVITE that opens a chat session with `uri`, shaped as sipe's (docs/protocol.md, "The client").
    pub fn invite(local: &Local, uri: &str) -> Result<Request, UriError> {
        let target = Uri::parse(uri)?;
        let mut req = local.request(
            Method::Invite,
            target,
            &super::random_hex(5),
            &format!("<{uri}>"),
            &super::random_hex(12),
            1,
        );
        req.headers.push(name::SUPPORTED, "ms-sender");
        req.headers.push(name::CONTENT_TYPE, "application/sdp");
        let ip = local.addr().ip();
        let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
        req.body = Bytes::from(format!(
            "v=0\r\no=- 0 0 IN {family} {ip}\r\ns=session\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=message {} sip null\r\na=accept-types:text/plain\r\n",
            local.addr().port()
        ));
        Ok(req)
    }

    /// The dialog a `2xx` to `invite` establishes.
    pub fn established(invite: &Request, ok: &Response) -> Result<Dialog, String> {
        let local_tag = invite
            .from()
            .and_then(|f| f.tag().map(str::to_owned))
            .ok_or("our INVITE has no From-tag")?;
        let remote_tag = ok
            .to()
            .and_then(|t| t.tag().map(str::to_owned))
            .ok_or("the answer to INVITE has no To-tag")?;
        let target = ok
            .contacts()
            .into_iter()
            .next()
            .map_or_else(|| invite.uri.clone(), |c| c.uri);
        let mut route: Vec<String> = ok
            .headers
            .get_list(name::RECORD_ROUTE)
            .map(str::to_owned)
            .collect();
        route.reverse();
        let session_expires = ok
            .headers
            .get(name::SESSION_EXPIRES)
            .and_then(|v| v.split(';').next()?.trim().parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map(Duration::from_secs);
        let invite_cseq = invite.cseq().map_or(1, |c| c.seq);
        Ok(Dialog {
            call_id: invite.call_id().to_owned(),
            local_tag,
            remote_uri: invite.uri.to_string(),
            remote_tag,
            target,
            route,
            cseq: invite_cseq,
            invite_cseq,
            session_expires,
        })
    }

    /// The ACK for the 2xx (RFC 3261 §13.2.2.4: the INVITE's CSeq number, a new branch).
    pub fn ack(&self, local: &Local) -> Request {
        self.build(local, Method::Ack, self.invite_cseq)
    }

    /// The next in-dialog request, with `body` as `text/plain` when given (XCCOS rides so).
    pub fn request(&mut self, local: &Local, method: Method, body: Option<String>) -> Request {
        self.cseq += 1;
        let mut req = self.build(local, method, self.cseq);
        if let Some(body) = body {
            req.headers.push(name::CONTENT_TYPE, "text/plain");
            req.body = Bytes::from(body);
        }
        req
    }

    fn build(&self, local: &Local, method: Method, cseq: u32) -> Request {
        let to = format!("<{}>;tag={}", self.remote_uri, self.remote_tag);
        let mut req = local.request(
            method,
            self.target.clone(),
            &self.local_tag,
            &to,
            &self.call_id,
            cseq,
        );
        for r in &self.route {
            req.headers.push(name::ROUTE, r.clone());
        }
        req
    }

    /// Whether a request from the server belongs to this dialog.
    pub fn owns(&self, req: &Request) -> bool {
        req.call_id() == self.call_id
            && req
                .from()
                .is_some_and(|f| f.tag() == Some(self.remote_tag.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Identity;

    fn local() -> Local {
        Local::new(
            Identity::parse("alice@example.test").unwrap(),
            "e".into(),
            "<urn:uuid:u>".into(),
            "TLS",
            "127.0.0.1:4000".parse().unwrap(),
        )
    }

    #[test]
    fn in_dialog_requests_follow_the_answer() {
        let local = local();
        let invite = Dialog::invite(&local, "sip:chatsrv@example.test").unwrap();
        assert_eq!(
            invite.headers.get(name::TO),
            Some("<sip:chatsrv@example.test>")
        );
        assert!(
            std::str::from_utf8(&invite.body)
                .unwrap()
                .contains("m=message 4000 sip null")
        );
        let mut ok = Response::for_request(&invite, 200).with_to_tag("srv");
        ok.headers.push(name::CONTACT, "<sip:chatsrv@example.test>");
        ok.headers.push(name::SESSION_EXPIRES, "1800;refresher=uac");
        ok.headers
            .push(name::RECORD_ROUTE, "<sip:p1;lr>, <sip:p2;lr>");
        let mut d = Dialog::established(&invite, &ok).unwrap();
        assert_eq!(d.session_expires, Some(Duration::from_secs(1800)));
        let ack = d.ack(&local);
        assert_eq!(ack.cseq().unwrap().to_string(), "1 ACK");
        let info = d.request(&local, Method::Info, Some("<xccos/>".into()));
        assert_eq!(info.cseq().unwrap().to_string(), "2 INFO");
        assert_eq!(
            info.headers.get(name::TO),
            Some("<sip:chatsrv@example.test>;tag=srv")
        );
        assert_eq!(
            info.headers.get_all(name::ROUTE).collect::<Vec<_>>(),
            ["<sip:p2;lr>", "<sip:p1;lr>"]
        );
        assert_eq!(info.headers.get(name::CONTENT_TYPE), Some("text/plain"));
        assert_eq!(
            d.request(&local, Method::Update, None).cseq().unwrap().seq,
            3
        );

        let mut from_server = Request::new(
            Method::Info,
            Uri::parse("sip:alice@127.0.0.1:4000").unwrap(),
        );
        from_server.headers.push(name::CALL_ID, invite.call_id());
        from_server
            .headers
            .push(name::FROM, "<sip:chatsrv@example.test>;tag=srv");
        assert!(d.owns(&from_server));
        from_server
            .headers
            .set(name::FROM, "<sip:chatsrv@example.test>;tag=other");
        assert!(!d.owns(&from_server));
    }

    #[test]
    fn an_answer_without_a_tag_makes_no_dialog() {
        let local = local();
        let invite = Dialog::invite(&local, "sip:ocschat@example.test").unwrap();
        assert!(Dialog::established(&invite, &Response::for_request(&invite, 200)).is_err());
        assert!(Dialog::invite(&local, "not a uri").is_err());
    }
}
