//! `parlance bench pool-compare` (issue 16): the same loads, in one run, on one server on
//! SQLite, one on PostgreSQL + NATS, and three nodes sharing PostgreSQL and NATS on
//! 127.0.0.1–3. The loads are the fan-out (one room, paced at each of `--rates`, then
//! closed loop) and the pool design load at one factor, both with lean members by default.
//!
//! Each deployment's cost is its server processes' CPU (all nodes together) with
//! PostgreSQL's and nats-server's beside it. In the three-node run the members are dealt
//! out to the nodes in turn (member `i` signs in to node `i mod 3` and opens its chat
//! session there with the pool URI, which every node serves itself, as Lync 2013 does), so
//! two thirds of every room's deliveries cross the relay; those and the ones to members on
//! the poster's own node are measured apart, and the relay's extra latency is the difference
//! of their p99s.

use serde::Serialize;
use serde_json::json;

use crate::Env;
use crate::deployment::{Deployment, POOL_NODES, System};
use crate::engines::{EngineArgs, Engines};
use crate::error::BenchError;
use crate::fanout::{self, FanoutArgs, PhaseResult, SetupCost};
use crate::measure::{EngineCpu, Latency, RelayLatency, per};
use crate::pool::{self, MESSAGES_PER_S, StepResult};
use crate::report::{Row, Section, TargetCheck, settings};

/// PostgreSQL + NATS must deliver at least this share of SQLite's deliveries per CPU-second.
const ENGINE_RATIO_TARGET: f64 = 0.7;
/// The relay may add at most this much to the p99 of a delivery.
const RELAY_EXTRA_P99_TARGET_MS: f64 = 5.0;

/// The loads `pool-compare` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Load {
    /// One room, paced at each rate, then closed loop.
    Fanout,
    /// The pool design point scaled by `--factor`.
    DesignLoad,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PoolCompareArgs {
    /// The deployments, in the order they run.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sqlite,postgres-nats,three-nodes"
    )]
    pub deployments: Vec<Deployment>,
    /// The loads, in the order they run (each on every deployment).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "fanout,design-load"
    )]
    pub loads: Vec<Load>,
    /// Fan-out: members of the room.
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Fan-out: the paced rates in posts/s, each a fresh deployment and room; 24 is the
    /// design point's rate for the whole pool.
    #[arg(long, value_delimiter = ',', default_value = "8,24")]
    pub rates: Vec<f64>,
    /// Fan-out: seconds of each phase.
    #[arg(long, default_value_t = 5)]
    pub duration: u64,
    /// Fan-out: closed-loop posters after the last rate (0: no closed loop).
    #[arg(long, default_value_t = 4)]
    pub posters: usize,
    /// Design load: the factor of the design point.
    #[arg(long, default_value_t = 0.02)]
    pub factor: f64,
    /// Design load: seconds of load.
    #[arg(long, default_value_t = 20)]
    pub design_duration: u64,
    #[command(flatten)]
    pub engines: EngineArgs,
}

/// One deployment's figures, the same for either load, to set side by side.
#[derive(Debug, Clone, Serialize)]
struct Summary {
    deliveries: u64,
    delivered_pct: f64,
    deliveries_per_server_cpu_s: f64,
    /// With PostgreSQL's and NATS's CPU counted: the SQLite node's own figure.
    deliveries_per_deployment_cpu_s: f64,
    server_cpu_pct: f64,
    postgres_cpu_pct: Option<f64>,
    nats_cpu_pct: Option<f64>,
    bench_cpu_pct: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Three nodes: p99 to members on other nodes than the poster's, minus p99 to members
    /// on the poster's node.
    relay_extra_p99_ms: Option<f64>,
}

impl Summary {
    fn new(
        deliveries: u64,
        delivered_pct: f64,
        per_server_cpu_s: f64,
        (server_cpu_pct, bench_cpu_pct): (f64, f64),
        latency: Latency,
        engines: Option<EngineCpu>,
        relay: Option<RelayLatency>,
    ) -> Summary {
        Summary {
            deliveries,
            delivered_pct,
            deliveries_per_server_cpu_s: per_server_cpu_s,
            deliveries_per_deployment_cpu_s: engines
                .map_or(per_server_cpu_s, |e| e.deliveries_per_deployment_cpu_s),
            server_cpu_pct,
            postgres_cpu_pct: engines.and_then(|e| e.postgres_cpu_pct),
            nats_cpu_pct: engines.and_then(|e| e.nats_cpu_pct),
            bench_cpu_pct,
            p50_ms: latency.p50_ms,
            p99_ms: latency.p99_ms,
            relay_extra_p99_ms: relay.map(|r| r.extra_p99_ms),
        }
    }

    fn of_phase(p: &PhaseResult) -> Summary {
        Summary::new(
            p.deliveries,
            p.delivered_pct,
            p.deliveries_per_server_cpu_s,
            (p.server_cpu_pct, p.bench_cpu_pct),
            p.latency,
            p.engines,
            p.relay,
        )
    }

    fn of_step(s: &StepResult) -> Summary {
        Summary::new(
            s.deliveries,
            s.delivered_pct,
            s.deliveries_per_server_cpu_s,
            (s.server_cpu_pct, s.bench_cpu_pct),
            s.delivery,
            s.engines,
            s.relay,
        )
    }
}

/// What one deployment measured.
struct Measured {
    deployment: Deployment,
    /// Signing in and joining the fan-out's members (its first run).
    setup: Option<SetupCost>,
    /// The fan-out's paced phases, by rate, and its closed loop.
    paced: Vec<(f64, PhaseResult)>,
    saturated: Option<PhaseResult>,
    design: Option<StepResult>,
}

impl Measured {
    /// The fan-out's phases and their names: each paced rate, then the closed loop.
    fn phases(&self) -> Vec<(String, &PhaseResult)> {
        let paced = self
            .paced
            .iter()
            .map(|(rate, p)| (format!("paced {rate} msg/s"), p));
        let closed = self.saturated.iter().map(|s| ("closed loop".to_owned(), s));
        paced.chain(closed).collect()
    }
}

/// Deliveries per CPU-second of `pooled` against `sqlite`'s: with PostgreSQL's and NATS's
/// CPU counted, and of the node alone.
fn ratios(sqlite: &PhaseResult, pooled: &PhaseResult) -> (f64, f64) {
    let with_engines = pooled
        .engines
        .map_or(pooled.deliveries_per_server_cpu_s, |e| {
            e.deliveries_per_deployment_cpu_s
        });
    let base = sqlite.deliveries_per_server_cpu_s;
    (
        per(with_engines, base),
        per(pooled.deliveries_per_server_cpu_s, base),
    )
}

pub async fn run(env: &Env, args: &PoolCompareArgs) -> Result<Vec<Section>, BenchError> {
    let engines = if args.deployments.iter().any(|d| *d != Deployment::Sqlite) {
        Some(Engines::start(&args.engines).await?)
    } else {
        None
    };
    let system = |deployment| match &engines {
        Some(e) => System::new(deployment, e),
        None => System::single(),
    };
    let mut measured: Vec<Measured> = args
        .deployments
        .iter()
        .map(|d| Measured {
            deployment: *d,
            setup: None,
            paced: Vec::new(),
            saturated: None,
            design: None,
        })
        .collect();
    let factor = pool::clamp_factor(args.factor);
    for load in &args.loads {
        for m in &mut measured {
            tracing::info!(deployment = ?m.deployment, ?load, "pool-compare");
            match load {
                Load::Fanout => {
                    for (i, rate) in args.rates.iter().enumerate() {
                        let last = i + 1 == args.rates.len();
                        let fan = FanoutArgs {
                            members: args.members,
                            rate: *rate,
                            duration: args.duration,
                            posters: if last { args.posters } else { 0 },
                            size: 100,
                            no_baseline: true,
                        };
                        let outcome =
                            fanout::run_server_on(env, system(m.deployment), &fan).await?;
                        m.setup = m.setup.or(outcome.setup_cost);
                        m.paced.push((*rate, outcome.paced));
                        if last {
                            m.saturated = outcome.saturated;
                        }
                    }
                }
                Load::DesignLoad => {
                    let step = pool::run_factor_on(
                        env,
                        system(m.deployment),
                        factor,
                        args.design_duration,
                    )
                    .await?;
                    m.design = Some(step);
                }
            }
        }
    }
    let common = [
        (
            "deployments",
            json!(
                args.deployments
                    .iter()
                    .map(|d| d.describe())
                    .collect::<Vec<_>>()
            ),
        ),
        (
            "engines",
            json!(
                engines
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), Engines::describe)
            ),
        ),
        (
            "members_on_nodes",
            json!(format!(
                "round-robin: member i on node i mod {POOL_NODES}, its chat session there \
                 (INVITE to the pool URI)"
            )),
        ),
        ("members_driven", json!(env.members.describe())),
    ];
    let mut sections = Vec::new();
    if args.loads.contains(&Load::Fanout) {
        let mut rows = Vec::new();
        for m in &measured {
            let name = m.deployment.describe();
            if let Some(setup) = &m.setup {
                rows.push(Row::of(&format!("{name}, sign-in and join"), setup));
            }
            for (phase, p) in m.phases() {
                rows.push(Row::of(&format!("{name}, {phase}"), p));
            }
        }
        let mut s = settings(&common);
        s.insert("members".into(), json!(args.members));
        s.insert("rates_per_s".into(), json!(args.rates));
        s.insert("duration_s".into(), json!(args.duration));
        s.insert("closed_loop_posters".into(), json!(args.posters));
        sections.push(Section {
            scenario: "pool deployments: fan-out".into(),
            settings: s,
            rows,
            targets: Vec::new(),
        });
    }
    if args.loads.contains(&Load::DesignLoad) {
        let rows = measured
            .iter()
            .filter_map(|m| {
                m.design
                    .as_ref()
                    .map(|d| Row::of(m.deployment.describe(), d))
            })
            .collect();
        let mut s = settings(&common);
        s.insert("factor".into(), json!(format!("{factor:.3}")));
        s.insert("duration_s".into(), json!(args.design_duration));
        sections.push(Section {
            scenario: "pool deployments: design load".into(),
            settings: s,
            rows,
            targets: Vec::new(),
        });
    }
    sections.push(side_by_side(&measured, &common));
    Ok(sections)
}

/// The headline figures of every deployment in one table, and the two targets.
fn side_by_side(measured: &[Measured], common: &[(&str, serde_json::Value)]) -> Section {
    let mut rows = Vec::new();
    for m in measured {
        let name = m.deployment.describe();
        for (phase, p) in m.phases() {
            rows.push(Row::of(
                &format!("{name}: fan-out {phase}"),
                &Summary::of_phase(p),
            ));
        }
        if let Some(d) = &m.design {
            rows.push(Row::of(
                &format!("{name}: design load {:.3}", d.factor),
                &Summary::of_step(d),
            ));
        }
    }
    Section {
        scenario: "pool deployments side by side".into(),
        settings: settings(common),
        rows,
        targets: [engine_target(measured), relay_target(measured)]
            .into_iter()
            .flatten()
            .collect(),
    }
}

/// PostgreSQL + NATS against SQLite, one node each, on the fan-out's fastest paced phase:
/// the same posts to the same members on both (a closed loop runs each as fast as its own
/// answers come back, so the two would not do the same work), the engines' CPU counted
/// with the node's.
fn engine_target(measured: &[Measured]) -> Option<TargetCheck> {
    let find = |d: Deployment| measured.iter().find(|m| m.deployment == d);
    let (sqlite, pooled) = (find(Deployment::Sqlite)?, find(Deployment::PostgresNats)?);
    let ((rate, s), (_, p)) = (sqlite.paced.last()?, pooled.paced.last()?);
    let (ratio, node_only) = ratios(s, p);
    let closed_loop = sqlite
        .saturated
        .as_ref()
        .zip(pooled.saturated.as_ref())
        .map_or_else(String::new, |(s, p)| {
            format!("; closed loop: {:.2}", ratios(s, p).0)
        });
    Some(TargetCheck::new(
        &format!(
            "one node on PostgreSQL + NATS >= {ENGINE_RATIO_TARGET} x the SQLite node's \
             deliveries per CPU-second (PostgreSQL's and NATS's CPU counted)"
        ),
        format!(
            "{ratio:.2} at {rate} msg/s to {} members: {:.0} against {:.0} deliveries per \
             CPU-second (the node's CPU alone: {node_only:.2}){closed_loop}",
            per(s.deliveries as f64, s.posts as f64),
            ratio * s.deliveries_per_server_cpu_s,
            s.deliveries_per_server_cpu_s
        ),
        ratio >= ENGINE_RATIO_TARGET,
    ))
}

/// The relay's extra p99 in the three-node run: on the fan-out paced at the design
/// point's rate when it ran, else on the design load.
fn relay_target(measured: &[Measured]) -> Option<TargetCheck> {
    let three = measured
        .iter()
        .find(|m| m.deployment == Deployment::ThreeNodes)?;
    let at_design_rate = three
        .paced
        .iter()
        .find(|(rate, _)| (*rate - MESSAGES_PER_S).abs() < 1e-9)
        .and_then(|(rate, p)| Some((format!("fan-out paced at {rate} msg/s"), p.relay?)));
    let (where_, relay) = at_design_rate.or_else(|| {
        let d = three.design.as_ref()?;
        Some((format!("design load at factor {:.3}", d.factor), d.relay?))
    })?;
    Some(TargetCheck::new(
        &format!(
            "the relay's extra latency < {RELAY_EXTRA_P99_TARGET_MS} ms p99 (three nodes, \
             members on other nodes than the poster's against members on its own)"
        ),
        format!(
            "{:.1} ms: p99 {:.1} ms over {} deliveries across nodes, {:.1} ms over {} on the \
             poster's node ({where_})",
            relay.extra_p99_ms,
            relay.crossed.p99_ms,
            relay.crossed.count,
            relay.local.p99_ms,
            relay.local.count
        ),
        relay.extra_p99_ms < RELAY_EXTRA_P99_TARGET_MS,
    ))
}
