//! The engines a pool runs on, PostgreSQL and NATS: private ones the bench starts through the
//! test kit (`parlance_testkit`: `initdb` and `nats-server` from their Debian packages, on
//! free loopback ports in temporary directories, as `nobody` where PostgreSQL would run as
//! root; they stop when the bench process ends), or ones named by URL. Each run gets a
//! database of its own, dropped afterwards.
//!
//! Their CPU is part of what a pool costs, so it is measured beside the servers': the
//! process listening on each engine's loopback port is found through `/proc`, and
//! PostgreSQL is counted with every process it started (one backend per connection).

use std::sync::atomic::{AtomicU64, Ordering};

use parlance_testkit::nats::Nats;
use sqlx::Connection;

use crate::error::BenchError;
use crate::measure::{ProcSample, parent_of, processes};

/// PostgreSQL and NATS already running, instead of private ones.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EngineArgs {
    /// A PostgreSQL server the bench may create and drop databases on, as the URL of a
    /// database to connect to for that (`postgres://me@127.0.0.1:5432/postgres`); by
    /// default a private one is started.
    #[arg(long)]
    pub postgres: Option<String>,
    /// A NATS server (`nats://127.0.0.1:4222`); by default a private one is started.
    #[arg(long)]
    pub nats: Option<String>,
}

/// PostgreSQL and NATS for the pooled deployments of one run.
#[derive(Debug)]
pub struct Engines {
    /// Where databases are created and dropped from.
    admin_url: String,
    nats_url: String,
    /// Held, never used: dropping it stops the private NATS.
    _nats: Option<Nats>,
    postgres_pid: Option<u32>,
    nats_pid: Option<u32>,
    /// Whether PostgreSQL is the test kit's, configured for tests (no fsync).
    private_postgres: bool,
}

/// Databases made by this process.
static DATABASES: AtomicU64 = AtomicU64::new(0);

impl Engines {
    /// Starts what `args` does not name.
    pub async fn start(args: &EngineArgs) -> Result<Engines, BenchError> {
        let admin_url = match &args.postgres {
            Some(url) => url.clone(),
            None => {
                // The test kit's server starts with its first database (initdb and
                // pg_ctl: seconds of blocking work, and a panic naming the missing
                // package when PostgreSQL is not installed).
                let runtime = tokio::runtime::Handle::current();
                let url = blocking(move || {
                    runtime.block_on(parlance_testkit::postgres::fresh_database())
                })
                .await?;
                with_database(&url, "postgres")?
            }
        };
        let (nats_url, nats) = match &args.nats {
            Some(url) => (url.clone(), None),
            None => {
                let nats = blocking(Nats::start).await?;
                (nats.url(), Some(nats))
            }
        };
        let postgres_pid = port_of(&admin_url, 5432).and_then(pid_listening);
        let nats_pid = port_of(&nats_url, 4222).and_then(pid_listening);
        tracing::info!(
            postgres = admin_url,
            nats = nats_url,
            ?postgres_pid,
            ?nats_pid,
            "engines"
        );
        Ok(Engines {
            admin_url,
            nats_url,
            _nats: nats,
            postgres_pid,
            nats_pid,
            private_postgres: args.postgres.is_none(),
        })
    }

    /// What the report says they are.
    pub fn describe(&self) -> String {
        let measured = |pid: Option<u32>| match pid {
            Some(_) => "CPU measured",
            None => "CPU not measured (not a process on this machine's loopback)",
        };
        format!(
            "PostgreSQL {} ({}), NATS {} ({}){}",
            self.admin_url,
            measured(self.postgres_pid),
            self.nats_url,
            measured(self.nats_pid),
            if self.private_postgres {
                "; PostgreSQL private, configured as for the tests: fsync, \
                 synchronous_commit and full_page_writes off"
            } else {
                ""
            }
        )
    }

    pub fn nats_url(&self) -> &str {
        &self.nats_url
    }

    /// The URL of a new, empty database.
    pub async fn database(&self) -> Result<String, BenchError> {
        let name = format!(
            "bench_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        self.admin(&format!("CREATE DATABASE {name}")).await?;
        with_database(&self.admin_url, &name)
    }

    /// Drops a database [`Engines::database`] made; a failure is logged, not fatal.
    pub async fn drop_database(&self, url: &str) {
        let name = database_of(url);
        if let Err(e) = self
            .admin(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await
        {
            tracing::warn!(database = name, error = %e, "a benchmark database left behind");
        }
    }

    async fn admin(&self, statement: &str) -> Result<(), BenchError> {
        let failed = |e: sqlx::Error| BenchError::Failed(format!("PostgreSQL: {statement}: {e}"));
        let mut admin = sqlx::PgConnection::connect(&self.admin_url)
            .await
            .map_err(failed)?;
        sqlx::raw_sql(statement)
            .execute(&mut admin)
            .await
            .map_err(failed)?;
        admin.close().await.map_err(failed)
    }

    /// PostgreSQL's and NATS's CPU and memory now, where their processes were found.
    pub fn sample(&self) -> (Option<ProcSample>, Option<ProcSample>) {
        (
            self.postgres_pid.map(ProcSample::read_tree),
            self.nats_pid.map(ProcSample::read_tree),
        )
    }
}

/// Runs blocking start-up work off the runtime; a panic (the test kit's way of saying
/// that a program is missing) becomes an error carrying its message.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BenchError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        let message = match e.try_into_panic() {
            Ok(panic) => panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic".to_owned()),
            Err(e) => e.to_string(),
        };
        BenchError::Failed(format!("starting PostgreSQL or NATS: {message}"))
    })
}

/// `url` naming database `name` instead of its own (any `?…` parameters kept).
fn with_database(url: &str, name: &str) -> Result<String, BenchError> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base
        .strip_prefix("postgres://")
        .or_else(|| base.strip_prefix("postgresql://"))
        .and_then(|rest| rest.rsplit_once('/'))
        .ok_or_else(|| {
            BenchError::Failed(format!("{url}: not postgres://user@host:port/database"))
        })?;
    Ok(match query {
        Some(q) => format!("postgres://{server}/{name}?{q}"),
        None => format!("postgres://{server}/{name}"),
    })
}

/// The database a URL names.
fn database_of(url: &str) -> &str {
    let base = url.split_once('?').map_or(url, |(b, _)| b);
    base.rsplit_once('/').map_or(base, |(_, name)| name)
}

/// The port of a `scheme://[user@]host[:port][/…]` URL whose host is a loopback address
/// (`default` when it names none); `None` for another host, whose processes are not here.
fn port_of(url: &str, default: u16) -> Option<u16> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (host_port, default),
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback.then_some(port)
}

/// The process listening on loopback TCP `port`: the socket's inode from `/proc/net/tcp`,
/// then the process holding it among the open files in `/proc/*/fd` (the topmost one,
/// should its children have inherited the socket).
fn pid_listening(port: u16) -> Option<u32> {
    const LISTEN: &str = "0A";
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            // sl, local_address (hex address:port), rem_address, st, …, inode (10th).
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields
                .get(1)
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port)
                && fields.get(3) == Some(&LISTEN)
                && let Some(inode) = fields.get(9)
            {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let holders: Vec<u32> = processes()
        .filter(|(_, dir)| {
            let fds = std::fs::read_dir(dir.join("fd")).into_iter().flatten();
            fds.flatten().any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
            })
        })
        .map(|(pid, _)| pid)
        .collect();
    holders
        .iter()
        .copied()
        .find(|pid| parent_of(*pid).is_none_or(|p| !holders.contains(&p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_rewritten_and_read() {
        assert_eq!(
            with_database("postgres://me@127.0.0.1:5432/postgres", "b1").unwrap(),
            "postgres://me@127.0.0.1:5432/b1"
        );
        assert_eq!(
            with_database("postgresql://me@h/postgres?sslmode=disable", "b2").unwrap(),
            "postgres://me@h/b2?sslmode=disable"
        );
        assert!(with_database("sqlite:x.db", "b").is_err());
        assert_eq!(database_of("postgres://me@h:1/b3?x=y"), "b3");
    }

    #[test]
    fn only_loopback_engines_are_looked_for() {
        assert_eq!(port_of("postgres://me@127.0.0.1:6000/db", 5432), Some(6000));
        assert_eq!(port_of("postgres://localhost/db", 5432), Some(5432));
        assert_eq!(port_of("nats://127.0.0.1:4223", 4222), Some(4223));
        assert_eq!(port_of("nats://db.example.com:4222", 4222), None);
    }

    #[tokio::test]
    async fn the_listener_of_a_port_is_this_process() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(pid_listening(port), Some(std::process::id()));
        drop(listener);
        assert_eq!(pid_listening(port), None);
    }
}
