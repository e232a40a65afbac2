//! `parlance bench`: reproducible load scenarios against a real Parlance server, driven by
//! lean members (raw connections that do only what a client must, module `lean`) or by the
//! client library, with a baseline relay to compare fan-out against.
//!
//! Each scenario prepares a throw-away data directory (accounts and rooms written straight
//! into the store), starts the server as a child process (`parlance bench serve-child`, so
//! that its CPU and memory are measured apart from the load generator) listening on
//! 127.0.0.1 only, drives it for a bounded time, and reports a [`report::Section`]. The
//! whole run prints as a table and, with `--json`, is written as JSON.

mod baseline;
mod compliance;
mod delivery;
mod deployment;
mod engines;
mod error;
mod fanout;
mod files;
mod history;
mod idle;
mod joinstorm;
mod lean;
mod limits;
mod measure;
mod messages;
mod pool;
mod pool_compare;
mod population;
mod posters;
mod receivers;
mod relay;
pub mod report;
mod search_load;
mod smoke;
mod target;
mod window;
mod wire;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use compliance::ComplianceArgs;
pub use deployment::Deployment;
pub use engines::EngineArgs;
pub use error::BenchError;
pub use fanout::FanoutArgs;
pub use files::FilesArgs;
pub use history::HistoryArgs;
pub use idle::IdleArgs;
pub use joinstorm::JoinStormArgs;
pub use lean::Members;
pub use pool::PoolArgs;
pub use pool_compare::{Load, PoolCompareArgs};
use report::{Machine, Report};
pub use search_load::SearchLoadArgs;
pub use smoke::SmokeArgs;

/// `parlance bench [OPTIONS] [SCENARIO]`; without a scenario, the default suite.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub scenario: Option<Scenario>,
    #[command(flatten)]
    pub options: BenchOptions,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// Plain TCP instead of TLS.
    #[arg(long, global = true)]
    pub tcp: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,
    /// Run the server inside the bench process (its CPU and memory then include the load
    /// generator's); by default it is a child process.
    #[arg(long, global = true)]
    pub in_process: bool,
    /// Loopback source addresses (127.0.0.1 …) raw connections are spread over.
    #[arg(long, global = true, default_value_t = 16)]
    pub sources: usize,
    /// Where scratch data directories go (default: the system's temporary directory).
    #[arg(long, global = true)]
    pub work_dir: Option<PathBuf>,
    /// Servers started by a scenario stop by themselves after this many seconds.
    #[arg(long, global = true, default_value_t = 1800)]
    pub lifetime_secs: u64,
    /// How members are driven in fan-out, big room, join storm, pool and smoke (files and
    /// compliance always use the client library): `lean` raw connections that do only
    /// what a client must, or `full` clients of the client library. (Not `--members`:
    /// that is how many there are.)
    #[arg(long, global = true, value_enum, default_value_t = Members::Lean)]
    pub member_mode: Members,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Scenario {
    /// One room, M members: latency at a rate, throughput closed-loop, and the relay baseline.
    Fanout(FanoutArgs),
    /// The 16,000-member room at 10 messages/s, and the relay at the same load (no
    /// throughput phase).
    BigRoom(BigRoomArgs),
    /// N users join rooms with history at the same moment.
    JoinStorm(JoinStormArgs),
    /// History pages and searches over a store filled with many messages.
    History(HistoryArgs),
    /// Post latency in rooms of their own while one user searches in a loop.
    SearchLoad(SearchLoadArgs),
    /// N registered idle connections: server memory per connection.
    Idle(IdleArgs),
    /// The Persistent Chat pool design point scaled by a factor; searches for the largest
    /// factor with p99 delivery < 50 ms.
    Pool(PoolArgs),
    /// The fan-out and the pool design load side by side, in one run, on one server on
    /// SQLite, one on PostgreSQL + NATS, and three nodes sharing PostgreSQL and NATS on
    /// 127.0.0.1–3 (private ones started for the run unless `--postgres`/`--nats` name
    /// others).
    PoolCompare(PoolCompareArgs),
    /// A file up and down through SOAP, the plain API and a bare HTTPS copy; server memory
    /// meanwhile; chat latency with and without concurrent uploads.
    Files(FilesArgs),
    /// A million compliance outbox events exported as XML against a sequential write of
    /// the same bytes; the exporter's memory; chat latency with and without an export.
    Compliance(ComplianceArgs),
    /// A short fan-out with lean members and the relay, well under a minute: the server's
    /// CPU per delivery and its ratio to the relay's, as a report for the test command.
    Smoke(SmokeArgs),
    /// The default suite: every scenario at a size that runs in a few minutes.
    Suite,
    /// Internal: the server process a scenario starts.
    #[command(hide = true)]
    ServeChild {
        #[arg(long)]
        server_data: PathBuf,
        #[arg(long)]
        stop_after_secs: u64,
        /// Lift the per-user search rate limit (the `search-load` scenario).
        #[arg(long)]
        unlimited_search: bool,
        /// The largest file in bytes, and no room quota to speak of (the `files` scenario).
        #[arg(long)]
        max_file_bytes: Option<u64>,
        /// The SOAP chunk in KiB (the `files` scenario's `--chunk-kb`).
        #[arg(long)]
        max_chunk_kb: Option<u64>,
        /// `files.yield_to_chat_ms` (the `files` scenario's `--yield-to-chat-ms`).
        #[arg(long)]
        yield_to_chat_ms: Option<u64>,
        /// Where it listens and what it shares: a node of a pool (`pool-compare`).
        #[command(flatten)]
        placement: target::Placement,
    },
    /// Internal: the exporting process of the compliance scenario.
    #[command(hide = true)]
    ExportChild {
        #[arg(long)]
        server_data: PathBuf,
        /// The archive directory.
        #[arg(long)]
        out: PathBuf,
        /// The last event exported: its time in unix nanoseconds.
        #[arg(long)]
        until: i64,
        #[arg(long)]
        stop_after_secs: u64,
    },
    /// Internal: the baseline relay process.
    #[command(hide = true)]
    RelayChild {
        #[arg(long)]
        cert: Option<PathBuf>,
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long)]
        stop_after_secs: u64,
    },
    /// Internal: the bare HTTPS copy the files scenario compares with.
    #[command(hide = true)]
    BareChild {
        #[arg(long)]
        cert: PathBuf,
        #[arg(long)]
        key: PathBuf,
        /// Where the files it is sent go.
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        stop_after_secs: u64,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct BigRoomArgs {
    #[arg(long, default_value_t = 16_000)]
    pub members: usize,
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Skip the baseline relay at the same size and rate (how fast the bytes alone go).
    #[arg(long)]
    pub no_baseline: bool,
}

/// What every scenario is given.
#[derive(Debug, Clone)]
pub struct Env {
    pub tcp: bool,
    pub in_process: bool,
    pub sources: usize,
    pub work_dir: PathBuf,
    pub lifetime: Duration,
    pub members: Members,
}

impl Env {
    pub fn new(options: &BenchOptions) -> Env {
        Env {
            tcp: options.tcp,
            in_process: options.in_process,
            sources: options.sources.max(1),
            work_dir: options.work_dir.clone().unwrap_or_else(std::env::temp_dir),
            lifetime: Duration::from_secs(options.lifetime_secs),
            members: options.member_mode,
        }
    }

    /// A fresh directory for one scenario's data.
    pub fn scratch(&self, what: &str) -> Result<PathBuf, BenchError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = self.work_dir.join(format!(
            "parlance-bench-{what}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)
            .map_err(BenchError::io(format!("creating {}", dir.display())))?;
        Ok(dir)
    }

    pub fn remove(&self, dir: &Path) {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "scratch directory left behind");
        }
    }
}

/// Runs what `args` asks for: prints the table, writes the JSON, returns the report
/// (`None` for the internal child processes).
pub async fn run(args: BenchArgs) -> Result<Option<Report>, BenchError> {
    let scenario = args.scenario.unwrap_or(Scenario::Suite);
    match &scenario {
        Scenario::ServeChild {
            server_data,
            stop_after_secs,
            unlimited_search,
            max_file_bytes,
            max_chunk_kb,
            yield_to_chat_ms,
            placement,
        } => {
            let tuning = target::Tuning {
                unlimited_search: *unlimited_search,
                max_file_bytes: *max_file_bytes,
                max_chunk_kb: *max_chunk_kb,
                yield_to_chat_ms: *yield_to_chat_ms,
            };
            let lifetime = Duration::from_secs(*stop_after_secs);
            target::serve_child(server_data, lifetime, tuning, placement).await?;
            return Ok(None);
        }
        Scenario::RelayChild {
            cert,
            key,
            stop_after_secs,
        } => {
            let tls = cert.as_deref().zip(key.as_deref());
            relay::relay_child(tls, Duration::from_secs(*stop_after_secs)).await?;
            return Ok(None);
        }
        Scenario::BareChild {
            cert,
            key,
            dir,
            stop_after_secs,
        } => {
            files::bare_child(cert, key, dir, Duration::from_secs(*stop_after_secs)).await?;
            return Ok(None);
        }
        Scenario::ExportChild {
            server_data,
            out,
            until,
            stop_after_secs,
        } => {
            let lifetime = Duration::from_secs(*stop_after_secs);
            compliance::export_child(server_data, out, *until, lifetime).await?;
            return Ok(None);
        }
        _ => {}
    }
    let report = run_scenarios(&Env::new(&args.options), &scenario).await?;
    println!("{}", report.table());
    if let Some(path) = &args.options.json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| BenchError::Failed(e.to_string()))?;
        std::fs::write(path, text)
            .map_err(BenchError::io(format!("writing {}", path.display())))?;
    }
    Ok(Some(report))
}

/// Runs one scenario (or the suite) and gathers the report.
pub async fn run_scenarios(env: &Env, scenario: &Scenario) -> Result<Report, BenchError> {
    let nofile = limits::raise_nofile();
    tracing::info!(nofile, "open-file limit");
    let date = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string());
    let mut sections = Vec::new();
    match scenario {
        Scenario::Fanout(a) => sections.push(fanout::run(env, a, "fan-out", true).await?),
        Scenario::BigRoom(a) => sections.push(big_room(env, a).await?),
        Scenario::JoinStorm(a) => sections.push(joinstorm::run(env, a).await?),
        Scenario::History(a) => sections.push(history::run(env, a).await?),
        Scenario::SearchLoad(a) => sections.push(search_load::run(env, a).await?),
        Scenario::Idle(a) => sections.push(idle::run(env, a).await?),
        Scenario::Pool(a) => sections.push(pool::run(env, a).await?),
        Scenario::PoolCompare(a) => sections.extend(pool_compare::run(env, a).await?),
        Scenario::Files(a) => sections.push(files::run(env, a).await?),
        Scenario::Compliance(a) => sections.push(compliance::run(env, a).await?),
        Scenario::Smoke(a) => sections.push(smoke::run(env, a).await?),
        Scenario::Suite => {
            let fan = FanoutArgs {
                members: 1000,
                rate: 20.0,
                duration: 10,
                posters: 8,
                size: 100,
                no_baseline: false,
            };
            sections.push(fanout::run(env, &fan, "fan-out", true).await?);
            sections.push(
                big_room(
                    env,
                    &BigRoomArgs {
                        members: 4000,
                        rate: 10.0,
                        duration: 10,
                        no_baseline: false,
                    },
                )
                .await?,
            );
            sections.push(
                joinstorm::run(
                    env,
                    &JoinStormArgs {
                        users: 1000,
                        rooms: 10,
                        history: 200,
                    },
                )
                .await?,
            );
            sections.push(
                history::run(
                    env,
                    &HistoryArgs {
                        messages: 200_000,
                        rooms: 10,
                        cache: None,
                        samples: 200,
                    },
                )
                .await?,
            );
            sections.push(idle::run(env, &IdleArgs { connections: 5000 }).await?);
            let pool = PoolArgs {
                factor: Some(0.02),
                start: 0.02,
                steps: 1,
                duration: 20,
            };
            sections.push(pool::run(env, &pool).await?);
            let files = FilesArgs {
                size_mb: 100,
                rounds: 1,
                members: 1000,
                rate: 5.0,
                duration: 5,
                uploads: 50,
                upload_mb: 4,
                chunk_kb: None,
                upload_mb_per_s: None,
                yield_to_chat_ms: None,
            };
            sections.push(files::run(env, &files).await?);
            let compliance = ComplianceArgs {
                events: 200_000,
                content_bytes: 100,
                members: 1000,
                rate: 5.0,
                duration: 5,
            };
            sections.push(compliance::run(env, &compliance).await?);
        }
        Scenario::ServeChild { .. }
        | Scenario::RelayChild { .. }
        | Scenario::BareChild { .. }
        | Scenario::ExportChild { .. } => {}
    }
    Ok(Report {
        date,
        machine: Machine::detect(),
        transport: if env.tcp { "TCP" } else { "TLS" }.into(),
        server: target::Target::describe(env.in_process).into(),
        sections,
    })
}

async fn big_room(env: &Env, a: &BigRoomArgs) -> Result<report::Section, BenchError> {
    let args = FanoutArgs {
        members: a.members,
        rate: a.rate,
        duration: a.duration,
        posters: 0,
        size: 100,
        no_baseline: a.no_baseline,
    };
    fanout::run(env, &args, "big room", true).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, FromArgMatches};

    #[test]
    fn the_command_line_is_consistent_and_reaches_the_children() {
        let cmd = BenchArgs::augment_args(clap::Command::new("bench"));
        cmd.clone().debug_assert();
        let matches = cmd
            .try_get_matches_from([
                "bench",
                "serve-child",
                "--stop-after-secs",
                "5",
                "--server-data",
                "/d",
            ])
            .unwrap();
        let args = BenchArgs::from_arg_matches(&matches).unwrap();
        assert!(matches!(
            args.scenario,
            Some(Scenario::ServeChild {
                stop_after_secs: 5,
                ..
            })
        ));
    }

    #[test]
    fn the_member_mode_is_lean_unless_asked_and_apart_from_the_member_count() {
        let cmd = BenchArgs::augment_args(clap::Command::new("bench"));
        let parse = |line: &[&str]| {
            let matches = cmd.clone().try_get_matches_from(line).unwrap();
            BenchArgs::from_arg_matches(&matches).unwrap()
        };
        let args = parse(&[
            "bench",
            "fanout",
            "--members",
            "10",
            "--member-mode",
            "full",
        ]);
        assert_eq!(args.options.member_mode, Members::Full);
        assert!(matches!(
            args.scenario,
            Some(Scenario::Fanout(FanoutArgs { members: 10, .. }))
        ));
        let args = parse(&["bench", "smoke"]);
        assert_eq!(args.options.member_mode, Members::Lean);
    }
}
