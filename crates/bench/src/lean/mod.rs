//! Lean members: room members that do only what a client must, so that the load generator
//! costs far less per delivery than the server it measures. Each is one raw TLS (or TCP)
//! connection in one task on the bench's few runtime threads (tokio's workers, one per
//! core): it signs in and joins with the fewest messages the server accepts ([`setup`]),
//! then, for each message that arrives, cuts it out of the stream by its Content-Length,
//! answers a request `200 OK` with its transaction headers copied, and reads a delivery's
//! body only as far as the time stamp the bench wrote into the text
//! ([`crate::measure::Stamp::find`]). Everything one read brought in is answered with one
//! write. No SIP decoding, no XCCOS parsing, no channel or task per delivery; only the
//! replies to commands (the join storm's, the pool's rejoins) are decoded, and only while
//! one is awaited. Nothing is waited for without end: the setup tells how far it is
//! ([`progress`]), and each member's sign-in and each post or command has a time by which
//! it fails, saying what did not come. The full client library stays available as
//! `--member-mode full`.

mod conn;
mod progress;
mod setup;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use xccos::CommandKind;

pub use conn::Conn;
pub use setup::{Dialog, chanid, register, sign_in};

use crate::Env;
use crate::delivery::{Place, Shared, Tally};
use crate::error::BenchError;
use crate::measure::Stamp;
use crate::messages::relay_info;
use crate::posters::Poster;
use crate::wire::{self, Dialer};
use progress::{Progress, Step};

/// Members signing in (and joining) at the same time.
pub const SIGNING_IN_AT_ONCE: usize = 64;
/// How long one member may take to sign in and join: every join sends a roster notice to
/// the members already in the room (up to the participant update limit), so the joins of
/// a large room queue behind each other.
const JOIN_WAIT: Duration = Duration::from_secs(300);
/// How long a post or command may wait for its SIP answer and reply. Far beyond any seen in
/// a run that ended (a second or two under the pool's design load); past it the ask fails
/// naming what never came, where it used to hold its scenario for ever.
const ASK_WAIT: Duration = Duration::from_secs(60);

/// How the members of a scenario are driven.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Members {
    /// Raw connections that register, join, and answer each delivery (this module).
    #[default]
    Lean,
    /// One client of the client library per member (TLS, SIP and XCCOS decoding, a
    /// session task): what a real client costs.
    Full,
}

impl Members {
    pub fn describe(self) -> &'static str {
        match self {
            Members::Lean => "lean (raw connections)",
            Members::Full => "full (client library)",
        }
    }
}

/// What a member's task is asked to do.
enum Ask {
    /// Post `text` into `room` (through the relay, where there is one room only: `None`).
    Post { room: Option<String>, text: String },
    /// Send a command in the member's chat session.
    Command(Box<CommandKind>),
}

/// An ask, and where to say how it ended.
type Order = (Ask, oneshot::Sender<Result<(), BenchError>>);

/// Asks one lean member to post or send commands; each is done when the server answered
/// it (a command: its SIP answer and its reply), or through the relay, which answers
/// nothing, when it was written.
pub struct LeanPoster {
    asks: mpsc::UnboundedSender<Order>,
    /// Where [`Poster::post`] posts: the member's only room.
    room: Option<String>,
}

impl LeanPoster {
    async fn ask(&self, ask: Ask) -> Result<(), BenchError> {
        let gone = || BenchError::Failed("a member's connection closed".into());
        let (done, answered) = oneshot::channel();
        self.asks.send((ask, done)).map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }

    pub async fn post_to(&self, room: &str, text: String) -> Result<(), BenchError> {
        let room = Some(room.to_owned());
        self.ask(Ask::Post { room, text }).await
    }

    pub async fn command(&self, kind: CommandKind) -> Result<(), BenchError> {
        self.ask(Ask::Command(Box::new(kind))).await
    }
}

impl Poster for LeanPoster {
    async fn post(&self, text: String) -> Result<(), BenchError> {
        let room = self.room.clone();
        self.ask(Ask::Post { room, text }).await
    }
}

/// What a member speaks through.
enum Voice {
    /// The baseline relay: the INFO the server would deliver, sent as it is to everyone.
    Relay,
    /// Its chat session with the server.
    Session(Box<Dialog>),
}

/// A member of the baseline relay's room (connected, nothing to sign in to): the poster
/// for it when it posts (`own`), and its task, which hands back its tally once stopped.
pub fn relay_member(
    conn: Conn,
    own: Option<u32>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> (Option<LeanPoster>, JoinHandle<Tally>) {
    let (poster, asks) = poster_for(own, None);
    let voice = own.map(|_| Voice::Relay);
    let task = tokio::spawn(listen(conn, voice, own, None, shared, stop, asks));
    (poster, task)
}

fn poster_for(
    own: Option<u32>,
    room: Option<String>,
) -> (Option<LeanPoster>, Option<mpsc::UnboundedReceiver<Order>>) {
    match own {
        Some(_) => {
            let (asks, rx) = mpsc::unbounded_channel();
            (Some(LeanPoster { asks, room }), Some(rx))
        }
        None => (None, None),
    }
}

/// Answers whatever the server sends until `stop` (or until the connection ends): a
/// member with nothing more to do must still answer, or the server ends its session.
pub async fn answer_until(conn: Conn, stop: watch::Receiver<bool>) {
    let (shared, _) = crate::delivery::shared(0);
    listen(conn, None, None, None, shared, stop, None).await;
}

/// An ask written and not yet done: what it is, its INFO's CSeq number, for a command the
/// `seqid` its reply will carry, and when it fails unless done.
struct Pending {
    what: String,
    cseq: u32,
    answered: bool,
    reply: Option<u64>,
    replied: bool,
    by: Instant,
    done: oneshot::Sender<Result<(), BenchError>>,
}

impl Pending {
    fn new(
        what: String,
        cseq: u32,
        reply: Option<u64>,
        done: oneshot::Sender<Result<(), BenchError>>,
    ) -> Self {
        Pending {
            what,
            cseq,
            answered: false,
            reply,
            replied: false,
            by: Instant::now() + ASK_WAIT,
            done,
        }
    }

    fn complete(&self) -> bool {
        self.answered && (self.reply.is_none() || self.replied)
    }

    /// What it still waits for.
    fn missing(&self) -> String {
        match self.reply {
            Some(seqid) if self.answered => format!("its reply (seqid {seqid})"),
            Some(seqid) => format!(
                "its SIP answer (CSeq {}) and reply (seqid {seqid})",
                self.cseq
            ),
            None => format!("its SIP answer (CSeq {})", self.cseq),
        }
    }
}

/// Ends the pending ask at `i` with `outcome` once it failed or is complete.
fn settle(pending: &mut Vec<Pending>, i: usize, outcome: Result<(), BenchError>) {
    if outcome.is_err() || pending[i].complete() {
        let _ = pending.swap_remove(i).done.send(outcome);
    }
}

/// Fails the asks that are not done by their time, naming what never came.
fn expire(pending: &mut Vec<Pending>, now: Instant) {
    let mut i = 0;
    while i < pending.len() {
        if pending[i].by <= now {
            let late = pending.swap_remove(i);
            let why = format!(
                "{}: {} did not come within {ASK_WAIT:?}",
                late.what,
                late.missing()
            );
            let _ = late.done.send(Err(BenchError::Failed(why)));
        } else {
            i += 1;
        }
    }
}

/// Answers, records, and (with a voice) does what it is asked until `stop` (or until the
/// connection ends). `place` is the member's node in a pool.
async fn listen(
    mut conn: Conn,
    mut voice: Option<Voice>,
    own: Option<u32>,
    place: Option<Place>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    mut asks: Option<mpsc::UnboundedReceiver<Order>>,
) -> Tally {
    let mut tally = Tally::at(place);
    let mut out = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    loop {
        let taken = conn.take(&mut out, |m| match m {
            // A reply is told from a delivery before any stamp is looked for: the reply to
            // a history request carries the room's posts, stamps and all, and they are
            // neither deliveries nor to be passed over while that reply is awaited.
            conn::Incoming::Request { body } if setup::is_reply(body) => {
                // Only while a command waits is a reply decoded.
                if pending.iter().any(|p| p.reply.is_some()) {
                    for reply in setup::replies(body) {
                        let waiting = pending.iter().position(|p| p.reply == Some(reply.seqid));
                        if let Some(i) = waiting {
                            pending[i].replied = true;
                            settle(&mut pending, i, setup::succeeded(&reply));
                        }
                    }
                }
            }
            conn::Incoming::Request { body } => {
                if let Some(stamp) = Stamp::find(body) {
                    tally.record(stamp, own, &shared);
                }
            }
            conn::Incoming::Response { head, .. } => {
                let cseq = wire::cseq(head);
                if let Some(i) = pending.iter().position(|p| Some(p.cseq) == cseq) {
                    pending[i].answered = true;
                    let outcome = match wire::status(head) {
                        Some(200..=299) => Ok(()),
                        status => Err(BenchError::Failed(format!(
                            "the server answered {status:?}"
                        ))),
                    };
                    settle(&mut pending, i, outcome);
                }
            }
        });
        if let Err(e) = taken {
            tracing::warn!(error = %e, "a member could not read what the server sent");
            break;
        }
        if !out.is_empty() {
            if let Err(e) = conn.send(&out).await {
                tracing::warn!(error = %e, "a member's connection failed");
                break;
            }
            out.clear();
        }
        let next_ask = async {
            match asks.as_mut() {
                Some(a) => a.recv().await,
                None => std::future::pending().await,
            }
        };
        let due = pending.iter().map(|p| p.by).min();
        let overdue = async move {
            match due {
                Some(by) => tokio::time::sleep_until(by.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = conn.read() => match read {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "a member's connection failed");
                    break;
                }
            },
            Some((ask, done)) = next_ask => match (ask, &mut voice) {
                (Ask::Post { text, .. }, Some(Voice::Relay)) => {
                    out.extend_from_slice(&relay_info(&text));
                    let _ = done.send(Ok(()));
                }
                (Ask::Post { room: Some(room), text }, Some(Voice::Session(dialog))) => {
                    let what = format!("{}: a post to {room}", dialog.account());
                    let cseq = dialog.post(&mut out, &room, &text);
                    pending.push(Pending::new(what, cseq, None, done));
                }
                (Ask::Command(kind), Some(Voice::Session(dialog))) => {
                    let what = format!("{}: {}", dialog.account(), kind.id());
                    let (cseq, seqid) = dialog.send_command(&mut out, *kind);
                    pending.push(Pending::new(what, cseq, Some(seqid), done));
                }
                _ => {
                    let cannot = "a member was asked what it cannot do";
                    let _ = done.send(Err(BenchError::Failed(cannot.into())));
                }
            },
            () = overdue => expire(&mut pending, Instant::now()),
            _ = stop.changed() => break,
        }
    }
    tally
}

/// Lean members of rooms on the server (one room, or a pool's many): each signed in,
/// joined to its rooms, and listening.
pub struct LeanRoom {
    /// How long signing in and joining took.
    pub setup: Duration,
    pub posters: Vec<Arc<LeanPoster>>,
    pub receivers: Vec<JoinHandle<Tally>>,
    pub stop: watch::Sender<bool>,
}

impl LeanRoom {
    /// Signs in `accounts` (the `i`-th from the `i`-th loopback source address) at the
    /// `i mod len`-th of `nodes` (one server, or a pool's nodes), joins the `i`-th to the
    /// rooms `rooms(i)` names, and starts listening; the first `posters` of them post
    /// (into their room, when they have exactly one). Says how far it is every
    /// [`progress::EVERY`] meanwhile.
    pub async fn join(
        env: &Env,
        dialer: &Dialer,
        nodes: &[SocketAddr],
        accounts: &[String],
        rooms: impl Fn(usize) -> Vec<String>,
        posters: usize,
        shared: &Arc<Shared>,
    ) -> Result<LeanRoom, BenchError> {
        if nodes.is_empty() {
            return Err(BenchError::Failed("no server to sign in to".into()));
        }
        let started = Instant::now();
        let permits = Arc::new(Semaphore::new(SIGNING_IN_AT_ONCE));
        let (stop, stopped) = watch::channel(false);
        let (ready, mut readies) = mpsc::unbounded_channel();
        let progress = Arc::new(Progress::default());
        let mut receivers = Vec::with_capacity(accounts.len());
        let mut handles = Vec::new();
        for (i, account) in accounts.iter().enumerate() {
            let own = (i < posters).then(|| u32::try_from(i).unwrap_or(u32::MAX));
            let rooms = rooms(i);
            let only = match rooms.as_slice() {
                [one] => Some(one.clone()),
                _ => None,
            };
            let (poster, asks) = poster_for(own, only);
            handles.extend(poster.map(Arc::new));
            let from = wire::source(i, env.sources);
            let to = nodes[i % nodes.len()];
            let place = (nodes.len() > 1).then(|| Place::of(i, nodes.len()));
            let (dialer, account) = (dialer.clone(), account.clone());
            let (permits, ready, shared, stopped, progress) = (
                permits.clone(),
                ready.clone(),
                shared.clone(),
                stopped.clone(),
                progress.clone(),
            );
            receivers.push(tokio::spawn(async move {
                let permit = permits.acquire_owned().await;
                let mut at = progress.enter(Step::SigningIn);
                let joining = async {
                    let (mut conn, mut dialog) = sign_in(&dialer, from, to, &account).await?;
                    at.to(Step::Joining);
                    dialog.join_all(&mut conn, &rooms).await?;
                    Ok::<_, BenchError>((conn, dialog))
                };
                let joined = tokio::time::timeout(JOIN_WAIT, joining).await;
                let joined = joined.unwrap_or_else(|_| {
                    Err(BenchError::Failed(format!(
                        "{account} did not join within {JOIN_WAIT:?}: {}",
                        at.step().waits_for()
                    )))
                });
                drop((at, permit));
                match joined {
                    Ok((conn, dialog)) => {
                        let _ = ready.send(Ok(()));
                        let voice = Voice::Session(Box::new(dialog));
                        listen(conn, Some(voice), own, place, shared, stopped, asks).await
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        Tally::default()
                    }
                }
            }));
        }
        let mut tell =
            tokio::time::interval_at((started + progress::EVERY).into(), progress::EVERY);
        let mut joined = 0;
        while joined < accounts.len() {
            let ready = tokio::select! {
                ready = readies.recv() => ready,
                _ = tell.tick() => {
                    progress.report(joined, accounts.len(), started.elapsed());
                    continue;
                }
            };
            let ready =
                ready.unwrap_or_else(|| Err(BenchError::Failed("a member's task ended".into())));
            if let Err(e) = ready {
                let _ = stop.send(true);
                return Err(e);
            }
            joined += 1;
        }
        Ok(LeanRoom {
            setup: started.elapsed(),
            posters: handles,
            receivers,
            stop,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::now_ns;
    use crate::target::Target;
    use crate::{BenchOptions, population};
    use xccos::Bcq;

    fn env() -> Env {
        Env::new(&BenchOptions {
            tcp: false,
            json: None,
            in_process: true,
            sources: 2,
            work_dir: None,
            lifetime_secs: 60,
            member_mode: Members::Lean,
        })
    }

    /// The pool's rejoin (part, join, the newest message of history) in a room where a
    /// stamped post was made: the history reply carries that post's stamp. It used to be
    /// taken for a delivery, so the reply was never seen and the rejoin waited for ever
    /// (issue 18: the pool design load at factor 0.15 and 0.2375 never ended).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rejoin_whose_history_holds_a_stamped_post_completes_and_counts_no_delivery() {
        let env = env();
        let dir = env.scratch("lean-rejoin").unwrap();
        let store = population::open_store(&dir).await.unwrap();
        let accounts = population::add_users(&store, "rejoiner", 2).await.unwrap();
        let (_, room) = population::add_room(&store, "Rejoin").await.unwrap();
        drop(store);
        let target = Target::start(&dir, true, env.lifetime).await.unwrap();
        let dialer = Dialer::new(Some(&target.cert_path())).unwrap();
        let (shared, _) = crate::delivery::shared(0);
        let members = LeanRoom::join(
            &env,
            &dialer,
            &[target.sip_addr(false)],
            &accounts,
            |_| vec![room.clone()],
            accounts.len(),
            &shared,
        )
        .await
        .expect("both members join");
        let stamp = Stamp {
            phase: 0,
            poster: 0,
            seq: 0,
            sent_ns: now_ns(),
        };
        members.posters[0]
            .post_to(&room, stamp.text(100))
            .await
            .expect("the post is answered");
        let delivered = async {
            while shared.delivered_all() < 2 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), delivered)
            .await
            .expect("both members have the post");

        let rejoiner = &members.posters[1];
        let rejoin = async {
            let channel_uri = room.clone();
            rejoiner.command(CommandKind::Part { channel_uri }).await?;
            rejoiner
                .command(CommandKind::Join(chanid(0, &room)?))
                .await?;
            let (channel_uri, query) = (room.clone(), Bcq::Last { cnt: 1 });
            rejoiner
                .command(CommandKind::BcContext { channel_uri, query })
                .await
        };
        tokio::time::timeout(Duration::from_secs(20), rejoin)
            .await
            .expect("the history reply ends the rejoin")
            .expect("the rejoin succeeds");

        let gathered = crate::delivery::gather(members.receivers, members.stop)
            .await
            .unwrap();
        assert_eq!(
            gathered.all().0.count(),
            2,
            "the post reached both members once; its copy in the history is no delivery"
        );
        assert_eq!(shared.delivered_all(), 2);
        target.stop().await;
        env.remove(&dir);
    }

    #[test]
    fn replies_are_told_from_deliveries_and_notices_without_decoding() {
        let reply = br#"<xccos ver="1" envid="7" xmlns="urn:parlano:xml:ns:xccos"><rpl id="rpl:bccontext" seqid="3"><chat>bench 0 1 2 3</chat></rpl></xccos>"#;
        assert!(setup::is_reply(reply));
        let delivery = br#"<xccos ver="1" envid="8" xmlns="urn:parlano:xml:ns:xccos"><grpchat id="grpchat" seqid="1"><chat>bench 0 1 2 3 &lt;rpl</chat></grpchat></xccos>"#;
        assert!(!setup::is_reply(delivery));
        let notice = br#"<xccos ver="1" envid="9" xmlns="urn:parlano:xml:ns:xccos"><ntc id="ntc:join"/></xccos>"#;
        assert!(!setup::is_reply(notice));
        assert!(!setup::is_reply(b""));
        assert!(!setup::is_reply(b"<xccos ver=\"1\""));
    }

    #[tokio::test]
    async fn an_ask_not_done_in_time_fails_naming_what_never_came() {
        let (done, failed) = oneshot::channel();
        let (waits, waiting) = oneshot::channel();
        let mut answered = Pending::new("alice: cmd:bccontext".into(), 4, Some(9), done);
        answered.answered = true;
        let unanswered = Pending::new("alice: a post".into(), 5, None, waits);
        let mut pending = vec![answered, unanswered];
        pending[0].by = Instant::now() - Duration::from_secs(1);
        expire(&mut pending, Instant::now());
        assert_eq!(pending.len(), 1, "the ask still in time stays");
        let why = failed.await.unwrap().unwrap_err().to_string();
        assert!(
            why.contains("alice: cmd:bccontext: its reply (seqid 9) did not come"),
            "{why}"
        );
        let by = pending[0].by;
        expire(&mut pending, by);
        let why = waiting.await.unwrap().unwrap_err().to_string();
        assert!(
            why.contains("its SIP answer (CSeq 5) did not come"),
            "{why}"
        );
        assert!(pending.is_empty());
    }
}
