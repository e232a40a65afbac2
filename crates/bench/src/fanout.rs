//! Fan-out: one room, M members, posts at a fixed rate (latency) and then as fast as a few
//! closed-loop posters go (throughput); the same through the baseline relay. Latency is
//! post → delivery at every member, the poster's send time carried in the text.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use parlance_client::{Client, Event, Events};
use serde::Serialize;
use serde_json::json;
use sip_proto::{Decoder, Item, Limits, Message, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use xccos::{ChatMessage, Envelope, GrpChat};

use crate::Env;
use crate::deployment::System;
use crate::error::BenchError;
use crate::lean::{self, Conn, LeanRoom, Members};
use crate::measure::{
    EngineCpu, Latencies, Latency, ProcSample, RelayLatency, Sample, Stamp, micros_since, now_ns,
    per,
};
use crate::population;
use crate::relay;
use crate::report::{Row, Section, TargetCheck, settings};
use crate::target::{DOMAIN, Target};
use crate::wire::Dialer;

/// Phases a room's receivers tell apart. In fan-out, phase 0 posts at the set rate and
/// phase 1 as fast as the closed-loop posters go; the files scenario paces both.
const PHASES: usize = 2;
/// How long deliveries may trail the last post before the rest count as lost.
const DRAIN: Duration = Duration::from_secs(10);
/// How long a closed-loop poster waits for its own message to come back.
const ECHO_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, clap::Args)]
pub struct FanoutArgs {
    /// Members of the room (posters included).
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Posts per second in the latency phase.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Seconds of each phase.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Closed-loop posters in the throughput phase (0 skips it).
    #[arg(long, default_value_t = 8)]
    pub posters: usize,
    /// Bytes of chat text per message.
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Skip the baseline relay.
    #[arg(long)]
    pub no_baseline: bool,
}

/// What one phase measured.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    pub posts: u64,
    pub deliveries: u64,
    /// Deliveries that arrived, of posts × members.
    pub delivered_pct: f64,
    pub deliveries_per_s: f64,
    pub latency: Latency,
    /// CPU of the server (or relay) process, percent of one core.
    pub server_cpu_pct: f64,
    /// CPU of this process, the load generator.
    pub bench_cpu_pct: f64,
    /// The headline: deliveries made per second of the server's (or relay's) CPU time.
    pub deliveries_per_server_cpu_s: f64,
    /// The same, inverted: the server's (or relay's) CPU time per delivery.
    pub server_us_per_delivery: f64,
    /// The load generator's CPU time per delivery: well below the server's, or the
    /// scenario measures the generator.
    pub bench_us_per_delivery: f64,
    /// PostgreSQL's and NATS's CPU, where the server runs on them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engines: Option<EngineCpu>,
    /// In a pool, deliveries to members on the poster's node and on the others apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay: Option<RelayLatency>,
}

/// Both phases against one system, and its peak memory.
#[derive(Debug, Clone)]
pub struct FanoutOutcome {
    pub setup: Duration,
    /// What signing in and joining cost the server (and its engines); `None` for the relay.
    pub setup_cost: Option<SetupCost>,
    pub paced: PhaseResult,
    pub saturated: Option<PhaseResult>,
    pub server_peak_rss_mib: f64,
}

impl FanoutOutcome {
    /// The phase whose cost per delivery heads the report: the closed loop, which keeps
    /// the system busy, when there was one.
    fn headline(&self) -> (&'static str, &PhaseResult) {
        match &self.saturated {
            Some(s) => ("saturated", s),
            None => ("paced", &self.paced),
        }
    }
}

/// What signing the members in and joining them to the room cost, per member: a
/// REGISTER, a chat session and a `cmd:join` with lean members.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SetupCost {
    pub members: usize,
    pub seconds: f64,
    pub server_us_per_member: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postgres_us_per_member: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_us_per_member: Option<f64>,
}

impl SetupCost {
    fn between(before: &Sample, after: &Sample, took: Duration, members: usize) -> SetupCost {
        let us = |a: &ProcSample, b: &ProcSample| per(a.cpu_secs_until(b) * 1e6, members as f64);
        let engine =
            |a: Option<ProcSample>, b: Option<ProcSample>| a.zip(b).map(|(a, b)| us(&a, &b));
        SetupCost {
            members,
            seconds: took.as_secs_f64(),
            server_us_per_member: us(&before.server, &after.server),
            postgres_us_per_member: engine(before.postgres, after.postgres),
            nats_us_per_member: engine(before.nats, after.nats),
        }
    }
}

/// Sends one message, stamped by the caller.
pub trait Poster: Send + Sync + 'static {
    fn post(&self, text: String) -> impl Future<Output = Result<(), BenchError>> + Send;
}

struct ClientPoster {
    client: Client,
    room: String,
}

impl Poster for ClientPoster {
    async fn post(&self, text: String) -> Result<(), BenchError> {
        Ok(self.client.post(&self.room, &text).await?)
    }
}

struct RawPoster {
    out: mpsc::UnboundedSender<Bytes>,
}

impl Poster for RawPoster {
    async fn post(&self, text: String) -> Result<(), BenchError> {
        self.out
            .send(relay_info(&text))
            .map_err(|_| BenchError::Failed("a relay connection closed".into()))
    }
}

/// What every receiver shares: delivery counts per phase, and where posters hear their echo.
pub struct Shared {
    delivered: [AtomicU64; PHASES],
    echoes: Vec<mpsc::UnboundedSender<u64>>,
}

impl Shared {
    /// Deliveries of `phase` so far.
    pub fn delivered(&self, phase: usize) -> u64 {
        self.delivered[phase].load(Ordering::Relaxed)
    }

    /// Deliveries of every phase so far.
    pub fn delivered_all(&self) -> u64 {
        self.delivered
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .sum()
    }
}

/// Where a member of a pool is: its node, of how many. Members and posters alike are spread
/// over the nodes in turn (the `i`-th on node `i mod nodes`), so a delivery crossed the
/// relay between nodes when its poster's number falls on another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub node: u32,
    pub nodes: u32,
}

impl Place {
    /// The place of the `i`-th of members spread over `nodes`.
    pub fn of(i: usize, nodes: usize) -> Place {
        let nodes = nodes.max(1);
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        Place {
            node: n(i % nodes),
            nodes: n(nodes),
        }
    }

    fn crossed(self, poster: u32) -> bool {
        poster % self.nodes.max(1) != self.node
    }
}

/// One receiver's samples (microseconds) and its last arrival, per phase; samples of
/// deliveries from posters on the receiver's own node and from other nodes apart.
#[derive(Default)]
pub struct Tally {
    /// Where the receiver is, in a pool.
    place: Option<Place>,
    local: [Vec<u32>; PHASES],
    crossed: [Vec<u32>; PHASES],
    last_ns: [u64; PHASES],
}

impl Tally {
    /// The tally of a member at `place` (`None`: a single server).
    pub fn at(place: Option<Place>) -> Tally {
        Tally {
            place,
            ..Tally::default()
        }
    }

    /// One delivery to a member that posts as `own` (if it posts).
    pub fn record(&mut self, stamp: Stamp, own: Option<u32>, shared: &Shared) {
        if stamp.phase >= PHASES {
            return;
        }
        let micros = micros_since(stamp.sent_ns);
        match self.place {
            Some(place) if place.crossed(stamp.poster) => self.crossed[stamp.phase].push(micros),
            _ => self.local[stamp.phase].push(micros),
        }
        self.last_ns[stamp.phase] = now_ns();
        shared.delivered[stamp.phase].fetch_add(1, Ordering::Relaxed);
        if own == Some(stamp.poster)
            && let Some(echo) = shared.echoes.get(stamp.poster as usize)
        {
            let _ = echo.send(stamp.seq);
        }
    }
}

/// Runs the scenario: the server, then (unless skipped) the relay, and the ratio.
pub async fn run(
    env: &Env,
    args: &FanoutArgs,
    name: &str,
    targets: bool,
) -> Result<Section, BenchError> {
    let server = run_server(env, args).await?;
    let mut rows = vec![
        Row::of(
            "server setup",
            &json!({ "members": args.members, "connect_join_s": server.setup.as_secs_f64() }),
        ),
        Row::of("server paced", &server.paced),
    ];
    if let Some(s) = &server.saturated {
        rows.push(Row::of("server saturated", s));
    }
    rows.push(Row::of(
        "server memory",
        &json!({ "peak_rss_mib": server.server_peak_rss_mib }),
    ));
    let mut checks = Vec::new();
    let p99 = server.paced.latency.p99_ms;
    if targets {
        checks.push(TargetCheck::new(
            &format!("{}-member room p99 < 50 ms", args.members),
            format!("p99 {p99:.1} ms at {} msg/s", args.rate),
            p99 < 50.0,
        ));
    }
    let (phase, headline) = server.headline();
    if targets {
        checks.push(TargetCheck::new(
            "server CPU per delivery <= 4 us (>= 250,000 deliveries per server CPU-second)",
            format!(
                "{:.1} us, {:.0} deliveries per server CPU-second ({phase})",
                headline.server_us_per_delivery, headline.deliveries_per_server_cpu_s
            ),
            headline.server_us_per_delivery > 0.0 && headline.server_us_per_delivery <= 4.0,
        ));
    }
    if !args.no_baseline {
        let relay = run_relay(env, args).await?;
        rows.push(Row::of("relay paced", &relay.paced));
        if let Some(s) = &relay.saturated {
            rows.push(Row::of("relay saturated", s));
        }
        let (_, relay_headline) = relay.headline();
        rows.push(Row::of(
            "server / relay",
            &json!({
                "phase": phase,
                "server_us_per_delivery": headline.server_us_per_delivery,
                "relay_us_per_delivery": relay_headline.server_us_per_delivery,
                "server_deliveries_per_cpu_s": headline.deliveries_per_server_cpu_s,
                "relay_deliveries_per_cpu_s": relay_headline.deliveries_per_server_cpu_s,
                "per_cpu_s_ratio": per(
                    headline.deliveries_per_server_cpu_s,
                    relay_headline.deliveries_per_server_cpu_s
                ),
                "deliveries_per_s_ratio": per(
                    headline.deliveries_per_s,
                    relay_headline.deliveries_per_s
                ),
            }),
        ));
        if let (true, Some(s), Some(r)) = (targets, &server.saturated, &relay.saturated) {
            let ratio = per(s.deliveries_per_s, r.deliveries_per_s);
            checks.push(TargetCheck::new(
                "fan-out >= 0.5 x baseline",
                format!(
                    "{:.0} / {:.0} deliveries/s = {ratio:.2}",
                    s.deliveries_per_s, r.deliveries_per_s
                ),
                ratio >= 0.5,
            ));
        }
    }
    Ok(Section {
        scenario: name.to_owned(),
        settings: settings(&[
            ("members", json!(args.members)),
            ("rate_per_s", json!(args.rate)),
            ("duration_s", json!(args.duration)),
            ("closed_loop_posters", json!(args.posters)),
            ("text_bytes", json!(args.size)),
            ("members_driven", json!(env.members.describe())),
        ]),
        rows,
        targets: checks,
    })
}

/// The fan-out through the real server, members lean or on the client library.
pub async fn run_server(env: &Env, args: &FanoutArgs) -> Result<FanoutOutcome, BenchError> {
    run_server_on(env, System::single(), args).await
}

/// [`run_server`] against `system`; in a pool, lean members are spread over the nodes.
pub async fn run_server_on(
    env: &Env,
    system: System<'_>,
    args: &FanoutArgs,
) -> Result<FanoutOutcome, BenchError> {
    let prepared = system.prepare(env, "fanout").await?;
    let accounts = population::add_users(&prepared.store, "member", args.members).await?;
    let (_room, room_uri) = population::add_room(&prepared.store, "Fanout").await?;
    let running = prepared.start(env).await?;
    let outcome = async {
        let sample = || running.sample();
        let before = sample();
        let joined = |setup| Some(SetupCost::between(&before, &sample(), setup, args.members));
        let (setup, setup_cost, (paced, saturated)) = match env.members {
            Members::Full => {
                let target = running.single()?;
                let room =
                    ClientRoom::join(target, env, &accounts, &room_uri, args.posters).await?;
                let cost = joined(room.setup);
                (room.setup, cost, room.phases(args, sample).await?)
            }
            Members::Lean => {
                let dialer = Dialer::new((!env.tcp).then(|| running.cert_path()).as_deref())?;
                let posters = args.posters.max(1);
                let (shared, echo_rx) = shared(posters);
                let to = running.addrs(env.tcp);
                let only = |_| vec![room_uri.clone()];
                let room =
                    LeanRoom::join(env, &dialer, &to, &accounts, only, posters, &shared).await?;
                let cost = joined(room.setup);
                let phases = Run::new(args, &shared, args.members)
                    .phases(&room.posters, echo_rx, room.receivers, room.stop, sample)
                    .await?;
                (room.setup, cost, phases)
            }
        };
        Ok(FanoutOutcome {
            setup,
            setup_cost,
            paced,
            saturated,
            server_peak_rss_mib: running.sample().server.hwm_kib as f64 / 1024.0,
        })
    }
    .await;
    running.stop(env).await;
    outcome
}

/// A room on the server whose members are clients of the client library, each taking in
/// its deliveries in a task of its own; the first few also post.
pub struct ClientRoom {
    /// How long signing in and joining took.
    pub setup: Duration,
    posters: Vec<Arc<ClientPoster>>,
    echo_rx: Vec<mpsc::UnboundedReceiver<u64>>,
    receivers: Vec<JoinHandle<Tally>>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    /// Every handle is kept: dropping the last one closes a client's session.
    keep: Vec<Client>,
}

impl ClientRoom {
    /// Signs in `accounts`, joins them to `room_uri` and starts their receivers; the first
    /// `posters` of them (at least one) post.
    pub async fn join(
        target: &Target,
        env: &Env,
        accounts: &[String],
        room_uri: &str,
        posters: usize,
    ) -> Result<ClientRoom, BenchError> {
        let (clients, setup) =
            population::connect_and_join(target, env, accounts, |_| vec![room_uri.to_owned()])
                .await?;
        let posters = posters.max(1);
        let (shared, echo_rx) = shared(posters);
        let (stop, stopped) = watch::channel(false);
        let mut receivers = Vec::with_capacity(clients.len());
        let mut handles = Vec::new();
        let mut keep = Vec::with_capacity(clients.len());
        for (i, (client, events)) in clients.into_iter().enumerate() {
            let own = (i < posters).then(|| u32::try_from(i).unwrap_or(u32::MAX));
            receivers.push(tokio::spawn(receive_client(
                events,
                own,
                shared.clone(),
                stopped.clone(),
            )));
            if i < posters {
                handles.push(Arc::new(ClientPoster {
                    client: client.clone(),
                    room: room_uri.to_owned(),
                }));
            }
            keep.push(client);
        }
        Ok(ClientRoom {
            setup,
            posters: handles,
            echo_rx,
            receivers,
            shared,
            stop,
            keep,
        })
    }

    /// The fan-out's phases ([`Run::phases`]); the clients go after.
    async fn phases(
        self,
        args: &FanoutArgs,
        sample: impl Fn() -> Sample,
    ) -> Result<(PhaseResult, Option<PhaseResult>), BenchError> {
        let phases = Run::new(args, &self.shared, self.keep.len())
            .phases(
                &self.posters,
                self.echo_rx,
                self.receivers,
                self.stop,
                sample,
            )
            .await;
        drop(self.keep);
        phases
    }

    /// Posts at `args.rate` for `args.duration` as phase `phase`, then waits for the
    /// deliveries.
    pub async fn paced(
        &self,
        args: &FanoutArgs,
        phase: usize,
        sample: impl Fn() -> Sample,
    ) -> Window {
        Run::new(args, &self.shared, self.keep.len())
            .paced_window(&self.posters, phase, sample)
            .await
    }

    /// Stops the receivers and gathers what they measured; the clients go.
    pub async fn finish(self) -> Result<Deliveries, BenchError> {
        let gathered = gather(self.receivers, self.stop).await;
        drop(self.keep);
        gathered
    }
}

/// The baseline: the same room through the relay, members on raw connections spread over
/// the loopback source addresses: lean members, or (with full members) ones that do a
/// client's work per message (decode, parse, 200).
pub async fn run_relay(env: &Env, args: &FanoutArgs) -> Result<FanoutOutcome, BenchError> {
    // The relay presents a certificate like the server's: make one the same way.
    let dir = env.scratch("relay")?;
    let tls_files = if env.tcp {
        None
    } else {
        parlance_server::tls::Certificate::load(None, None, &dir, &["127.0.0.1".to_owned()])
            .map_err(|e| BenchError::Tls(e.to_string()))?;
        Some((dir.join("tls-cert.pem"), dir.join("tls-key.pem")))
    };
    let relay = relay::start(
        tls_files.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
        env.in_process,
        env.lifetime,
    )
    .await?;
    let outcome = async {
        let dialer = Dialer::new(tls_files.as_ref().map(|(c, _)| c.as_path()))?;
        let posters = args.posters.max(1);
        let (shared, echo_rx) = shared(posters);
        let (stop, stopped) = watch::channel(false);
        let started = Instant::now();
        let mut receivers = Vec::with_capacity(args.members);
        let (mut raw, mut lean) = (Vec::new(), Vec::new());
        for i in 0..args.members {
            let from = crate::wire::source(i, env.sources);
            let own = (i < posters).then(|| u32::try_from(i).unwrap_or(u32::MAX));
            let (shared, stopped) = (shared.clone(), stopped.clone());
            match env.members {
                Members::Lean => {
                    let conn = Conn::open(&dialer, from, relay.addr).await?;
                    let (poster, task) = lean::relay_member(conn, own, shared, stopped);
                    receivers.push(task);
                    lean.extend(poster.map(Arc::new));
                }
                Members::Full => {
                    let (stream, _) = dialer.connect(from, relay.addr).await?;
                    let (out, task) = raw_member(stream, own, shared, stopped);
                    receivers.push(task);
                    if own.is_some() {
                        raw.push(Arc::new(RawPoster { out }));
                    }
                }
            }
        }
        let setup = started.elapsed();
        // Every member must be registered with the relay before the first post.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let run = Run::new(args, &shared, args.members);
        let sample = || relay.sample().into();
        let (paced, saturated) = match env.members {
            Members::Lean => run.phases(&lean, echo_rx, receivers, stop, sample).await?,
            Members::Full => run.phases(&raw, echo_rx, receivers, stop, sample).await?,
        };
        Ok(FanoutOutcome {
            setup,
            setup_cost: None,
            paced,
            saturated,
            server_peak_rss_mib: relay.sample().hwm_kib as f64 / 1024.0,
        })
    }
    .await;
    relay.stop().await;
    env.remove(&dir);
    outcome
}

pub fn shared(posters: usize) -> (Arc<Shared>, Vec<mpsc::UnboundedReceiver<u64>>) {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..posters).map(|_| mpsc::unbounded_channel()).unzip();
    (
        Arc::new(Shared {
            delivered: Default::default(),
            echoes: txs,
        }),
        rxs,
    )
}

/// Phases of posting in one room, and what each measured.
pub struct Run<'a> {
    args: &'a FanoutArgs,
    shared: &'a Shared,
    members: u64,
}

/// One phase's bounds: the posts made, when it started, and the samples of the server (or
/// relay, and the engines beside it) and of this process at its start and end.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    phase: usize,
    /// Deliveries each post makes.
    members: u64,
    posts: u64,
    start_ns: u64,
    server: (Sample, Sample),
    bench: (ProcSample, ProcSample),
}

/// Where a phase began: the server (or relay) and this process sampled, and the clock.
struct Mark {
    server: Sample,
    bench: ProcSample,
    ns: u64,
}

impl Mark {
    fn now(sample: &impl Fn() -> Sample) -> Mark {
        Mark {
            server: sample(),
            bench: ProcSample::read(std::process::id()),
            ns: now_ns(),
        }
    }

    /// The phase that began here ends now.
    fn window(
        self,
        phase: usize,
        members: u64,
        posts: u64,
        sample: &impl Fn() -> Sample,
    ) -> Window {
        Window {
            phase,
            members,
            posts,
            start_ns: self.ns,
            server: (self.server, sample()),
            bench: (self.bench, ProcSample::read(std::process::id())),
        }
    }
}

/// Every receiver's samples, per phase: the latencies (all, from posters on the
/// receiver's node, from posters on others), and the last arrival.
#[derive(Debug)]
pub struct Deliveries {
    latencies: [Latencies; PHASES],
    local: [Latencies; PHASES],
    crossed: [Latencies; PHASES],
    last_ns: [u64; PHASES],
}

impl Deliveries {
    /// The latencies of `phase`, and its last arrival.
    pub fn phase(&self, phase: usize) -> (&Latencies, u64) {
        (&self.latencies[phase], self.last_ns[phase])
    }

    /// What the relay between nodes added in `phase`; `None` on a single server.
    pub fn relay(&self, phase: usize) -> Option<RelayLatency> {
        RelayLatency::of(&self.local[phase], &self.crossed[phase])
    }

    /// The latencies of every phase together, and the last arrival of any.
    pub fn all(&self) -> (Latencies, u64) {
        let mut all = Latencies::default();
        self.latencies.iter().for_each(|l| all.add(l));
        (all, self.last_ns.iter().copied().max().unwrap_or(0))
    }

    /// What the relay between nodes added over every phase; `None` on a single server.
    pub fn relay_all(&self) -> Option<RelayLatency> {
        let (mut local, mut crossed) = (Latencies::default(), Latencies::default());
        self.local.iter().for_each(|l| local.add(l));
        self.crossed.iter().for_each(|l| crossed.add(l));
        RelayLatency::of(&local, &crossed)
    }

    /// What `window` measured.
    pub fn result(&self, window: &Window) -> PhaseResult {
        let delivery = &self.latencies[window.phase];
        let count = delivery.count();
        let expected = window.posts * window.members;
        let secs = self.last_ns[window.phase].saturating_sub(window.start_ns) as f64 / 1e9;
        let (before, after) = (&window.server.0, &window.server.1);
        let server_cpu_s = before.server.cpu_secs_until(&after.server);
        let bench_cpu_s = window.bench.0.cpu_secs_until(&window.bench.1);
        PhaseResult {
            posts: window.posts,
            deliveries: count,
            delivered_pct: if expected > 0 {
                100.0 * count as f64 / expected as f64
            } else {
                0.0
            },
            deliveries_per_s: if secs > 0.0 { count as f64 / secs } else { 0.0 },
            latency: delivery.summary(),
            server_cpu_pct: before.server.cpu_percent(&after.server),
            bench_cpu_pct: window.bench.0.cpu_percent(&window.bench.1),
            deliveries_per_server_cpu_s: per(count as f64, server_cpu_s),
            server_us_per_delivery: per(server_cpu_s * 1e6, count as f64),
            bench_us_per_delivery: per(bench_cpu_s * 1e6, count as f64),
            engines: EngineCpu::between(before, after, count),
            relay: self.relay(window.phase),
        }
    }
}

impl<'a> Run<'a> {
    fn new(args: &'a FanoutArgs, shared: &'a Shared, members: usize) -> Run<'a> {
        Run {
            args,
            shared,
            members: members as u64,
        }
    }

    /// The paced phase, the closed-loop phase (unless no posters), then every receiver's
    /// samples gathered.
    async fn phases<P: Poster>(
        &self,
        posters: &[Arc<P>],
        echo_rx: Vec<mpsc::UnboundedReceiver<u64>>,
        receivers: Vec<JoinHandle<Tally>>,
        stop: watch::Sender<bool>,
        sample: impl Fn() -> Sample,
    ) -> Result<(PhaseResult, Option<PhaseResult>), BenchError> {
        let paced = self.paced_window(posters, 0, &sample).await;
        let mut saturated = None;
        if self.args.posters > 0 {
            let start = Mark::now(&sample);
            let posts = self.closed_loop(posters, echo_rx, self.duration()).await?;
            self.drain(1, posts).await;
            saturated = Some(start.window(1, self.members, posts, &sample));
        }
        let deliveries = gather(receivers, stop).await?;
        Ok((
            deliveries.result(&paced),
            saturated.map(|w| deliveries.result(&w)),
        ))
    }

    fn duration(&self) -> Duration {
        Duration::from_secs(self.args.duration)
    }

    /// Posts on schedule as phase `phase`, then waits for the deliveries.
    async fn paced_window<P: Poster>(
        &self,
        posters: &[Arc<P>],
        phase: usize,
        sample: impl Fn() -> Sample,
    ) -> Window {
        let start = Mark::now(&sample);
        let posts = self.paced(posters, phase, self.duration()).await;
        self.drain(phase, posts).await;
        start.window(phase, self.members, posts, &sample)
    }

    /// Open loop: posts leave on schedule whether or not earlier ones were answered.
    async fn paced<P: Poster>(&self, posters: &[Arc<P>], phase: usize, duration: Duration) -> u64 {
        let total = (self.args.rate * duration.as_secs_f64()).round() as u64;
        let every = Duration::from_secs_f64(1.0 / self.args.rate.max(0.001));
        let start = tokio::time::Instant::now();
        let mut sends = Vec::with_capacity(total as usize);
        for seq in 0..total {
            tokio::time::sleep_until(start + every.mul_f64(seq as f64)).await;
            let which = (seq % posters.len() as u64) as usize;
            let stamp = Stamp {
                phase,
                poster: which as u32,
                seq,
                sent_ns: now_ns(),
            };
            let (poster, text) = (posters[which].clone(), stamp.text(self.args.size));
            sends.push(tokio::spawn(async move { poster.post(text).await }));
        }
        let mut posted = 0;
        for s in sends {
            match s.await {
                Ok(Ok(())) => posted += 1,
                Ok(Err(e)) => tracing::warn!(error = %e, "a post failed"),
                Err(e) => tracing::warn!(error = %e, "a post task failed"),
            }
        }
        posted
    }

    /// Closed loop: each poster posts, waits for its own message to come back, repeats.
    async fn closed_loop<P: Poster>(
        &self,
        posters: &[Arc<P>],
        echo_rx: Vec<mpsc::UnboundedReceiver<u64>>,
        duration: Duration,
    ) -> Result<u64, BenchError> {
        let deadline = tokio::time::Instant::now() + duration;
        let size = self.args.size;
        let mut tasks = Vec::new();
        for (which, (poster, mut echoes)) in posters.iter().cloned().zip(echo_rx).enumerate() {
            tasks.push(tokio::spawn(async move {
                let mut seq = 0u64;
                while tokio::time::Instant::now() < deadline {
                    let stamp = Stamp {
                        phase: 1,
                        poster: which as u32,
                        seq,
                        sent_ns: now_ns(),
                    };
                    poster.post(stamp.text(size)).await?;
                    seq += 1;
                    let back = tokio::time::timeout(ECHO_WAIT, async {
                        while let Some(s) = echoes.recv().await {
                            if s == stamp.seq {
                                return true;
                            }
                        }
                        false
                    });
                    if !matches!(back.await, Ok(true)) {
                        return Err(BenchError::Failed(format!(
                            "poster {which} did not get its message back within {ECHO_WAIT:?}"
                        )));
                    }
                }
                Ok::<u64, BenchError>(seq)
            }));
        }
        let mut posts = 0;
        for t in tasks {
            posts += t
                .await
                .map_err(|e| BenchError::Failed(format!("a poster failed: {e}")))??;
        }
        Ok(posts)
    }

    /// Waits until every delivery of `phase` arrived, or for at most [`DRAIN`].
    async fn drain(&self, phase: usize, posts: u64) {
        let expected = posts * self.members;
        let deadline = Instant::now() + DRAIN;
        while self.shared.delivered(phase) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Stops the receivers and merges their samples.
pub async fn gather(
    receivers: Vec<JoinHandle<Tally>>,
    stop: watch::Sender<bool>,
) -> Result<Deliveries, BenchError> {
    let _ = stop.send(true);
    let mut deliveries = Deliveries {
        latencies: Default::default(),
        local: Default::default(),
        crossed: Default::default(),
        last_ns: [0; PHASES],
    };
    for r in receivers {
        let tally = r
            .await
            .map_err(|e| BenchError::Failed(format!("a receiver failed: {e}")))?;
        for p in 0..PHASES {
            for micros in [&tally.local[p], &tally.crossed[p]] {
                deliveries.latencies[p].record_micros(micros);
            }
            deliveries.local[p].record_micros(&tally.local[p]);
            deliveries.crossed[p].record_micros(&tally.crossed[p]);
            deliveries.last_ns[p] = deliveries.last_ns[p].max(tally.last_ns[p]);
        }
    }
    Ok(deliveries)
}

pub async fn receive_client(
    mut events: Events,
    own: Option<u32>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Event::Message(line)) => {
                    if let Some(stamp) = Stamp::parse(&line.text) {
                        tally.record(stamp, own, &shared);
                    }
                }
                Some(Event::Closed { error }) => {
                    tracing::warn!(%error, "a member's client closed");
                    break;
                }
                Some(_) => {}
                None => break,
            },
            _ = stop.changed() => break,
        }
    }
    tally
}

/// A member of the relay room: a writer task fed by the returned sender, and a reader that
/// decodes each message, parses its XCCOS body, records it and answers 200 as a client does.
fn raw_member(
    stream: Box<dyn crate::wire::Stream>,
    own: Option<u32>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> (mpsc::UnboundedSender<Bytes>, JoinHandle<Tally>) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (out, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            if wr.write_all(&b).await.is_err() || wr.flush().await.is_err() {
                return;
            }
        }
    });
    let answers = out.clone();
    let task = tokio::spawn(async move {
        let mut tally = Tally::default();
        let mut decoder = Decoder::new(Limits::default());
        let mut buf = BytesMut::with_capacity(16 * 1024);
        loop {
            while let Ok(Some(item)) = decoder.decode(&mut buf) {
                if let Item::Message(Message::Request(req)) = item {
                    if let Ok(envelope) = Envelope::parse(&req.body, &xccos::Limits::default()) {
                        for m in envelope.messages {
                            if let xccos::Message::GrpChat(chat) = m
                                && let Some(stamp) = Stamp::parse(&chat.message.text)
                            {
                                tally.record(stamp, own, &shared);
                            }
                        }
                    }
                    let _ = answers.send(Bytes::from(Response::for_request(&req, 200).to_bytes()));
                }
            }
            tokio::select! {
                read = rd.read_buf(&mut buf) => if !matches!(read, Ok(n) if n > 0) { break },
                _ = stop.changed() => break,
            }
        }
        tally
    });
    (out, task)
}

/// The INFO the relay carries: shaped like the server's delivery (same headers, a
/// `grpchat` body written by the same codec), so that both move the same bytes.
pub fn relay_info(text: &str) -> Bytes {
    let seq = Stamp::parse(text).map_or(0, |s| s.seq);
    let body = grpchat(
        seq + 1,
        &format!("ma-chan://{DOMAIN}/6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
        &format!("sip:member0@{DOMAIN}"),
        text,
        Some(seq + 1),
    );
    Bytes::from(format!(
        "INFO sip:member@127.0.0.1:50000;transport=tls SIP/2.0\r\n\
         Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK{seq:016x}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:chatsrv@{DOMAIN}>;tag=4c9a3f1e5b\r\n\
         To: <sip:member@{DOMAIN}>;tag=8d2e6b70aa\r\n\
         Call-ID: 3a7c9e1f-{seq}-bench\r\n\
         CSeq: {} INFO\r\n\
         Contact: <sip:chatsrv@{DOMAIN}>\r\n\
         Content-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n{body}",
        seq + 2,
        body.len()
    ))
}

/// A `grpchat` envelope of `text` by `author` in `room`, stamped now; `message_id` is the
/// room's sequence number, which only the server writes.
pub fn grpchat(
    envid: u64,
    room: &str,
    author: &str,
    text: &str,
    message_id: Option<u64>,
) -> String {
    let unix_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let chat = GrpChat {
        seqid: 1,
        message: ChatMessage {
            channel_uri: room.to_owned(),
            author: author.to_owned(),
            ts: Some(xccos::format_timestamp(unix_ns)),
            message_id,
            text: text.to_owned(),
            alert: false,
            rtf: None,
        },
    };
    Envelope::new(envid, chat).to_xml()
}
