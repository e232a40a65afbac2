//! The server under test: a child process running `parlance bench serve-child` (so that its
//! CPU and memory are its own), or the same server inside this process (for tests).
//! Either way it listens on 127.0.0.1 only, trusts 127.0.0.0/8 (accounts made with
//! [`parlance_store::Store::add_users_without_password`] sign in without a password) and
//! stops by itself: at the end of its lifetime, or when the bench process goes away.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
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
    // One certificate serves every node of a pool on one machine (see `Placement`).
    config.tls.hostnames = std::iter::once("localhost".to_owned())
        .chain((1..=NODE_ADDRESSES).map(|n| Ipv4Addr::new(127, 0, 0, n).to_string()))
        .collect();
    config
}

/// The loopback addresses nodes of a pool may listen on: 127.0.0.1 up to 127.0.0.<this>.
pub const NODE_ADDRESSES: u8 = 8;

/// Where a benchmark server runs and what it shares with others. By default it is alone:
/// on 127.0.0.1, with SQLite in its data directory. A node of a pool listens on a
/// loopback address of its own and names the pool's PostgreSQL, NATS and file share, and
/// its own channel URI, as the README's three nodes on one machine do.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct Placement {
    /// The loopback address the server's listeners bind (127.0.0.1 by default).
    #[arg(long)]
    pub listen_ip: Option<Ipv4Addr>,
    /// The store, `postgres://…` (SQLite in the data directory by default).
    #[arg(long)]
    pub store_url: Option<String>,
    /// The pool's NATS, `nats://…` (none: a single server).
    #[arg(long)]
    pub bus_url: Option<String>,
    /// This node's own channel URI.
    #[arg(long)]
    pub channel_uri: Option<String>,
    /// The file share of the pool's nodes.
    #[arg(long)]
    pub files_dir: Option<PathBuf>,
}

impl Placement {
    /// The address the server listens on.
    pub fn ip(&self) -> IpAddr {
        IpAddr::V4(self.listen_ip.unwrap_or(Ipv4Addr::LOCALHOST))
    }

    /// The benchmark configuration ([`bench_config`]) of a server placed so.
    pub fn config(&self, data_dir: &Path) -> Config {
        let mut config = bench_config(data_dir);
        let any_port = SocketAddr::new(self.ip(), 0);
        config.sip.tcp_listen = Some(any_port);
        config.sip.tls_listen = Some(any_port);
        config.web.listen = Some(any_port);
        config.admin.listen = Some(any_port);
        config.store.url.clone_from(&self.store_url);
        config.bus.url.clone_from(&self.bus_url);
        config.chat.channel_uri.clone_from(&self.channel_uri);
        config.files.dir.clone_from(&self.files_dir);
        config
    }

    /// The same placement as `serve-child` arguments.
    fn child_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut arg = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                args.extend([name.to_owned(), v]);
            }
        };
        arg("--listen-ip", self.listen_ip.map(|ip| ip.to_string()));
        arg("--store-url", self.store_url.clone());
        arg("--bus-url", self.bus_url.clone());
        arg("--channel-uri", self.channel_uri.clone());
        arg(
            "--files-dir",
            self.files_dir.as_ref().map(|d| d.display().to_string()),
        );
        args
    }
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
    /// How long a file transfer's step waits for chat output, at most (0: never).
    pub yield_to_chat_ms: Option<u64>,
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
        if let Some(ms) = self.yield_to_chat_ms {
            config.files.yield_to_chat_ms = ms;
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
        if let Some(ms) = self.yield_to_chat_ms {
            args.extend(["--yield-to-chat-ms".to_owned(), ms.to_string()]);
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
        let placement = Placement::default();
        Target::start_placed(data_dir, in_process, lifetime, tuning, &placement).await
    }

    /// [`Target::start_with`], the server placed as `placement` says (a node of a pool).
    pub async fn start_placed(
        data_dir: &Path,
        in_process: bool,
        lifetime: Duration,
        tuning: Tuning,
        placement: &Placement,
    ) -> Result<Target, BenchError> {
        let (listening, run) = if in_process {
            let mut config = placement.config(data_dir);
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
            args.extend(placement.child_args());
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
    placement: &Placement,
) -> Result<(), BenchError> {
    crate::limits::raise_nofile();
    let mut config = placement.config(data_dir);
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
            yield_to_chat_ms: Some(0),
        };
        let mut config = bench_config(Path::new("/d"));
        tuning.apply(&mut config);
        assert_eq!(config.files.max_file_size_kb, 97_657, "rounded up");
        assert_eq!(config.files.max_chunk_kb, 4096);
        assert_eq!(config.files.yield_to_chat_ms, 0);
        assert_eq!(config.chat.searches_per_minute, u32::MAX);
        config.validate().expect("a valid configuration");
        assert_eq!(
            tuning.child_args(),
            [
                "--unlimited-search",
                "--max-file-bytes",
                "100000000",
                "--max-chunk-kb",
                "4096",
                "--yield-to-chat-ms",
                "0"
            ]
        );
        assert!(Tuning::default().child_args().is_empty());
    }

    #[test]
    fn a_placement_reaches_the_configuration_and_the_child_alike() {
        use clap::{Args, FromArgMatches};
        let placement = Placement {
            listen_ip: Some(Ipv4Addr::new(127, 0, 0, 3)),
            store_url: Some("postgres://p@127.0.0.1:5432/b".into()),
            bus_url: Some("nats://127.0.0.1:4222".into()),
            channel_uri: Some(format!("sip:chatsrv-3@{DOMAIN}")),
            files_dir: Some(PathBuf::from("/shared")),
        };
        let config = placement.config(Path::new("/d"));
        config.validate().expect("a valid configuration");
        assert_eq!(config.sip.tls_listen, Some("127.0.0.3:0".parse().unwrap()));
        assert_eq!(config.store_url(), "postgres://p@127.0.0.1:5432/b");
        assert!(config.tls.hostnames.contains(&"127.0.0.3".to_owned()));
        let mut line = vec!["child".to_owned()];
        line.extend(placement.child_args());
        let cmd = Placement::augment_args(clap::Command::new("child"));
        let parsed = Placement::from_arg_matches(&cmd.get_matches_from(line)).unwrap();
        assert_eq!(parsed, placement);
        assert!(Placement::default().child_args().is_empty());
        assert_eq!(
            Placement::default().config(Path::new("/d")).sip.tls_listen,
            bench_config(Path::new("/d")).sip.tls_listen,
            "unplaced, a server is where it always was"
        );
    }
}
