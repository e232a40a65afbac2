//! `parlance`: the one binary. Wiring only — the work is in the library crates.

mod admin;
mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use parlance_server::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "parlance",
    version,
    about = "Persistent group chat server for Lync / OCS Group Chat clients"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

/// Settings every command reads, so that the admin commands find the server's data.
#[derive(Debug, Args)]
struct Common {
    /// Configuration file (TOML); without it the embedded defaults apply.
    #[arg(long, global = true, env = "PARLANCE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (database, keys, certificates); overrides the file.
    #[arg(long, global = true, env = "PARLANCE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// SIP domain; overrides the file.
    #[arg(long, global = true, env = "PARLANCE_DOMAIN")]
    domain: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Manage user accounts (works whether the server runs or not).
    #[command(subcommand)]
    User(admin::user::UserCommand),
    /// Manage categories (rooms live in categories).
    #[command(subcommand)]
    Category(admin::category::CategoryCommand),
    /// Manage rooms and who holds which role in them.
    #[command(subcommand)]
    Room(admin::room::RoomCommand),
    /// Chat from the terminal (a client of any Parlance server).
    Chat(parlance_tui::ChatArgs),
    /// Measure this machine: load scenarios against a real server (see BENCHMARKS.md).
    Bench(parlance_bench::BenchArgs),
}

impl Common {
    fn config(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(domain) = &self.domain {
            config.domain = domain.to_ascii_lowercase();
        }
        config.validate()?;
        Ok(config)
    }
}

/// A listen address given on the command line, or "off".
#[derive(Debug, Clone, Copy)]
struct Listen(Option<SocketAddr>);

fn parse_listen(s: &str) -> Result<Listen, String> {
    if s.is_empty() || s == "off" {
        return Ok(Listen(None));
    }
    s.parse()
        .map(|a| Listen(Some(a)))
        .map_err(|e| format!("{s:?}: {e} (use e.g. 0.0.0.0:5060, or \"off\")"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The chat client draws on the terminal: it logs only when asked to.
    let default_log = if matches!(cli.command, Command::Chat(_)) {
        "off"
    } else {
        "info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PARLANCE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        // The client needs no server configuration.
        let config = || cli.common.config();
        match cli.command {
            Command::Serve(args) => serve::run(config()?, args).await,
            Command::User(cmd) => admin::user::run(config()?, cmd).await,
            Command::Category(cmd) => admin::category::run(config()?, cmd).await,
            Command::Room(cmd) => admin::room::run(config()?, cmd).await,
            Command::Chat(args) => parlance_tui::run(args).await.map_err(Into::into),
            Command::Bench(args) => parlance_bench::run(args)
                .await
                .map(drop)
                .map_err(Into::into),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
