//! Fan-out: one room, M members, posts at a fixed rate (latency) and then as fast as a few
//! closed-loop posters go (throughput); the same through the baseline relay. Latency is
//! post → delivery at every member, the poster's send time carried in the text.

mod phases;
mod relay_room;

use std::sync::Arc;
use std::time::Duration;

use parlance_client::Client;
use serde::Serialize;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::Env;
use crate::delivery::{Deliveries, Shared, Tally, gather, shared};
use crate::deployment::System;
use crate::error::BenchError;
use crate::lean::{LeanRoom, Members};
use crate::measure::{EngineCpu, Latency, ProcSample, RelayLatency, Sample, per};
use crate::population;
use crate::posters::ClientPoster;
use crate::receivers::receive_client;
use crate::report::{Row, Section, TargetCheck, settings};
use crate::target::Target;
use crate::window::Window;
use crate::wire::Dialer;
use phases::Run;
use relay_room::run_relay;

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
