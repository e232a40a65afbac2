//! The command line: global settings and the subcommands, each defined by the module or
//! crate that runs it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use parlance_server::config::Config;

use crate::{admin, migrate_store, serve};

#[derive(Debug, Parser)]
#[command(
    name = "parlance",
    version,
    about = "Persistent group chat server for Lync / OCS Group Chat clients"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command reads, so that the admin commands find the server's data.
#[derive(Debug, Args)]
pub struct Common {
    /// Configuration file (TOML); without it the embedded defaults apply.
    #[arg(long, global = true, env = "PARLANCE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (database, keys, certificates); overrides the file.
    #[arg(long, global = true, env = "PARLANCE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// SIP domain; overrides the file.
    #[arg(long, global = true, env = "PARLANCE_DOMAIN")]
    domain: Option<String>,
    /// Store URL (`sqlite:PATH` or `postgres://user@host/db`); overrides the file's
    /// `store.url`.
    #[arg(long, global = true, env = "PARLANCE_STORE", value_name = "URL")]
    store: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
    /// List and remove the files posted into rooms.
    #[command(subcommand)]
    File(admin::file::FileCommand),
    /// Archive the compliance outbox, apply history retention now, and place legal holds
    /// that suspend it (works whether the server runs or not).
    #[command(subcommand)]
    Compliance(admin::compliance::ComplianceCommand),
    /// Chat from the terminal (a client of any Parlance server).
    Chat(parlance_tui::ChatArgs),
    /// Measure this machine: load scenarios against a real server (see BENCHMARKS.md).
    Bench(parlance_bench::BenchArgs),
    /// Copy a SQLite installation into an empty PostgreSQL database (server stopped).
    MigrateStore(migrate_store::MigrateStoreArgs),
}

impl Common {
    pub fn config(&self) -> anyhow::Result<Config> {
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
        if let Some(store) = &self.store {
            config.store.url = Some(store.clone());
        }
        config.validate()?;
        Ok(config)
    }
}
