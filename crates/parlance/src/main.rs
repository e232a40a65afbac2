//! `parlance`: the one binary. Wiring only — the work is in the library crates.

mod admin;
mod cli;
mod migrate_store;
mod serve;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};

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
            Command::File(cmd) => admin::file::run(config()?, cmd).await,
            Command::Compliance(cmd) => admin::compliance::run(config()?, cmd).await,
            Command::Chat(args) => parlance_tui::run(args).await.map_err(Into::into),
            Command::MigrateStore(args) => migrate_store::run(args).await,
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
