//! `parlance restore SRC`: puts a backup back into the configured data directory.
//!
//! Nothing is replaced before the whole backup is verified against its manifest, and the
//! data directory's lock is held throughout, so that no server runs on it meanwhile (and
//! a running one makes the restore refuse). The database is put in place last: until it
//! is there, the directory holds no installation a command would open.

use std::path::Path;

use anyhow::{Context, bail};
use parlance_server::config::Config;
use parlance_server::installation::{self, InstallationError};
use parlance_store::{Store, StoreUrl};

use super::RestoreArgs;
use super::manifest::{self, CONFIG_DIR, FILES_DIR, Manifest};

/// What a data directory holds of an installation: what a forced restore replaces.
const INSTALLATION_FILES: [&str; 6] = [
    "parlance.db",
    "parlance.db-wal",
    "parlance.db-shm",
    "server.key",
    "tls-cert.pem",
    "tls-key.pem",
];

pub async fn run(config: Config, args: RestoreArgs) -> anyhow::Result<()> {
    if let Ok(StoreUrl::Postgres(_)) = StoreUrl::parse(&config.store_url()) {
        bail!(
            "the configured store is PostgreSQL: a backup holds a SQLite database, which restore puts into the data directory only; restore a PostgreSQL database with pg_restore"
        );
    }
    let src = args.src;
    let manifest = {
        let src = src.clone();
        tokio::task::spawn_blocking(move || Manifest::read_verified(&src)).await??
    };
    installation::create_dir(&config)?;
    let _lock = installation::lock(&config).map_err(|e| match e {
        InstallationError::Locked { .. } => {
            anyhow::Error::from(e).context("cannot restore: stop the server first")
        }
        e => e.into(),
    })?;
    let occupied = occupied(&config);
    if !occupied.is_empty() {
        if !args.force {
            bail!(
                "{} already holds an installation ({}): restore into an empty data directory, or give --force to replace it",
                config.data_dir.display(),
                occupied.join(", ")
            );
        }
        clear(&config)?;
    }
    let placed = {
        let (config, src) = (config.clone(), src.clone());
        tokio::task::spawn_blocking(move || place(&config, &src, &manifest).map(|()| manifest))
            .await??
    };
    println!(
        "restored {} (schema {}, backed up by Parlance {}) into {}",
        placed.domain,
        placed.schema,
        placed.parlance,
        config.data_dir.display()
    );
    if placed.schema < Store::known_schema() {
        println!(
            "the backup's schema is older than this build's: run `parlance migrate` before the other commands"
        );
    }
    if placed.domain != config.domain {
        println!(
            "the backup serves {}, but {} is configured: set `domain = \"{}\"` (or --domain) before starting",
            placed.domain, config.domain, placed.domain
        );
    }
    if placed
        .files
        .iter()
        .any(|e| e.path.starts_with(&format!("{CONFIG_DIR}/")))
    {
        println!(
            "the configuration and certificates saved with the backup are in {}: put them back where the server reads them",
            src.join(CONFIG_DIR).display()
        );
    }
    Ok(())
}

/// The installation's files present in the data directory and the file store.
fn occupied(config: &Config) -> Vec<String> {
    let mut found: Vec<String> = INSTALLATION_FILES
        .iter()
        .filter(|name| config.data_dir.join(name).exists())
        .map(|name| name.to_string())
        .collect();
    let files = config.files_dir();
    if let Ok(mut entries) = std::fs::read_dir(&files)
        && entries.any(|e| e.is_ok_and(|e| e.file_name() != ".partial"))
    {
        found.push(files.display().to_string());
    }
    found
}

fn clear(config: &Config) -> anyhow::Result<()> {
    for name in INSTALLATION_FILES {
        let path = config.data_dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", path.display()));
            }
            _ => {}
        }
    }
    let files = config.files_dir();
    match std::fs::remove_dir_all(&files) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", files.display()))
        }
        _ => Ok(()),
    }
}

/// Copies the backup's data files into place, the database last.
fn place(config: &Config, src: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let files_dir = config.files_dir();
    let mut database = None;
    for entry in &manifest.files {
        let to = match entry.path.split_once('/') {
            Some((FILES_DIR, rest)) => files_dir.join(rest),
            Some(_) => continue,
            None if entry.path == "parlance.db" => {
                database = Some(src.join(&entry.path));
                continue;
            }
            None => config.data_dir.join(&entry.path),
        };
        copy_into_place(&src.join(&entry.path), &to)?;
    }
    let database = database.context("the manifest lists no parlance.db")?;
    // Under another name first: a database that exists is whole.
    let partial = config.data_dir.join("parlance.db.restoring");
    let _ = std::fs::remove_file(&partial);
    copy_into_place(&database, &partial)?;
    std::fs::rename(&partial, config.database_path())
        .with_context(|| format!("moving {} into place", partial.display()))
}

fn copy_into_place(from: &Path, to: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = to.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    manifest::copy_hashed(from, to)
        .map(drop)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}
