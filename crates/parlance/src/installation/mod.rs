//! The commands that make, upgrade, rename, back up and restore an installation:
//! `parlance init|migrate|domain|backup|restore` (docs/operations.md).

mod backup;
mod manifest;
mod restore;

use std::path::PathBuf;

use clap::{Args, Subcommand};
use parlance_server::config::Config;
use parlance_server::installation::{self, Access, InstallationError};
use parlance_server::tls::Certificate;
use parlance_store::Store;

pub use backup::run as backup;
pub use restore::run as restore;

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Print the domain the installation serves.
    Show,
    /// Make the installation serve another domain. Accounts keep their addresses: add
    /// the new domain's accounts, and set `domain` in the configuration to match.
    Set { domain: String },
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// A directory to create (or an empty one) for the backup.
    pub dest: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A directory `parlance backup` wrote.
    pub src: PathBuf,
    /// Replace the installation in a data directory that is not empty.
    #[arg(long)]
    pub force: bool,
}

/// `parlance init`: creates the installation `parlance serve` would (database, server key,
/// self-signed certificate, recorded domain) without starting it, so that accounts and
/// rooms can be made first. On an existing installation it only checks it.
pub async fn init(config: Config) -> anyhow::Result<()> {
    installation::create_dir(&config)?;
    let _lock = installation::lock(&config)?;
    let existed = installation::exists(&config);
    let (store, _key) = installation::open(&config, Access::Create).await?;
    let schema = store.schema_version().await;
    store.close().await;
    let certificate = Certificate::for_config(&config)?;
    let verb = if existed { "checked" } else { "created" };
    println!(
        "{verb} the installation in {} for {} (schema {}, certificate {})",
        config.data_dir.display(),
        config.domain,
        schema?,
        certificate.info.cert_path.display()
    );
    Ok(())
}

/// `parlance migrate`: brings the database's schema to this build's, with no server
/// running on it (the lock says whether one does).
pub async fn migrate(config: Config) -> anyhow::Result<()> {
    // Before the lock file is made: a missing installation stays missing.
    if !installation::exists(&config) {
        return Err(InstallationError::Missing {
            path: config.data_dir,
        }
        .into());
    }
    let _lock = installation::lock(&config)?;
    let (store, _key) = installation::open(&config, Access::Migrate).await?;
    let schema = store.schema_version().await;
    store.close().await;
    println!(
        "the database in {} is at schema {}",
        config.data_dir.display(),
        schema?
    );
    Ok(())
}

/// `parlance domain show|set`.
pub async fn domain(config: Config, cmd: DomainCommand) -> anyhow::Result<()> {
    let (store, _key, recorded) = installation::open_any_domain(&config).await?;
    let result = match cmd {
        DomainCommand::Show => {
            println!("{}", recorded.domain);
            Ok(())
        }
        DomainCommand::Set { domain } => set_domain(&store, &recorded.domain, &domain).await,
    };
    store.close().await;
    result
}

async fn set_domain(store: &Store, old: &str, new: &str) -> anyhow::Result<()> {
    let new = new.to_ascii_lowercase();
    // The same rule as the configuration's `domain`.
    let check = Config {
        domain: new.clone(),
        ..Config::default()
    };
    check.validate()?;
    store.set_domain(&new).await?;
    println!("the installation now serves {new} (was {old})");
    println!(
        "next: set `domain = \"{new}\"` in the configuration (or --domain) and restart the server"
    );
    let old_accounts = store
        .users()
        .await?
        .iter()
        .filter(|u| u.uri.ends_with(&format!("@{old}")))
        .count();
    if old_accounts > 0 {
        // Digest secrets are bound to the realm, which is the domain unless set.
        println!(
            "{old_accounts} accounts have addresses in {old}, which is no longer served; passwords were stored for the realm {old}: keep `auth.realm = \"{old}\"` or set each password again"
        );
    }
    Ok(())
}
