//! The server under test: a child process running `parlance bench serve-child` (so that its
//! CPU and memory are its own), or the same server inside this process (for tests).
//! Either way it listens on 127.0.0.1 only, trusts 127.0.0.0/8 (accounts made with
//! [`parlance_store::Store::add_users_without_password`] sign in without a password) and
//! stops by itself: at the end of its lifetime, or when the bench process goes away.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use parlance_server::config::Config;
use parlance_server::{Options, Server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::error::BenchError;
use crate::measure::ProcSample;

/// The SIP domain of every benchmark account.
pub const DOMAIN: &str = "bench.test";

/// The configuration every benchmark server runs with: the defaults, loopback listeners,
/// passwordless sign-in from loopback, and room for the largest scenario's connections.
pub fn bench_config(data_dir: &Path) -> Config {
    let mut config = Config {
        domain: DOMAIN.into(),
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    };
    config.sip.tcp_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.sip.tls_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.web.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.sip.max_connections = 100_000;
    // Thousands of clients share a handful of loopback source addresses.
    config.sip.max_connections_per_address = 100_000;
    config.auth.trusted_networks = vec!["127.0.0.0/8".into()];
    config
}

/// How the server under test limits each user's searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchRate {
    /// The configured default.
    Default,
    /// No rate limit (the bounds on a query and its time limit still hold), so that one
    /// user's searches run back to back.
    Unlimited,
}

impl SearchRate {
    fn apply(self, config: &mut Config) {
        if self == SearchRate::Unlimited {
            config.chat.search_burst = u32::MAX;
            config.chat.searches_per_minute = u32::MAX;
        }
    }
}

/// A running server under test.
#[derive(Debug)]
pub struct Target {
    pub tls_addr: SocketAddr,
    pub tcp_addr: SocketAddr,
    pub data_dir: PathBuf,
    run: Running,
}

#[derive(Debug)]
enum Running {
    Child(ChildProc),
    InProcess(Server),
}

impl Target {
    /// Starts the server on `data_dir` (already holding the scenario's accounts and rooms).
    pub async fn start(
        data_dir: &Path,
        in_process: bool,
        lifetime: Duration,
    ) -> Result<Target, BenchError> {
        Target::start_with(data_dir, in_process, lifetime, SearchRate::Default).await
    }

    /// [`Target::start`] with a search rate limit of choice.
    pub async fn start_with(
        data_dir: &Path,
        in_process: bool,
        lifetime: Duration,
        search_rate: SearchRate,
    ) -> Result<Target, BenchError> {
        if in_process {
            let mut config = bench_config(data_dir);
            search_rate.apply(&mut config);
            let server = Server::start(config, Options::default()).await?;
            let addr = |a: Option<SocketAddr>| {
                a.ok_or_else(|| BenchError::Failed("the server has no listener".into()))
            };
            return Ok(Target {
                tls_addr: addr(server.tls_addr)?,
                tcp_addr: addr(server.tcp_addr)?,
                data_dir: data_dir.to_path_buf(),
                run: Running::InProcess(server),
            });
        }
        let lifetime = lifetime.as_secs().to_string();
        let data = data_dir.display().to_string();
        let mut args = vec![
            "serve-child",
            "--stop-after-secs",
            &lifetime,
            "--server-data",
            &data,
        ];
        if search_rate == SearchRate::Unlimited {
            args.push("--unlimited-search");
        }
        let (child, line) = ChildProc::spawn(&args).await?;
        let (tls_addr, tcp_addr) = parse_ready(&line)
            .ok_or_else(|| BenchError::Failed(format!("the server said {line:?}")))?;
        Ok(Target {
            tls_addr,
            tcp_addr,
            data_dir: data_dir.to_path_buf(),
            run: Running::Child(child),
        })
    }

    /// The process whose CPU and memory are the server's.
    pub fn pid(&self) -> u32 {
        match &self.run {
            Running::Child(c) => c.pid,
            Running::InProcess(_) => std::process::id(),
        }
    }

    pub fn sample(&self) -> ProcSample {
        ProcSample::read(self.pid())
    }

    pub fn cert_path(&self) -> PathBuf {
        self.data_dir.join("tls-cert.pem")
    }

    pub fn describe(in_process: bool) -> &'static str {
        if in_process {
            "in-process (CPU and memory include the load generator)"
        } else {
            "child process"
        }
    }

    pub async fn stop(self) {
        match self.run {
            Running::Child(child) => child.stop().await,
            Running::InProcess(server) => server.shutdown().await,
        }
    }
}

/// A `parlance bench …-child` process: it prints one line when ready, and ends when its
/// stdin closes (so also when this process dies) or its lifetime is over.
#[derive(Debug)]
pub struct ChildProc {
    child: Child,
    stdin: Option<ChildStdin>,
    pub pid: u32,
}

impl ChildProc {
    /// Runs `parlance bench ARGS…` with this process's own binary; returns its first line.
    pub async fn spawn(args: &[&str]) -> Result<(ChildProc, String), BenchError> {
        let exe = std::env::current_exe().map_err(BenchError::io("finding the parlance binary"))?;
        let mut child = Command::new(exe)
            .arg("bench")
            .args(args)
            .env("PARLANCE_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(BenchError::io("starting a benchmark process"))?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::Failed("the benchmark process exited at once".into()))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Failed("no stdout from the benchmark process".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .map_err(|_| {
                BenchError::Failed("the benchmark process did not start within 60 s".into())
            })?
            .map_err(BenchError::io("reading from the benchmark process"))?
            .ok_or_else(|| {
                BenchError::Failed("the benchmark process ended before it was ready".into())
            })?;
        // Keep draining stdout so that the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok((ChildProc { child, stdin, pid }, line))
    }

    pub async fn stop(mut self) {
        // Closing stdin asks the child to stop; it has a few seconds to do so.
        drop(self.stdin.take());
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Resolves when stdin ends (the bench process finished or died) or `lifetime` passed.
pub async fn until_parent_gone(lifetime: Duration) {
    let mut stdin = tokio::io::stdin();
    let mut sink = [0u8; 64];
    let parent_gone = async { while matches!(stdin.read(&mut sink).await, Ok(n) if n > 0) {} };
    tokio::select! {
        () = parent_gone => {}
        () = tokio::time::sleep(lifetime) => tracing::warn!("benchmark process lifetime over"),
    }
}

fn ready_line(tls: SocketAddr, tcp: SocketAddr) -> String {
    format!("ready tls={tls} tcp={tcp}")
}

fn parse_ready(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let rest = line.strip_prefix("ready tls=")?;
    let (tls, tcp) = rest.split_once(" tcp=")?;
    Some((tls.parse().ok()?, tcp.trim().parse().ok()?))
}

/// The child's side: runs the server, prints where it listens, and stops when stdin ends
/// (the bench process finished or died) or `lifetime` has passed.
pub async fn serve_child(
    data_dir: &Path,
    lifetime: Duration,
    search_rate: SearchRate,
) -> Result<(), BenchError> {
    crate::limits::raise_nofile();
    let mut config = bench_config(data_dir);
    search_rate.apply(&mut config);
    let server = Server::start(config, Options::default()).await?;
    let (Some(tls), Some(tcp)) = (server.tls_addr, server.tcp_addr) else {
        return Err(BenchError::Failed("the server has no listener".into()));
    };
    println!("{}", ready_line(tls, tcp));
    until_parent_gone(lifetime).await;
    server.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_line_round_trips() {
        let (a, b): (SocketAddr, SocketAddr) = (
            "127.0.0.1:5061".parse().unwrap(),
            "127.0.0.1:5060".parse().unwrap(),
        );
        assert_eq!(parse_ready(&ready_line(a, b)), Some((a, b)));
        assert_eq!(parse_ready("hello"), None);
    }
}
