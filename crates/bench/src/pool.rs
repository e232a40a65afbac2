//! Pool design load: the published Persistent Chat pool design point, scaled by a factor,
//! and a search for the largest factor this machine sustains with p99 delivery < 50 ms.
//!
//! At factor 1.0 the design point is 80,000 connected users; 32,000 rooms of 30 members,
//! 1,067 of 150 and 10 of 16,000 (1.28 million memberships: 16 rooms per user); 24
//! messages/s and 10 joins/s across the pool. A factor scales the users, the number of
//! rooms of each size and both rates; a room never has more members than there are users.
//! How the 24 messages/s fall on the rooms is not part of the design point: here every
//! membership is equally likely to post (a member of a big room talks as often as a member
//! of a small one), so the 16,000-member rooms carry an eighth of the posts and most of the
//! deliveries. A join is a member leaving one of its rooms and joining it again (history
//! included), so the population stays the same while joins go on. Users are lean members
//! or clients of the client library (`--member-mode`); a lean user's join is `cmd:join`
//! and a history page of one message, as the client library's. This scenario runs it on
//! one server on SQLite; `pool-compare` runs one factor on PostgreSQL + NATS and on three
//! nodes too, the users dealt out to the nodes in turn.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parlance_client::Client;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use xccos::{Bcq, CommandKind};

use crate::Env;
use crate::delivery::{self, Shared, Tally};
use crate::deployment::{Running, System};
use crate::error::BenchError;
use crate::lean::{self, LeanPoster, LeanRoom, Members};
use crate::measure::{EngineCpu, Latency, ProcSample, RelayLatency, Stamp, now_ns, per};
use crate::population;
use crate::report::{Row, Section, TargetCheck, settings};
use crate::wire::Dialer;

/// One size of room at factor 1.0.
struct RoomSize {
    members: usize,
    rooms: f64,
}

const USERS: f64 = 80_000.0;
const ROOM_SIZES: [RoomSize; 3] = [
    RoomSize {
        members: 30,
        rooms: 32_000.0,
    },
    RoomSize {
        members: 150,
        rooms: 1_067.0,
    },
    RoomSize {
        members: 16_000,
        rooms: 10.0,
    },
];
pub(crate) const MESSAGES_PER_S: f64 = 24.0;
const JOINS_PER_S: f64 = 10.0;
/// The delivery target a factor must meet.
const P99_TARGET_MS: f64 = 50.0;
/// Below this share of the expected deliveries a step fails whatever its latency.
const MIN_DELIVERED_PCT: f64 = 99.0;
/// How long deliveries may trail the last post.
const DRAIN: Duration = Duration::from_secs(10);
/// How long the receivers get to start and take what the joins left in their event streams
/// before the load starts: the first post otherwise waited behind that (15 ms at factor
/// 0.005).
const SETTLE: Duration = Duration::from_secs(2);
/// The search stops once the largest passing and smallest failing factor are this close.
const PRECISION: f64 = 1.15;
/// The smallest factor that still gives every room size a room and rooms their members.
const MIN_FACTOR: f64 = 0.005;
/// Descriptors each process keeps for other things than the users' connections.
const SPARE_FDS: u64 = 1_000;
/// The stamp's phase of a post into a room of the largest size (16,000 members, or every
/// user at small factors); posts into the other rooms are phase 0. The two are measured
/// apart: one post to the largest room is most of the deliveries of the second it falls in.
const LARGEST_ROOMS: usize = 1;

#[derive(Debug, Clone, clap::Args)]
pub struct PoolArgs {
    /// Run at this factor only, instead of searching.
    #[arg(long)]
    pub factor: Option<f64>,
    /// The first factor the search tries.
    #[arg(long, default_value_t = 0.05)]
    pub start: f64,
    /// Factors the search may try (each is a fresh server and population).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Seconds of load at each factor.
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
}

/// The population at one factor: who is in which room.
#[derive(Debug)]
struct Design {
    factor: f64,
    users: usize,
    /// Members of each room, as user indexes; rooms ordered small, medium, large.
    rooms: Vec<Vec<u32>>,
    /// Rooms of each size, in the order of [`ROOM_SIZES`].
    per_size: [usize; 3],
    /// Every (room, member) pair: a post or a join picks one at random.
    memberships: Vec<(u32, u32)>,
}

impl Design {
    fn at(factor: f64) -> Design {
        let users = (USERS * factor).round().max(1.0) as usize;
        let mut rooms = Vec::new();
        let mut per_size = [0; 3];
        // Members are dealt out in turn, so each user lands in about the same number of
        // rooms of each size, and never twice in one room (rooms have at most `users`).
        let mut next = 0usize;
        for (i, size) in ROOM_SIZES.iter().enumerate() {
            let count = (size.rooms * factor).round().max(1.0) as usize;
            let members = size.members.min(users);
            per_size[i] = count;
            for _ in 0..count {
                rooms.push((0..members).map(|j| ((next + j) % users) as u32).collect());
                next += members;
            }
        }
        let memberships = rooms
            .iter()
            .enumerate()
            .flat_map(|(r, members): (usize, &Vec<u32>)| {
                members.iter().map(move |u| (r as u32, *u))
            })
            .collect();
        Design {
            factor,
            users,
            rooms,
            per_size,
            memberships,
        }
    }

    /// The rooms of each user, as room indexes.
    fn rooms_of_users(&self) -> Vec<Vec<u32>> {
        let mut of = vec![Vec::new(); self.users];
        for (room, user) in &self.memberships {
            of[*user as usize].push(*room);
        }
        of
    }

    /// Whether `room` is one of the largest rooms (the last of [`ROOM_SIZES`]).
    fn is_largest(&self, room: u32) -> bool {
        room as usize >= self.per_size[0] + self.per_size[1]
    }

    fn messages_per_s(&self) -> f64 {
        MESSAGES_PER_S * self.factor
    }

    fn joins_per_s(&self) -> f64 {
        JOINS_PER_S * self.factor
    }
}

/// What one factor measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StepResult {
    pub(crate) factor: f64,
    users: usize,
    /// Rooms of 30, 150 and 16,000 (or as many as there are users) members.
    rooms: String,
    memberships: usize,
    setup_s: f64,
    posts: u64,
    failed_posts: u64,
    /// From the post leaving on schedule to its author's client holding the SIP answer:
    /// with `delivery`, it tells the way in (client, server, store) from the way out.
    post_answer: Latency,
    pub(crate) deliveries: u64,
    pub(crate) delivered_pct: f64,
    deliveries_per_s: f64,
    pub(crate) delivery: Latency,
    /// Posts into the largest rooms, and their deliveries' latency apart from the others'.
    posts_to_largest_rooms: u64,
    delivery_in_largest_rooms: Latency,
    delivery_in_other_rooms: Latency,
    /// Deliveries per CPU-second of the server (all its work: posts, joins, deliveries).
    pub(crate) deliveries_per_server_cpu_s: f64,
    joins: u64,
    failed_joins: u64,
    join: Latency,
    pub(crate) server_cpu_pct: f64,
    pub(crate) bench_cpu_pct: f64,
    /// Every node's peak resident set, added.
    server_peak_rss_mib: f64,
    /// PostgreSQL's and NATS's CPU, where the server runs on them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) engines: Option<EngineCpu>,
    /// In a pool, deliveries to members on the poster's node and on the others apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) relay: Option<RelayLatency>,
}

impl StepResult {
    fn passed(&self) -> bool {
        self.delivery.p99_ms < P99_TARGET_MS
            && self.delivered_pct >= MIN_DELIVERED_PCT
            && self.failed_joins == 0
    }
}

/// The largest factor the open-file limit allows: every user holds a connection in this
/// process and one in the server's.
fn fd_cap() -> f64 {
    crate::limits::raise_nofile().saturating_sub(SPARE_FDS) as f64 / USERS
}

/// `factor` within what the harness and this machine can run.
pub(crate) fn clamp_factor(factor: f64) -> f64 {
    factor.clamp(MIN_FACTOR, fd_cap().clamp(MIN_FACTOR, 1.0))
}

pub async fn run(env: &Env, args: &PoolArgs) -> Result<Section, BenchError> {
    let fd_cap = fd_cap();
    let most = fd_cap.clamp(MIN_FACTOR, 1.0);
    let mut steps = Vec::new();
    match args.factor {
        Some(f) => steps.push(run_factor(env, clamp_factor(f), args.duration).await?),
        None => {
            let (mut passed, mut failed): (Option<f64>, Option<f64>) = (None, None);
            let mut factor = args.start.clamp(MIN_FACTOR, most);
            for _ in 0..args.steps.max(1) {
                let step = run_factor(env, factor, args.duration).await?;
                tracing::info!(
                    factor,
                    p99_ms = step.delivery.p99_ms,
                    passed = step.passed(),
                    "pool design load step"
                );
                if step.passed() {
                    passed = Some(factor)
                } else {
                    failed = Some(factor)
                }
                steps.push(step);
                factor = match (passed, failed) {
                    (Some(p), None) if p >= most => break,
                    (Some(p), None) => (p * 2.0).min(most),
                    (None, Some(f)) if f <= MIN_FACTOR => break,
                    (None, Some(f)) => (f / 2.0).max(MIN_FACTOR),
                    (Some(p), Some(f)) if f / p <= PRECISION => break,
                    (Some(p), Some(f)) => (p * f).sqrt(),
                    (None, None) => break,
                };
            }
        }
    }
    let best = steps
        .iter()
        .filter(|s| s.passed())
        .map(|s| s.factor)
        .fold(None, |a: Option<f64>, f| Some(a.map_or(f, |a| a.max(f))));
    let rows = steps
        .iter()
        .map(|s| Row::of(&format!("factor {:.3}", s.factor), s))
        .collect();
    let measured = match best {
        Some(f) => format!("largest factor with p99 < {P99_TARGET_MS} ms: {f:.3}"),
        None => format!("no factor tried kept p99 < {P99_TARGET_MS} ms"),
    };
    Ok(Section {
        scenario: "pool design load".into(),
        settings: settings(&[
            ("users_at_1", json!(USERS)),
            ("rooms_at_1", json!("32000 x 30, 1067 x 150, 10 x 16000")),
            ("messages_per_s_at_1", json!(MESSAGES_PER_S)),
            ("joins_per_s_at_1", json!(JOINS_PER_S)),
            ("duration_s", json!(args.duration)),
            ("largest_factor_the_open_file_limit_allows", json!(fd_cap)),
            ("members_driven", json!(env.members.describe())),
        ]),
        rows,
        targets: vec![TargetCheck::new(
            "pool design load at factor 1.0 (p99 < 50 ms)",
            measured,
            best.is_some_and(|f| f >= 1.0),
        )],
    })
}

/// Populates a fresh server at `factor`, signs everyone in, and applies the load.
async fn run_factor(env: &Env, factor: f64, duration: u64) -> Result<StepResult, BenchError> {
    run_factor_on(env, System::single(), factor, duration).await
}

/// [`run_factor`] against `system`; in a pool, lean users are spread over the nodes.
pub(crate) async fn run_factor_on(
    env: &Env,
    system: System<'_>,
    factor: f64,
    duration: u64,
) -> Result<StepResult, BenchError> {
    let design = Design::at(factor);
    let prepared = system.prepare(env, "pool").await?;
    let accounts = population::add_users(&prepared.store, "pool", design.users).await?;
    let mut uris = Vec::with_capacity(design.rooms.len());
    for r in 0..design.rooms.len() {
        uris.push(
            population::add_room(&prepared.store, &format!("Pool {r}"))
                .await?
                .1,
        );
    }
    let running = prepared.start(env).await?;
    let outcome = async {
        let rooms_of = design.rooms_of_users();
        let rooms = |u: usize| -> Vec<String> {
            rooms_of[u]
                .iter()
                .map(|r| uris[*r as usize].clone())
                .collect()
        };
        let duration = Duration::from_secs(duration);
        // No echoes: nobody posts in a closed loop here.
        let (shared, _) = delivery::shared(0);
        let (mut step, setup) = match env.members {
            Members::Full => {
                let target = running.single()?;
                let (clients, setup) =
                    population::connect_and_join(target, env, &accounts, rooms).await?;
                let (stop, stopped) = watch::channel(false);
                let mut users = Vec::with_capacity(clients.len());
                let mut receivers = Vec::with_capacity(clients.len());
                for (client, events) in clients {
                    let (shared, stopped) = (shared.clone(), stopped.clone());
                    receivers.push(tokio::spawn(crate::receivers::receive_client(
                        events, None, shared, stopped,
                    )));
                    users.push(Arc::new(client));
                }
                let load = Load {
                    design: &design,
                    uris: &uris,
                    shared: &shared,
                    running: &running,
                };
                (load.apply(&users, receivers, stop, duration).await?, setup)
            }
            Members::Lean => {
                let dialer = Dialer::new((!env.tcp).then(|| running.cert_path()).as_deref())?;
                let to = running.addrs(env.tcp);
                // Every user may post and rejoin: each gets a handle.
                let room =
                    LeanRoom::join(env, &dialer, &to, &accounts, rooms, accounts.len(), &shared)
                        .await?;
                let load = Load {
                    design: &design,
                    uris: &uris,
                    shared: &shared,
                    running: &running,
                };
                let step = load
                    .apply(&room.posters, room.receivers, room.stop, duration)
                    .await?;
                (step, room.setup)
            }
        };
        step.setup_s = setup.as_secs_f64();
        Ok(step)
    }
    .await;
    running.stop(env).await;
    outcome
}

/// A user of the pool, whichever way it is driven.
trait PoolUser: Send + Sync + 'static {
    fn post(&self, room: &str, text: String)
    -> impl Future<Output = Result<(), BenchError>> + Send;
    fn part(&self, room: &str) -> impl Future<Output = Result<(), BenchError>> + Send;
    /// Joins `room` and reads its newest message, as a client joining does.
    fn join(&self, room: &str) -> impl Future<Output = Result<(), BenchError>> + Send;
}

impl PoolUser for Client {
    async fn post(&self, room: &str, text: String) -> Result<(), BenchError> {
        Ok(Client::post(self, room, &text).await?)
    }

    async fn part(&self, room: &str) -> Result<(), BenchError> {
        Ok(Client::part(self, room).await?)
    }

    async fn join(&self, room: &str) -> Result<(), BenchError> {
        // The client reads `join_history` (1) messages after the join.
        Ok(Client::join(self, room).await.map(drop)?)
    }
}

impl PoolUser for LeanPoster {
    async fn post(&self, room: &str, text: String) -> Result<(), BenchError> {
        self.post_to(room, text).await
    }

    async fn part(&self, room: &str) -> Result<(), BenchError> {
        let channel_uri = room.to_owned();
        self.command(CommandKind::Part { channel_uri }).await
    }

    async fn join(&self, room: &str) -> Result<(), BenchError> {
        self.command(CommandKind::Join(lean::chanid(0, room)?))
            .await?;
        let channel_uri = room.to_owned();
        let query = Bcq::Last { cnt: 1 };
        self.command(CommandKind::BcContext { channel_uri, query })
            .await
    }
}

/// The load at one factor, and what it is measured against.
struct Load<'a> {
    design: &'a Design,
    uris: &'a [String],
    shared: &'a Arc<Shared>,
    running: &'a Running<'a>,
}

impl Load<'_> {
    /// Posts and joins side by side for `duration`, both open loop (each leaves on
    /// schedule whether or not the earlier ones were answered), then waits for the
    /// deliveries and gathers what `receivers` measured.
    async fn apply<U: PoolUser>(
        &self,
        users: &[Arc<U>],
        receivers: Vec<JoinHandle<Tally>>,
        stop: watch::Sender<bool>,
        duration: Duration,
    ) -> Result<StepResult, BenchError> {
        let design = self.design;
        tokio::time::sleep(SETTLE).await;
        let (server_before, bench_before, started) = (
            self.running.sample(),
            ProcSample::read(std::process::id()),
            now_ns(),
        );
        let (posting, joining) = tokio::join!(
            post(design, self.uris, users, duration),
            join(design, self.uris, users, duration)
        );
        let posts = posting?;
        let joins = joining?;
        let deadline = Instant::now() + DRAIN;
        while self.shared.delivered_all() < posts.expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (server_after, bench_after) =
            (self.running.sample(), ProcSample::read(std::process::id()));
        let gathered = delivery::gather(receivers, stop).await?;
        let (delivery, last_ns) = gathered.all();
        let last_ns = last_ns.max(started);
        let deliveries = delivery.count();
        let secs = last_ns.saturating_sub(started) as f64 / 1e9;
        Ok(StepResult {
            factor: design.factor,
            users: design.users,
            rooms: design.per_size.map(|n| n.to_string()).join(" / "),
            memberships: design.memberships.len(),
            setup_s: 0.0,
            posts: posts.done,
            failed_posts: posts.failed,
            post_answer: Latency::from_durations(&posts.times),
            deliveries,
            delivered_pct: if posts.expected > 0 {
                100.0 * deliveries as f64 / posts.expected as f64
            } else {
                0.0
            },
            deliveries_per_s: if secs > 0.0 {
                deliveries as f64 / secs
            } else {
                0.0
            },
            delivery: delivery.summary(),
            posts_to_largest_rooms: posts.to_largest,
            delivery_in_largest_rooms: gathered.phase(LARGEST_ROOMS).0.summary(),
            delivery_in_other_rooms: gathered.phase(0).0.summary(),
            deliveries_per_server_cpu_s: per(
                deliveries as f64,
                server_before.server.cpu_secs_until(&server_after.server),
            ),
            joins: joins.done,
            failed_joins: joins.failed,
            join: Latency::from_durations(&joins.times),
            server_cpu_pct: server_before.server.cpu_percent(&server_after.server),
            bench_cpu_pct: bench_before.cpu_percent(&bench_after),
            server_peak_rss_mib: server_after.server.hwm_kib as f64 / 1024.0,
            engines: EngineCpu::between(&server_before, &server_after, deliveries),
            relay: gathered.relay_all(),
        })
    }
}

/// What the posting or joining side did.
#[derive(Debug, Default)]
struct Done {
    done: u64,
    failed: u64,
    /// Deliveries the posts should make: every member of the room, the author included.
    expected: u64,
    /// Posts into the largest rooms.
    to_largest: u64,
    times: Vec<Duration>,
}

/// `rate` events per second for `duration`, each a task made by `event(rng)`; returns the
/// tasks' outcomes.
async fn schedule<T: Send + 'static>(
    rate: f64,
    duration: Duration,
    seed: u64,
    mut event: impl FnMut(&mut StdRng, u64) -> JoinHandle<T>,
) -> Result<Vec<T>, BenchError> {
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let every = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let start = tokio::time::Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tasks = Vec::with_capacity(total as usize);
    for seq in 0..total {
        tokio::time::sleep_until(start + every.mul_f64(seq as f64)).await;
        tasks.push(event(&mut rng, seq));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(
            t.await
                .map_err(|e| BenchError::Failed(format!("a load task failed: {e}")))?,
        );
    }
    Ok(out)
}

async fn post<U: PoolUser>(
    design: &Design,
    uris: &[String],
    users: &[Arc<U>],
    duration: Duration,
) -> Result<Done, BenchError> {
    let mut done = Done::default();
    let outcomes = schedule(design.messages_per_s(), duration, 1, |rng, seq| {
        let (room, user) = design.memberships[rng.random_range(0..design.memberships.len())];
        done.expected += design.rooms[room as usize].len() as u64;
        let largest = design.is_largest(room);
        done.to_largest += u64::from(largest);
        let (poster, uri) = (users[user as usize].clone(), uris[room as usize].clone());
        let text = Stamp {
            phase: if largest { LARGEST_ROOMS } else { 0 },
            poster: user,
            seq,
            sent_ns: now_ns(),
        }
        .text(100);
        let left = Instant::now();
        tokio::spawn(async move {
            poster.post(&uri, text).await?;
            Ok::<_, BenchError>(left.elapsed())
        })
    })
    .await?;
    for outcome in outcomes {
        match outcome {
            Ok(t) => {
                done.done += 1;
                done.times.push(t);
            }
            Err(e) => {
                tracing::warn!(error = %e, "a post failed");
                done.failed += 1;
            }
        }
    }
    Ok(done)
}

async fn join<U: PoolUser>(
    design: &Design,
    uris: &[String],
    users: &[Arc<U>],
    duration: Duration,
) -> Result<Done, BenchError> {
    let mut done = Done::default();
    let outcomes = schedule(design.joins_per_s(), duration, 2, |rng, _| {
        let (room, user) = design.memberships[rng.random_range(0..design.memberships.len())];
        let (member, uri) = (users[user as usize].clone(), uris[room as usize].clone());
        tokio::spawn(async move {
            member.part(&uri).await?;
            let started = Instant::now();
            member.join(&uri).await?;
            Ok::<_, BenchError>(started.elapsed())
        })
    })
    .await?;
    for outcome in outcomes {
        match outcome {
            Ok(t) => {
                done.done += 1;
                done.times.push(t);
            }
            Err(e) => {
                tracing::warn!(error = %e, "a join failed");
                done.failed += 1;
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_point_has_sixteen_rooms_per_user() {
        let d = Design::at(1.0);
        assert_eq!(
            (d.users, d.rooms.len(), d.per_size),
            (80_000, 33_077, [32_000, 1_067, 10])
        );
        assert_eq!(d.memberships.len(), 32_000 * 30 + 1_067 * 150 + 10 * 16_000);
        let of = d.rooms_of_users();
        let (fewest, most) = (
            of.iter().map(Vec::len).min().unwrap(),
            of.iter().map(Vec::len).max().unwrap(),
        );
        assert!(
            (15..=17).contains(&fewest) && (15..=17).contains(&most),
            "{fewest}..{most}"
        );
        for members in &d.rooms {
            let mut unique = members.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), members.len(), "a user twice in one room");
        }
    }

    #[test]
    fn the_largest_factor_here_has_two_rooms_of_sixteen_thousand() {
        // 20,000 descriptors less the spare, one per user: factor 0.2375.
        let d = Design::at(0.2375);
        assert_eq!((d.users, d.per_size), (19_000, [7_600, 253, 2]));
        assert_eq!(d.memberships.len(), 7_600 * 30 + 253 * 150 + 2 * 16_000);
        let largest = (0..d.rooms.len() as u32).filter(|r| d.is_largest(*r));
        assert!(
            largest
                .map(|r| d.rooms[r as usize].len())
                .all(|n| n == 16_000)
        );
    }

    #[test]
    fn a_small_factor_keeps_every_size_within_the_users() {
        let d = Design::at(0.05);
        assert_eq!((d.users, d.per_size), (4_000, [1_600, 53, 1]));
        assert_eq!(d.rooms.last().map(Vec::len), Some(4_000));
        let largest: Vec<usize> = (0..d.rooms.len() as u32)
            .filter(|r| d.is_largest(*r))
            .map(|r| d.rooms[r as usize].len())
            .collect();
        assert_eq!(largest, [4_000], "the one room of every user, and no other");
        assert!((d.messages_per_s() - 1.2).abs() < 1e-9 && (d.joins_per_s() - 0.5).abs() < 1e-9);
    }
}
