//! What a lean member says before it only listens: REGISTER (benchmark accounts sign in
//! from loopback without a challenge, see `target::bench_config`), an INVITE to the chat
//! pool URI, its ACK, and one `cmd:join`. No provisioning SUBSCRIBE, no lookup stage, no
//! history: the server allows each of these to be skipped (docs/protocol.md, "One service,
//! two URIs"), as Lync 2013 does.

use xccos::{ChanId, Command, CommandKind, Envelope, Message, ReplyData};

use super::conn::{Conn, Incoming};
use crate::error::BenchError;
use crate::target::DOMAIN;
use crate::wire;

/// What in-dialog requests of a chat session carry; the server's half comes from its 200.
#[derive(Debug)]
pub struct Dialog {
    account: String,
    /// `SIP/2.0/TLS 127.0.0.5:41234`: our transport and address, as Via names them.
    via: String,
    call_id: String,
    from_tag: String,
    /// The server's To header, tag included, as its 200 wrote it.
    to: String,
    /// The Request-URI: the server's Contact.
    target: String,
    /// Record-Route reversed, as Route lines (none when the server routes nothing).
    route: String,
    cseq: u32,
    envid: u64,
}

/// The account's user part: what names its Call-IDs and tags.
fn user(account: &str) -> &str {
    account.split('@').next().unwrap_or(account)
}

/// Registers `account` over `conn`; anything but a 200 is an error.
pub async fn register(conn: &mut Conn, account: &str) -> Result<(), BenchError> {
    let user = user(account);
    let (transport, local) = (conn.transport, conn.local);
    let request = format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK{user}r1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{account}>;tag={user}t\r\n\
         To: <sip:{account}>\r\n\
         Call-ID: {user}-register\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:{user}@{local};transport={}>\r\n\
         Expires: 3600\r\n\
         Content-Length: 0\r\n\r\n",
        transport.to_ascii_lowercase()
    );
    let (head, _) = conn.transact(request.as_bytes(), 1, "registering").await?;
    expect_ok(&head, account, "REGISTER")
}

fn expect_ok(head: &[u8], account: &str, what: &str) -> Result<(), BenchError> {
    match wire::status(head) {
        Some(200..=299) => Ok(()),
        status => Err(BenchError::Failed(format!(
            "{what} of {account} answered {status:?}"
        ))),
    }
}

impl Dialog {
    /// INVITEs the chat pool URI over a registered `conn` and ACKs the 200: a chat session.
    pub async fn open(conn: &mut Conn, account: &str) -> Result<Dialog, BenchError> {
        let user = user(account);
        let (transport, local) = (conn.transport, conn.local);
        let pool = format!("sip:ocschat@{DOMAIN}");
        let (call_id, from_tag) = (format!("{user}-chat"), format!("{user}c"));
        let sdp = format!(
            "v=0\r\no=- 0 0 IN IP4 {ip}\r\ns=session\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=message {port} sip null\r\n",
            ip = local.ip(),
            port = local.port()
        );
        let invite = format!(
            "INVITE {pool} SIP/2.0\r\n\
             Via: SIP/2.0/{transport} {local};branch=z9hG4bK{user}i1\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{account}>;tag={from_tag}\r\n\
             To: <{pool}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:{user}@{local};transport={}>\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{sdp}",
            transport.to_ascii_lowercase(),
            sdp.len()
        );
        let (head, _) = conn
            .transact(invite.as_bytes(), 1, "opening a chat session")
            .await?;
        expect_ok(&head, account, "INVITE")?;
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let to = wire::header(&head, "to", "t")
            .map(text)
            .ok_or_else(|| BenchError::Failed("the INVITE's 200 has no To".into()))?;
        let target = wire::header(&head, "contact", "m")
            .map(|c| text(c).trim_matches(['<', '>']).to_owned())
            .unwrap_or_else(|| pool.clone());
        let mut routes: Vec<String> = wire::headers(&head, "record-route").map(text).collect();
        routes.reverse();
        let route = routes.iter().map(|r| format!("Route: {r}\r\n")).collect();
        let dialog = Dialog {
            account: account.to_owned(),
            via: format!("SIP/2.0/{transport} {local}"),
            call_id,
            from_tag,
            to,
            target,
            route,
            cseq: 1,
            envid: 1,
        };
        // RFC 3261 §13.2.2.4: the ACK of a 2xx has the INVITE's CSeq number.
        let mut ack = Vec::new();
        dialog.write(&mut ack, "ACK", 1, None);
        conn.send(&ack).await?;
        Ok(dialog)
    }

    /// Joins `room` and waits for the reply; a refusal is an error.
    pub async fn join(&mut self, conn: &mut Conn, room: &str) -> Result<(), BenchError> {
        let chanid = ChanId::from_uri(0, room)
            .ok_or_else(|| BenchError::Failed(format!("{room} is no room URI")))?;
        self.envid += 1;
        let body = Envelope::new(
            self.envid,
            Command {
                seqid: 1,
                kind: CommandKind::Join(chanid),
            },
        )
        .to_xml();
        let mut info = Vec::new();
        let cseq = self.info(&mut info, &body);
        conn.send(&info).await?;
        let account = self.account.clone();
        // The 200 to the INFO, then the reply in an INFO of the server's (answered by `until`).
        let (mut answered, mut joined) = (false, None);
        conn.until("joining", |m| {
            match m {
                Incoming::Response { head, .. } if wire::cseq(head) == Some(cseq) => {
                    answered = true;
                    if let Err(e) = expect_ok(head, &account, "cmd:join") {
                        return Some(Err(e));
                    }
                }
                Incoming::Request { body } => {
                    if let Some(code) = join_reply(body) {
                        joined = Some(code);
                    }
                }
                Incoming::Response { .. } => {}
            }
            match (answered, joined) {
                (true, Some(200)) => Some(Ok(())),
                (true, Some(code)) => Some(Err(BenchError::Failed(format!(
                    "{account} could not join {room}: {code}"
                )))),
                _ => None,
            }
        })
        .await?
    }

    /// Appends an INFO carrying `body` in this dialog; returns its CSeq number.
    pub fn info(&mut self, out: &mut Vec<u8>, body: &str) -> u32 {
        self.cseq += 1;
        self.write(out, "INFO", self.cseq, Some(body));
        self.cseq
    }

    /// Appends a post of `text` to `room`, shaped as a client's `grpchat`; returns its
    /// CSeq number.
    pub fn post(&mut self, out: &mut Vec<u8>, room: &str, text: &str) -> u32 {
        self.envid += 1;
        let author = format!("sip:{}", self.account);
        let body = crate::fanout::grpchat(self.envid, room, &author, text, None);
        self.info(out, &body)
    }

    fn write(&self, out: &mut Vec<u8>, method: &str, cseq: u32, body: Option<&str>) {
        use std::fmt::Write as _;
        let mut head = String::with_capacity(512);
        let _ = write!(
            head,
            "{method} {target} SIP/2.0\r\n\
             Via: {via};branch=z9hG4bK{call_id}{cseq}{method}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{account}>;tag={tag}\r\n\
             To: {to}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n{route}",
            target = self.target,
            via = self.via,
            call_id = self.call_id,
            account = self.account,
            tag = self.from_tag,
            to = self.to,
            route = self.route,
        );
        match body {
            Some(b) => {
                let _ = write!(
                    head,
                    "Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                );
                out.extend_from_slice(head.as_bytes());
                out.extend_from_slice(b.as_bytes());
            }
            None => {
                head.push_str("Content-Length: 0\r\n\r\n");
                out.extend_from_slice(head.as_bytes());
            }
        }
    }
}

/// The `resp` code of a `rpl:join` in `body`, if that is what it holds.
fn join_reply(body: &[u8]) -> Option<u16> {
    let envelope = Envelope::parse(body, &xccos::Limits::default()).ok()?;
    envelope.messages.into_iter().find_map(|m| match m {
        Message::Reply(r) if matches!(r.data, ReplyData::Join(_)) => Some(r.resp.code),
        _ => None,
    })
}
