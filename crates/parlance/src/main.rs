//! `parlance`: the one binary. Wiring only — the work is in the library crates.

mod admin;
mod check;
mod cli;
mod installation;
mod logging;
mod migrate_store;
mod notify;
mod serve;

use std::path::Path;
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
    let logging = logging::Logging::init(cli.log_format, default_log);
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
    let chat = matches!(cli.command, Command::Chat(_));
    let result = runtime.block_on(async {
        // The client needs no server configuration.
        let config = || cli.common.config();
        match cli.command {
            Command::Init => installation::init(config()?).await,
            Command::Migrate => installation::migrate(config()?).await,
            Command::Domain(cmd) => installation::domain(config()?, cmd).await,
            Command::Backup(args) => {
                installation::backup(
                    config()?,
                    cli.common.config_path().map(Path::to_path_buf),
                    args.dest,
                )
                .await
            }
            Command::Restore(args) => installation::restore(config()?, args).await,
            Command::Serve(args) => serve::run(&cli.common, args, &logging).await,
            Command::CheckConfig(args) => check::run(&cli.common, args),
            Command::User(cmd) => admin::user::run(config()?, cmd).await,
            Command::Category(cmd) => admin::category::run(config()?, cmd).await,
            Command::Room(cmd) => admin::room::run(config()?, cmd).await,
            Command::Session(cmd) => admin::session::run(config()?, cmd).await,
            Command::File(cmd) => admin::file::run(config()?, cmd).await,
            Command::Compliance(cmd) => admin::compliance::run(config()?, cmd).await,
            Command::Pool(cmd) => admin::pool::run(config()?, cmd).await,
            Command::Chat(args) => parlance_tui::run(args).await.map_err(Into::into),
            Command::MigrateStore(args) => migrate_store::run(args).await,
            Command::Bench(args) => parlance_bench::run(args)
                .await
                .map(drop)
                .map_err(Into::into),
        }
    });
    if chat {
        // `chat --plain` reads standard input on a blocking thread whose read cannot be
        // cancelled: a runtime dropped the usual way would wait for it, so a session ended
        // by the server would hang until the next line came (or forever, with --follow).
        runtime.shutdown_background();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
