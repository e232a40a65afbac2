//! What a lean member says before it only listens: REGISTER (benchmark accounts sign in
//! from loopback without a challenge, see `target::bench_config`), an INVITE to the chat
//! pool URI, its ACK, and one `cmd:join` (or `cmd:bjoin`). No provisioning SUBSCRIBE, no
//! lookup stage, no history: the server allows each of these to be skipped
//! (docs/protocol.md, "One service, two URIs"), as Lync 2013 does. Also the commands a
//! member sends later (the join storm's, the pool's rejoins) and how their replies are
//! found: only these messages are decoded.

use std::net::{IpAddr, SocketAddr};

use xccos::{ChanId, Command, CommandKind, Envelope, Message, Reply, ReplyData};

use super::conn::{Conn, Incoming};
use crate::error::BenchError;
use crate::target::DOMAIN;
use crate::wire::{self, Dialer};

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

/// Connects from `from` to `to`, registers `account` and opens its chat session.
pub async fn sign_in(
    dialer: &Dialer,
    from: IpAddr,
    to: SocketAddr,
    account: &str,
) -> Result<(Conn, Dialog), BenchError> {
    let mut conn = Conn::open(dialer, from, to).await?;
    register(&mut conn, account).await?;
    let dialog = Dialog::open(&mut conn, account).await?;
    Ok((conn, dialog))
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
    expect_ok(&head, &format!("REGISTER of {account}"))
}

fn expect_ok(head: &[u8], what: &str) -> Result<(), BenchError> {
    match wire::status(head) {
        Some(200..=299) => Ok(()),
        status => Err(BenchError::Failed(format!("{what}: answered {status:?}"))),
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
            "v=0\r\no=- 0 0 IN IP4 {ip}\r\ns=session\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=message {port} sip null\r\n",
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
        expect_ok(&head, &format!("INVITE of {account}"))?;
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

    /// The account whose session this is.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Joins `rooms` (`cmd:join` for one, `cmd:bjoin` for more, as the client library
    /// does) and waits for the reply; a room refused is an error.
    pub async fn join_all(&mut self, conn: &mut Conn, rooms: &[String]) -> Result<(), BenchError> {
        match rooms {
            [] => Ok(()),
            [one] => {
                let chanid = chanid(0, one)?;
                self.command(conn, CommandKind::Join(chanid)).await?;
                Ok(())
            }
            many => self.bjoin(conn, many).await,
        }
    }

    /// Joins `rooms` with one `cmd:bjoin` and waits for the reply; a room refused is an
    /// error.
    pub async fn bjoin(&mut self, conn: &mut Conn, rooms: &[String]) -> Result<(), BenchError> {
        let chanids = rooms
            .iter()
            .enumerate()
            .map(|(key, room)| chanid(u32::try_from(key).unwrap_or(u32::MAX), room))
            .collect::<Result<Vec<_>, _>>()?;
        match self.command(conn, CommandKind::BJoin(chanids)).await?.data {
            ReplyData::BJoin(data) if data.fibs.is_empty() && data.chanibs.len() == rooms.len() => {
                Ok(())
            }
            _ => Err(BenchError::Failed(format!(
                "{}: a bjoin did not join every room",
                self.account
            ))),
        }
    }

    /// Appends the INFO of a command; returns its CSeq number and the `seqid` its reply
    /// will carry.
    pub fn send_command(&mut self, out: &mut Vec<u8>, kind: CommandKind) -> (u32, u64) {
        self.envid += 1;
        let seqid = self.envid;
        let body = Envelope::new(self.envid, Command { seqid, kind }).to_xml();
        (self.info(out, &body), seqid)
    }

    /// Sends a command and waits for its SIP answer and its reply (the reply with its
    /// `seqid`); an answer other than 200, or a reply with a `resp` other than 200, is an
    /// error. Requests that come meanwhile are answered.
    pub async fn command(
        &mut self,
        conn: &mut Conn,
        kind: CommandKind,
    ) -> Result<Reply, BenchError> {
        let what = format!("{}: {}", self.account, kind.id());
        let mut info = Vec::new();
        let (cseq, seqid) = self.send_command(&mut info, kind);
        conn.send(&info).await?;
        let (mut answered, mut reply) = (false, None);
        let reply = conn
            .until(&what, |m| {
                match m {
                    Incoming::Response { head, .. } if wire::cseq(head) == Some(cseq) => {
                        answered = true;
                        if let Err(e) = expect_ok(head, &what) {
                            return Some(Err(e));
                        }
                    }
                    Incoming::Request { body } if reply.is_none() && is_reply(body) => {
                        reply = replies(body).into_iter().find(|r| r.seqid == seqid);
                    }
                    Incoming::Request { .. } | Incoming::Response { .. } => {}
                }
                if answered { reply.take().map(Ok) } else { None }
            })
            .await??;
        succeeded(&reply).map_err(|e| BenchError::Failed(format!("{what}: {e}")))?;
        Ok(reply)
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
        let body = crate::messages::grpchat(self.envid, room, &author, text, None);
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

/// The `chanid` of a room URI, `key` its place in a batch.
pub fn chanid(key: u32, room: &str) -> Result<ChanId, BenchError> {
    ChanId::from_uri(key, room).ok_or_else(|| BenchError::Failed(format!("{room} is no room URI")))
}

/// Whether `body` is a reply (`<xccos …><rpl …>`), judged by the start of its first message
/// and not decoded: the server sends each reply in an envelope of its own, and a delivery
/// or a notice starts otherwise (`<grpchat`, `<ntc`).
pub fn is_reply(body: &[u8]) -> bool {
    let Some(root) = memchr::memmem::find(body, b"<xccos") else {
        return false;
    };
    let Some(end) = memchr::memchr(b'>', &body[root..]) else {
        return false;
    };
    body[root + end + 1..]
        .trim_ascii_start()
        .starts_with(b"<rpl")
}

/// The replies `body` holds (none when it holds anything else).
pub fn replies(body: &[u8]) -> Vec<Reply> {
    let Ok(envelope) = Envelope::parse(body, &xccos::Limits::default()) else {
        return Vec::new();
    };
    envelope
        .messages
        .into_iter()
        .filter_map(|m| match m {
            Message::Reply(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// A reply's `resp`: 200, or an error naming the code.
pub fn succeeded(reply: &Reply) -> Result<(), BenchError> {
    match reply.resp.code {
        200 => Ok(()),
        code => Err(BenchError::Failed(format!(
            "replied {code} {}",
            reply.resp.text
        ))),
    }
}
