//! The command line: global settings and the subcommands, each defined by the module or
//! crate that runs it.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use parlance_server::config::Config;

use crate::logging::LogFormat;
use crate::{admin, check, installation, migrate_store, serve};

#[derive(Debug, Parser)]
#[command(
    name = "parlance",
    version,
    about = "Persistent group chat server for Lync / OCS Group Chat clients"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    /// How log lines look on stderr: text (coloured on a terminal only) or one JSON object
    /// per line.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        env = "PARLANCE_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
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
    /// Run the server (creating the installation on first start).
    Serve(serve::ServeArgs),
    /// Create the installation (database, server key, certificate, domain) without
    /// starting the server; on an existing one, check it.
    Init,
    /// Upgrade the database's schema to this version's (stop the server first).
    Migrate,
    /// Show or change the domain the installation serves.
    #[command(subcommand)]
    Domain(installation::DomainCommand),
    /// Copy the installation (database, key, certificates, files, configuration) into a
    /// new directory, whether the server runs or not.
    Backup(installation::BackupArgs),
    /// Put a backup back into the data directory (the server must be stopped).
    Restore(installation::RestoreArgs),
    /// Check a configuration file without starting anything; exits non-zero naming what is
    /// wrong.
    CheckConfig(check::CheckArgs),
    /// Manage user accounts (works whether the server runs or not).
    #[command(subcommand)]
    User(admin::user::UserCommand),
    /// Manage categories (rooms live in categories).
    #[command(subcommand)]
    Category(admin::category::CategoryCommand),
    /// Manage rooms and who holds which role in them.
    #[command(subcommand)]
    Room(admin::room::RoomCommand),
    /// See who is signed in to the running server, and end a user's sessions.
    #[command(subcommand)]
    Session(admin::session::SessionCommand),
    /// List and remove the files posted into rooms.
    #[command(subcommand)]
    File(admin::file::FileCommand),
    /// Archive the compliance outbox, apply history retention now, and place legal holds
    /// that suspend it (works whether the server runs or not).
    #[command(subcommand)]
    Compliance(admin::compliance::ComplianceCommand),
    /// The servers sharing this store (a pool): their load and heartbeats.
    #[command(subcommand)]
    Pool(admin::pool::PoolCommand),
    /// Chat from the terminal (a client of any Parlance server).
    Chat(parlance_tui::ChatArgs),
    /// Measure this machine: load scenarios against a real server (see BENCHMARKS.md).
    Bench(parlance_bench::BenchArgs),
    /// Copy a SQLite installation into an empty PostgreSQL database (server stopped).
    MigrateStore(migrate_store::MigrateStoreArgs),
}

impl Common {
    pub fn config(&self) -> anyhow::Result<Config> {
        self.config_from(self.config.as_deref())
    }

    /// The file `--config` names, if any.
    pub fn config_path(&self) -> Option<&Path> {
        self.config.as_deref()
    }

    /// The configuration in `path` (the built-in one without), with the command line's
    /// overrides, validated.
    pub fn config_from(&self, path: Option<&Path>) -> anyhow::Result<Config> {
        let mut config = match path {
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
