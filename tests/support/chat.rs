//! A raw chat client for tests: the exact SIP and XCCOS exchange pidgin-sipe performs
//! (docs/protocol.md, "Persistent chat service"), written by hand so that tests see every byte the server sends.

use std::collections::VecDeque;

use sip_proto::{Message, Method, Request, Response};
use xccos::{Envelope, Message as Xccos};

use crate::{DOMAIN, SipConn, TestServer};

/// A user signed in to the channel service over one connection.
pub struct ChatClient {
    pub conn: SipConn,
    pub user: String,
    pub call_id: String,
    /// The client's dialog tag and the server's: with the Call-ID, what identifies the
    /// dialog on the wire.
    pub tag: String,
    pub server_tag: String,
    /// The URI the client invited: every server INFO must come From it.
    pub channel_uri: String,
    cseq: u32,
    envid: u64,
    /// Server envelopes read while waiting for something else.
    inbox: VecDeque<Envelope>,
}

impl std::fmt::Debug for ChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatClient")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl ChatClient {
    /// Registers `user` and goes through lookup to the channel server, as sipe does.
    pub async fn connect(server: &TestServer, user: &str, password: &str) -> ChatClient {
        let mut conn = server.tcp().await;
        assert_eq!(conn.register(user, password).await.status, 200);
        let mut lookup =
            ChatClient::invite(conn, user, &format!("sip:ocschat@{DOMAIN}"), "lookup").await;
        lookup.send_body("<xccos ver=\"1\" envid=\"1\" xmlns=\"urn:parlano:xml:ns:xccos\"><cmd id=\"cmd:requri\" seqid=\"1\"><data/></cmd></xccos>").await;
        let reply = lookup.next_envelope().await;
        let channel = match &reply.messages[..] {
            [Xccos::Reply(r)] => match &r.data {
                xccos::ReplyData::ReqUri(Some(uib)) => uib.uri.clone(),
                other => panic!("rpl:requri without uib: {other:?}"),
            },
            other => panic!("expected rpl:requri, got {other:?}"),
        };
        lookup.bye().await;
        ChatClient::invite(lookup.conn, user, &channel, "channel").await
    }

    /// INVITEs `uri` straight away on a connection that has registered, as Lync 2013 does
    /// with the provisioned pool URI (no `cmd:requri`).
    pub async fn direct(conn: SipConn, user: &str, uri: &str) -> ChatClient {
        ChatClient::invite(conn, user, uri, "direct").await
    }

    /// A new INVITE (no To tag) with the dialog's Call-ID and tag, as a client that starts
    /// over sends it: the server replaces the dialog.
    pub async fn reinvite(self) -> ChatClient {
        ChatClient::invite(self.conn, &self.user, &self.channel_uri, "channel").await
    }

    async fn invite(mut conn: SipConn, user: &str, uri: &str, what: &str) -> ChatClient {
        let call_id = format!("{what}-{user}-{}", conn.local.port());
        let tag = format!("t{user}");
        // Like sipe: in-dialog requests without a branch, lower-case transport.
        let invite = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/tcp {local}\r\nFrom: <sip:{user}@{DOMAIN}>;tag={tag};epid=e{user}\r\n\
             To: <{uri}>\r\nMax-Forwards: 70\r\nCSeq: 1 INVITE\r\nCall-ID: {call_id}\r\nSupported: ms-sender\r\n\
             Contact: <sip:{user}@{DOMAIN}:{port};maddr={ip};transport=tcp>;proxy=replace\r\nContent-Type: application/sdp\r\n\
             Content-Length: 4\r\n\r\nv=0\n",
            local = conn.local,
            port = conn.local.port(),
            ip = conn.local.ip(),
        );
        conn.send(invite).await;
        let ok = conn.recv_response().await;
        assert_eq!(ok.status, 200, "INVITE {uri}: {ok:?}");
        assert!(
            ok.headers.get("Session-Expires").is_some(),
            "sipe refreshes only with Session-Expires"
        );
        assert_eq!(
            ok.to().unwrap().uri.to_string(),
            uri,
            "the To URI must be the invited one"
        );
        assert!(!ok.contacts().is_empty());
        let server_tag = ok.to().unwrap().tag().unwrap().to_owned();
        let mut client = ChatClient {
            conn,
            user: user.to_owned(),
            call_id,
            tag,
            server_tag,
            channel_uri: uri.to_owned(),
            cseq: 1,
            envid: 1000,
            inbox: VecDeque::new(),
        };
        let ack = client.in_dialog("ACK", "", 1);
        client.conn.send(ack).await;
        client
    }

    /// An in-dialog request as sipe writes it (no Via branch).
    fn in_dialog(&mut self, method: &str, body: &str, cseq: u32) -> String {
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/tcp {local}\r\nFrom: <sip:{user}@{DOMAIN}>;tag={tag};epid=e{user}\r\n\
             To: <{uri}>;tag={server_tag}\r\nMax-Forwards: 70\r\nCSeq: {cseq} {method}\r\nCall-ID: {call_id}\r\n\
             Content-Type: text/plain\r\nContent-Length: {len}\r\n\r\n{body}",
            uri = self.channel_uri,
            local = self.conn.local,
            user = self.user,
            tag = self.tag,
            server_tag = self.server_tag,
            call_id = self.call_id,
            len = body.len(),
        )
    }

    /// The next in-dialog request, as bytes to send when the test reads what comes back
    /// itself.
    pub fn next_request(&mut self, method: &str, body: &str) -> String {
        self.cseq += 1;
        self.in_dialog(method, body, self.cseq)
    }

    /// Sends a body in an INFO and returns the SIP answer to it. Server INFOs that arrive
    /// meanwhile are answered and kept.
    pub async fn send_body(&mut self, body: &str) -> Response {
        let info = self.next_request("INFO", body);
        self.conn.send(info).await;
        self.response_to(self.cseq).await
    }

    async fn response_to(&mut self, cseq: u32) -> Response {
        loop {
            match self.conn.recv().await {
                Message::Response(r)
                    if r.cseq().is_some_and(|c| c.seq == cseq) && r.call_id() == self.call_id =>
                {
                    return r;
                }
                Message::Response(r) => panic!("unexpected response {} {}", r.status, r.reason),
                Message::Request(req) => self.take_server_request(req).await,
            }
        }
    }

    async fn take_server_request(&mut self, req: Request) {
        assert_eq!(
            req.method,
            Method::Info,
            "unexpected {} from the server",
            req.method
        );
        assert_eq!(req.call_id(), self.call_id, "server INFO in the dialog");
        assert_eq!(
            req.from().unwrap().uri.to_string(),
            self.channel_uri,
            "From is exactly the invited URI"
        );
        assert_eq!(req.from().unwrap().tag(), Some(self.server_tag.as_str()));
        assert_eq!(
            req.to().unwrap().params.value("epid"),
            Some(format!("e{}", self.user).as_str()),
            "sipe's epid is echoed"
        );
        self.conn
            .send(Response::for_request(&req, 200).to_bytes())
            .await;
        let envelope =
            Envelope::parse(&req.body, &xccos::Limits::default()).expect("server XCCOS parses");
        self.inbox.push_back(envelope);
    }

    /// The next XCCOS envelope the server sends.
    pub async fn next_envelope(&mut self) -> Envelope {
        if let Some(e) = self.inbox.pop_front() {
            return e;
        }
        let req = self.conn.recv_request().await;
        self.take_server_request(req).await;
        self.inbox.pop_front().expect("just received")
    }

    /// Sends a command and returns its reply, matched by the `envid` its `commandid` echoes
    /// (notices, and replies pushed without a command, that arrive first stay queued).
    pub async fn command(&mut self, xml: &str) -> xccos::Reply {
        self.envid += 1;
        let body = format!(
            "<xccos ver=\"1\" envid=\"{}\" xmlns=\"urn:parlano:xml:ns:xccos\">{xml}</xccos>",
            self.envid
        );
        let resp = self.send_body(&body).await;
        assert_eq!(
            resp.status, 200,
            "INFO carrying a command is answered 200 first"
        );
        let mut skipped = VecDeque::new();
        let reply = loop {
            let e = self.next_envelope().await;
            match e.messages.first() {
                Some(Xccos::Reply(r)) if r.command.is_some_and(|c| c.envid == self.envid) => {
                    break r.clone();
                }
                _ => skipped.push_back(e),
            }
        };
        skipped.extend(self.inbox.drain(..));
        self.inbox = skipped;
        reply
    }

    /// Posts a chat line; returns the SIP status of the INFO.
    pub async fn post(&mut self, room_uri: &str, text: &str) -> u16 {
        self.envid += 1;
        let body = format!(
            "<xccos ver=\"1\" envid=\"{}\" xmlns=\"urn:parlano:xml:ns:xccos\"><grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"{room_uri}\" \
             author=\"sip:{}@{DOMAIN}\" ts=\"2024-01-01T10:00:00Z\"><chat>{}</chat></grpchat></xccos>",
            self.envid,
            self.user,
            xml_escape(text)
        );
        self.send_body(&body).await.status
    }

    /// The next chat message delivered (notices before it are skipped).
    pub async fn next_chat(&mut self) -> xccos::ChatMessage {
        loop {
            let e = self.next_envelope().await;
            if let Some(Xccos::GrpChat(g)) = e.messages.first() {
                return g.message.clone();
            }
        }
    }

    /// Server envelopes received while waiting for something else, not yet taken.
    pub fn take_inbox(&mut self) -> Vec<Envelope> {
        self.inbox.drain(..).collect()
    }

    /// The next notice.
    pub async fn next_notice(&mut self) -> xccos::Notice {
        loop {
            let e = self.next_envelope().await;
            if let Some(Xccos::Notice(n)) = e.messages.first() {
                return n.clone();
            }
        }
    }

    pub async fn join(&mut self, room_uri: &str) -> xccos::Reply {
        let chanid = xccos::ChanId::from_uri(0, room_uri).expect("ma-chan URI");
        self.command(&format!(
            "<cmd id=\"cmd:join\" seqid=\"1\"><data><chanid key=\"0\" domain=\"{}\" value=\"{}\"/></data></cmd>",
            chanid.domain, chanid.value
        ))
        .await
    }

    pub async fn history(&mut self, room_uri: &str, query: &str) -> Vec<xccos::ChatMessage> {
        let reply = self
            .command(&format!("<cmd id=\"cmd:bccontext\" seqid=\"1\"><data><chanib uri=\"{room_uri}\"/><bcq>{query}</bcq></data></cmd>"))
            .await;
        assert!(reply.resp.is_success(), "history: {:?}", reply.resp);
        match reply.data {
            xccos::ReplyData::BcContext(chanibs) => {
                chanibs.into_iter().flat_map(|c| c.msgs).collect()
            }
            other => panic!("not a history reply: {other:?}"),
        }
    }

    /// `cmd:getfutok` (`upload`) or `cmd:getfdtok` for `file_url` in the room: the token, or
    /// the refusal's code.
    pub async fn file_token(
        &mut self,
        upload: bool,
        room_uri: &str,
        file_url: &str,
    ) -> Result<xccos::Token, u16> {
        let command = if upload {
            "cmd:getfutok"
        } else {
            "cmd:getfdtok"
        };
        let reply = self
            .command(&format!(
                "<cmd id=\"{command}\" seqid=\"1\"><data><ftdb channelUri=\"{room_uri}\" fileUrl=\"{}\"/></data></cmd>",
                xml_escape(file_url).replace('"', "&quot;")
            ))
            .await;
        match reply.data {
            xccos::ReplyData::GetFTok(Some(token)) if reply.resp.is_success() => Ok(token),
            xccos::ReplyData::GetFTok(None) => Err(reply.resp.code),
            other => panic!("not rpl:getftok: {other:?}"),
        }
    }

    pub async fn bye(&mut self) {
        let bye = self.next_request("BYE", "");
        self.conn.send(bye).await;
        assert_eq!(self.response_to(self.cseq).await.status, 200);
    }

    /// An in-dialog request of any method; returns the answer.
    pub async fn request(&mut self, method: &str) -> Response {
        let req = self.next_request(method, "");
        self.conn.send(req).await;
        self.response_to(self.cseq).await
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
