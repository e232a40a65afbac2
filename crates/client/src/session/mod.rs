//! The session task: owns the protocol state of one client across connections. It signs
//! in, serves the handles' calls one at a time, answers the server's requests, turns what
//! the server pushes into [`Event`]s, refreshes the session and the registration, and
//! reconnects when the connection is lost.
//!
//! Everything that waits for the server does so through [`Session::pump`], which keeps
//! handling whatever else arrives meanwhile (server INFOs are answered at once, notices
//! and messages become events), so sequential code never stalls the connection.

mod liveness;
mod ops;
mod restore;
mod rooms;
mod signin;

use std::collections::HashMap;
use std::time::Duration;

use sip_proto::{Message, Method, Request, Response, name};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use xccos::{CommandKind, Envelope, Notice, Reply};

use self::liveness::{Check, Liveness};
pub(crate) use self::ops::{Call, Op};
use self::rooms::Rooms;
use crate::config::{ClientConfig, Identity, Transport};
use crate::envelopes::Envelopes;
use crate::error::ClientError;
use crate::events::Event;
use crate::link::{Link, LinkEvent};
use crate::servers::{Candidate, Servers};
use crate::sip::dialog::Dialog;
use crate::sip::local::Local;
use crate::sip::register::Registration;
use crate::sip::transactions::Transactions;
use crate::types::{ChatLine, Invitation, Member};

/// How often timers (session refresh, re-registration) are checked.
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// How long a BYE may take when the client closes.
const GOODBYE: Duration = Duration::from_secs(2);

pub(crate) struct Session {
    config: ClientConfig,
    servers: Servers,
    /// The server of the last connection: the one a reconnect tries last.
    current: Option<Candidate>,
    identity: Identity,
    epid: String,
    instance: String,
    ops: mpsc::Receiver<Op>,
    events: mpsc::UnboundedSender<Event>,
    rooms: Rooms,
    envelopes: Envelopes,
    /// The first invitation id not yet reported.
    next_invitation: u64,
}

/// Which chat dialog a command travels in.
#[derive(Debug, Clone, Copy)]
enum Which {
    Lookup,
    Channel,
}

/// What was set up over one connection.
#[derive(Debug)]
pub(crate) struct Connected {
    link: Link,
    local: Local,
    liveness: Liveness,
    registration: Registration,
    renew_at: Instant,
    lookup: Option<Dialog>,
    channel: Option<Dialog>,
    /// The session timer: the lookup answer's, or the channel answer's when it has one.
    session_expires: Option<Duration>,
    refresh_at: Option<Instant>,
    transactions: Transactions<oneshot::Sender<Response>>,
    /// Commands waiting for their `rpl`, by the envelope id the reply echoes.
    replies: HashMap<u64, oneshot::Sender<Reply>>,
}

impl Connected {
    fn new(link: Link, local: Local, liveness: Liveness) -> Connected {
        Connected {
            link,
            local,
            liveness,
            registration: Registration::new(),
            renew_at: Instant::now(),
            lookup: None,
            channel: None,
            session_expires: None,
            refresh_at: None,
            transactions: Transactions::default(),
            replies: HashMap::new(),
        }
    }

    /// The next request in a chat dialog.
    fn in_dialog(
        &mut self,
        which: Which,
        method: Method,
        body: Option<String>,
    ) -> Result<Request, ClientError> {
        let Connected {
            local,
            lookup,
            channel,
            ..
        } = self;
        let dialog = match which {
            Which::Lookup => lookup.as_mut(),
            Which::Channel => channel.as_mut(),
        };
        let dialog =
            dialog.ok_or_else(|| ClientError::Disconnected("no chat session is open".into()))?;
        Ok(dialog.request(local, method, body))
    }

    /// Re-arms the session timer: every Session-Expires − 10 s (half of short timers).
    fn schedule_refresh(&mut self) {
        self.refresh_at = self.session_expires.map(|se| {
            let every = if se > Duration::from_secs(20) {
                se - Duration::from_secs(10)
            } else {
                se / 2
            };
            Instant::now() + every
        });
    }

    /// Answers a request from the server.
    fn answer(&self, req: &Request, status: u16) {
        let mut resp = Response::for_request(req, status);
        if resp.to().is_some_and(|t| t.tag().is_none()) {
            resp = resp.with_to_tag(&crate::sip::random_hex(5));
        }
        if status == 405 {
            resp.headers
                .push(name::ALLOW, "INFO, BYE, ACK, OPTIONS, NOTIFY");
        }
        self.link.send(resp.to_bytes());
    }
}

/// Why serving a connection stopped.
enum Ending {
    Closed,
    Lost(ClientError),
}

impl Session {
    pub fn new(
        config: ClientConfig,
        ops: mpsc::Receiver<Op>,
        events: mpsc::UnboundedSender<Event>,
    ) -> Result<Session, ClientError> {
        let identity = Identity::parse(&config.user)?;
        let default_port = match config.transport {
            Transport::Tls(_) => 5061,
            Transport::Tcp => 5060,
        };
        let servers = Servers::parse(&config.servers, default_port)?;
        Ok(Session {
            config,
            servers,
            current: None,
            identity,
            epid: crate::sip::random_hex(5),
            instance: crate::sip::instance_id(),
            ops,
            events,
            rooms: Rooms::default(),
            envelopes: Envelopes::new(),
            next_invitation: 1,
        })
    }

    /// The account's address of record, `sip:user@domain`.
    pub fn aor(&self) -> &str {
        &self.identity.aor
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Serves connections until the client is closed or gives up.
    pub async fn run(mut self, mut conn: Connected) {
        loop {
            let ending = self.serve(&mut conn).await;
            drop(conn);
            match ending {
                Ending::Closed => return,
                Ending::Lost(error) => {
                    tracing::info!(%error, "connection lost");
                    self.emit(Event::Disconnected {
                        reason: error.to_string(),
                    });
                    conn = match self.reconnect().await {
                        Some(c) => c,
                        None => return,
                    };
                }
            }
        }
    }

    async fn serve(&mut self, conn: &mut Connected) -> Ending {
        let mut tick = tokio::time::interval(HOUSEKEEPING);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let step = tokio::select! {
                biased;
                event = conn.link.next() => self.on_link_event(conn, event),
                _ = tick.tick() => self.housekeeping(conn).await,
                op = self.ops.recv() => match op {
                    Some(Op::Call(call)) => self.perform(conn, call).await,
                    Some(Op::Close(done)) => {
                        self.goodbye(conn).await;
                        let _ = done.send(());
                        return Ending::Closed;
                    }
                    None => {
                        self.goodbye(conn).await;
                        return Ending::Closed;
                    }
                },
            };
            if let Err(error) = step {
                return Ending::Lost(error);
            }
        }
    }

    async fn housekeeping(&mut self, conn: &mut Connected) -> Result<(), ClientError> {
        let now = Instant::now();
        match conn.liveness.check(now) {
            Check::Fine => {}
            Check::Ping => {
                let ping = crate::sip::ping::options(&conn.local)
                    .map_err(|e| ClientError::Config(e.to_string()))?;
                conn.link.send(ping.to_bytes());
            }
            Check::Dead => {
                return Err(ClientError::Disconnected(
                    "the server stopped answering (a keep-alive OPTIONS got no answer)".into(),
                ));
            }
        }
        if conn.refresh_at.is_some_and(|at| now >= at) {
            let update = conn.in_dialog(Which::Channel, Method::Update, None)?;
            let answer = self.transact(conn, update).await?;
            if answer.status == 481 {
                return Err(ClientError::Disconnected("the chat session expired".into()));
            }
            // Any other answer re-arms the timer, as sipe does (docs/protocol.md, "The client").
            conn.schedule_refresh();
        }
        if now >= conn.renew_at {
            self.register(conn).await?;
        }
        Ok(())
    }

    async fn goodbye(&mut self, conn: &mut Connected) {
        if let Ok(bye) = conn.in_dialog(Which::Channel, Method::Bye, None) {
            let _ = tokio::time::timeout(GOODBYE, self.transact(conn, bye)).await;
        }
    }

    /// Waits for `rx` while handling everything else the connection brings.
    async fn pump<T>(
        &mut self,
        conn: &mut Connected,
        rx: &mut oneshot::Receiver<T>,
    ) -> Result<T, ClientError> {
        let deadline = Instant::now() + self.config.request_timeout;
        loop {
            tokio::select! {
                biased;
                answer = &mut *rx => return answer.map_err(|_| ClientError::Disconnected("the request was abandoned".into())),
                event = conn.link.next() => self.on_link_event(conn, event)?,
                () = tokio::time::sleep_until(deadline) => return Err(ClientError::Timeout),
            }
        }
    }

    /// Sends a request and waits for its final answer.
    async fn transact(
        &mut self,
        conn: &mut Connected,
        req: Request,
    ) -> Result<Response, ClientError> {
        let (tx, mut rx) = oneshot::channel();
        conn.transactions.start(&req, tx);
        conn.link.send(req.to_bytes());
        let answer = self.pump(conn, &mut rx).await;
        if answer.is_err() {
            conn.transactions.abandon(&req);
        }
        answer
    }

    /// Sends a command in an INFO and waits for its `rpl` (SIP 200 first, then the reply in
    /// a server INFO of its own).
    async fn command(
        &mut self,
        conn: &mut Connected,
        which: Which,
        kind: CommandKind,
    ) -> Result<Reply, ClientError> {
        let (envid, body) = self.envelopes.command(kind);
        let info = conn.in_dialog(which, Method::Info, Some(body))?;
        let (tx, mut rx) = oneshot::channel();
        conn.replies.insert(envid, tx);
        let answer = match self.transact(conn, info).await {
            Ok(answer) => answer,
            Err(e) => {
                conn.replies.remove(&envid);
                return Err(e);
            }
        };
        if let Some(error) = info_refusal(&answer) {
            conn.replies.remove(&envid);
            return Err(error);
        }
        let reply = self.pump(conn, &mut rx).await;
        if reply.is_err() {
            conn.replies.remove(&envid);
        }
        reply
    }

    fn on_link_event(&mut self, conn: &mut Connected, event: LinkEvent) -> Result<(), ClientError> {
        match event {
            LinkEvent::Closed(reason) => Err(ClientError::Disconnected(reason)),
            LinkEvent::Message(message) => {
                conn.liveness.heard(Instant::now());
                self.on_message(conn, message)
            }
        }
    }

    fn on_message(&mut self, conn: &mut Connected, message: Message) -> Result<(), ClientError> {
        match message {
            Message::Response(resp) => {
                if let Some(waiter) = conn.transactions.finish(&resp) {
                    let _ = waiter.send(resp);
                }
                Ok(())
            }
            Message::Request(req) => self.on_request(conn, req),
        }
    }

    fn on_request(&mut self, conn: &mut Connected, req: Request) -> Result<(), ClientError> {
        let in_channel = conn.channel.as_ref().is_some_and(|d| d.owns(&req));
        let in_lookup = conn.lookup.as_ref().is_some_and(|d| d.owns(&req));
        let status = match req.method {
            Method::Ack => return Ok(()),
            Method::Info | Method::Bye if in_channel || in_lookup => 200,
            // sipe's answer to a dialog it no longer uses: the server drops that dialog.
            Method::Info | Method::Bye => 481,
            Method::Options | Method::Notify => 200,
            _ => 405,
        };
        conn.answer(&req, status);
        match req.method {
            Method::Info if status == 200 => {
                self.on_body(conn, &req.body);
                Ok(())
            }
            Method::Bye if in_channel => Err(ClientError::Disconnected(
                "the chat service ended the session".into(),
            )),
            Method::Bye if in_lookup => {
                conn.lookup = None;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn on_body(&mut self, conn: &mut Connected, body: &[u8]) {
        let envelope = match Envelope::parse(body, &xccos::Limits::default()) {
            Ok(e) => e,
            Err(error) => {
                tracing::debug!(%error, "unreadable XCCOS from the server skipped");
                return;
            }
        };
        for message in envelope.messages {
            match message {
                xccos::Message::Reply(reply) => {
                    if let Some(waiter) = reply.command.and_then(|c| conn.replies.remove(&c.envid))
                    {
                        let _ = waiter.send(reply);
                    }
                }
                xccos::Message::GrpChat(chat) => {
                    if let Some(line) = self
                        .rooms
                        .live(ChatLine::from_message(&chat.message, false))
                    {
                        self.emit(Event::Message(line));
                    }
                }
                xccos::Message::Notice(notice) => self.on_notice(notice),
                xccos::Message::Command(_) => {}
            }
        }
    }

    fn on_notice(&self, notice: Notice) {
        match notice {
            Notice::Join(uibs) | Notice::BJoin(uibs) => {
                for uib in uibs {
                    for aib in &uib.aibs {
                        if let Some(room) = aib.room_uri() {
                            let member = Member {
                                uri: uib.uri.clone(),
                                manager: aib.key == xccos::AIB_KEY_MANAGER,
                            };
                            self.emit(Event::MemberJoined { room, member });
                        }
                    }
                }
            }
            Notice::Part(chanibs) => {
                for chanib in chanibs {
                    for uib in chanib.uibs {
                        self.emit(Event::MemberLeft {
                            room: chanib.uri.clone(),
                            user: uib.uri,
                        });
                    }
                }
            }
            Notice::ChanUpd(chanibs) => {
                for chanib in chanibs {
                    self.emit(Event::RoomChanged {
                        room: chanib.uri,
                        name: chanib.name,
                        topic: chanib.topic,
                    });
                }
            }
            Notice::Inv(invs) => {
                for invitation in invs.iter().filter_map(Invitation::from_inv) {
                    self.emit(Event::Invited(invitation));
                }
            }
            Notice::Unknown { id } => tracing::debug!(id, "unknown notice skipped"),
        }
    }
}

/// The error a non-2xx answer to an INFO carrying a command means.
fn info_refusal(answer: &Response) -> Option<ClientError> {
    match answer.status {
        200..=299 => None,
        481 => Some(ClientError::Disconnected(
            "the chat session has ended".into(),
        )),
        status => Some(ClientError::Refused {
            command: "INFO".into(),
            code: status,
            text: answer.reason.clone(),
        }),
    }
}
