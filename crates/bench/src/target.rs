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
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

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
    config.admin.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.sip.max_connections = 100_000;
    // Thousands of clients share a handful of loopback source addresses.
    config.sip.max_connections_per_address = 100_000;
    config.auth.trusted_networks = vec!["127.0.0.0/8".into()];
    config
}

/// What a scenario changes in the benchmark server's configuration; the default changes
/// nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tuning {
    /// No per-user search rate limit (the bounds on a query and its time limit still hold),
    /// so that one user's searches run back to back.
    pub unlimited_search: bool,
    /// The largest file, in bytes, and no room quota to speak of: the files scenario stores
    /// many large files in one room.
    pub max_file_bytes: Option<u64>,
    /// The chunk of `AppendChunk` and `DownloadChunk`, in KiB.
    pub max_chunk_kb: Option<u64>,
}

/// A room quota no scenario reaches (the configuration's bound is 2^44 MiB).
const UNREACHED_QUOTA_MB: u64 = 1 << 30;

impl Tuning {
    fn apply(self, config: &mut Config) {
        if self.unlimited_search {
            config.chat.search_burst = u32::MAX;
            config.chat.searches_per_minute = u32::MAX;
        }
        if let Some(bytes) = self.max_file_bytes {
            config.files.max_file_size_kb = bytes.div_ceil(1024);
            config.files.room_quota_mb = UNREACHED_QUOTA_MB;
        }
        if let Some(kib) = self.max_chunk_kb {
            config.files.max_chunk_kb = kib;
        }
    }

    /// The same tuning as `serve-child` arguments.
    fn child_args(self) -> Vec<String> {
        let mut args = Vec::new();
        if self.unlimited_search {
            args.push("--unlimited-search".to_owned());
        }
        if let Some(bytes) = self.max_file_bytes {
            args.extend(["--max-file-bytes".to_owned(), bytes.to_string()]);
        }
        if let Some(kib) = self.max_chunk_kb {
            args.extend(["--max-chunk-kb".to_owned(), kib.to_string()]);
        }
        args
    }
}

/// A running server under test.
#[derive(Debug)]
pub struct Target {
    pub tls_addr: SocketAddr,
    pub tcp_addr: SocketAddr,
    /// The HTTPS listener (file transfer).
    pub https_addr: SocketAddr,
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
        Target::start_with(data_dir, in_process, lifetime, Tuning::default()).await
    }

    /// [`Target::start`] with the configuration tuned for a scenario.
    pub async fn start_with(
        data_dir: &Path,
        in_process: bool,
        lifetime: Duration,
        tuning: Tuning,
    ) -> Result<Target, BenchError> {
        let (listening, run) = if in_process {
            let mut config = bench_config(data_dir);
            tuning.apply(&mut config);
            let server = Server::start(config, Options::default()).await?;
            (Listening::of(&server)?, Running::InProcess(server))
        } else {
            let mut args = vec![
                "serve-child".to_owned(),
                "--stop-after-secs".to_owned(),
                lifetime.as_secs().to_string(),
                "--server-data".to_owned(),
                data_dir.display().to_string(),
            ];
            args.extend(tuning.child_args());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (child, line) = ChildProc::spawn(&args).await?;
            let listening = Listening::parse(&line)
                .ok_or_else(|| BenchError::Failed(format!("the server said {line:?}")))?;
            (listening, Running::Child(child))
        };
        Ok(Target {
            tls_addr: listening.tls,
            tcp_addr: listening.tcp,
            https_addr: listening.https,
            data_dir: data_dir.to_path_buf(),
            run,
        })
    }

    /// Where SIP clients connect: the TCP listener with `tcp`, else the TLS one.
    pub fn sip_addr(&self, tcp: bool) -> SocketAddr {
        if tcp { self.tcp_addr } else { self.tls_addr }
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

    /// The key of the self-signed certificate (the bare HTTPS copy presents both).
    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("tls-key.pem")
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
        let (child, line, mut lines) = ChildProc::spawn_reading(args).await?;
        // Keep draining stdout so that the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok((child, line))
    }

    /// [`ChildProc::spawn`], handing back the rest of the child's output: the caller reads
    /// it to the end (a child whose pipe fills up blocks).
    pub async fn spawn_reading(
        args: &[&str],
    ) -> Result<(ChildProc, String, Lines<BufReader<ChildStdout>>), BenchError> {
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
        Ok((ChildProc { child, stdin, pid }, line, lines))
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

/// Where a server under test listens; the child says it in its first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Listening {
    tls: SocketAddr,
    tcp: SocketAddr,
    https: SocketAddr,
}

impl Listening {
    fn of(server: &Server) -> Result<Listening, BenchError> {
        match (server.tls_addr, server.tcp_addr, server.https_addr) {
            (Some(tls), Some(tcp), Some(https)) => Ok(Listening { tls, tcp, https }),
            _ => Err(BenchError::Failed("the server lacks a listener".into())),
        }
    }

    fn ready_line(self) -> String {
        format!(
            "ready tls={} tcp={} https={}",
            self.tls, self.tcp, self.https
        )
    }

    fn parse(line: &str) -> Option<Listening> {
        let rest = line.strip_prefix("ready tls=")?;
        let (tls, rest) = rest.split_once(" tcp=")?;
        let (tcp, https) = rest.split_once(" https=")?;
        Some(Listening {
            tls: tls.parse().ok()?,
            tcp: tcp.parse().ok()?,
            https: https.trim().parse().ok()?,
        })
    }
}

/// The child's side: runs the server, prints where it listens, and stops when stdin ends
/// (the bench process finished or died) or `lifetime` has passed.
pub async fn serve_child(
    data_dir: &Path,
    lifetime: Duration,
    tuning: Tuning,
) -> Result<(), BenchError> {
    crate::limits::raise_nofile();
    let mut config = bench_config(data_dir);
    tuning.apply(&mut config);
    let server = Server::start(config, Options::default()).await?;
    println!("{}", Listening::of(&server)?.ready_line());
    until_parent_gone(lifetime).await;
    server.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_line_round_trips() {
        let listening = Listening {
            tls: "127.0.0.1:5061".parse().unwrap(),
            tcp: "127.0.0.1:5060".parse().unwrap(),
            https: "127.0.0.1:8443".parse().unwrap(),
        };
        assert_eq!(Listening::parse(&listening.ready_line()), Some(listening));
        assert_eq!(Listening::parse("hello"), None);
    }

    #[test]
    fn tuning_reaches_the_configuration_and_the_child_alike() {
        let tuning = Tuning {
            unlimited_search: true,
            max_file_bytes: Some(100_000_000),
            max_chunk_kb: Some(4096),
        };
        let mut config = bench_config(Path::new("/d"));
        tuning.apply(&mut config);
        assert_eq!(config.files.max_file_size_kb, 97_657, "rounded up");
        assert_eq!(config.files.max_chunk_kb, 4096);
        assert_eq!(config.chat.searches_per_minute, u32::MAX);
        config.validate().expect("a valid configuration");
        assert_eq!(
            tuning.child_args(),
            [
                "--unlimited-search",
                "--max-file-bytes",
                "100000000",
                "--max-chunk-kb",
                "4096"
            ]
        );
        assert!(Tuning::default().child_args().is_empty());
    }
}
