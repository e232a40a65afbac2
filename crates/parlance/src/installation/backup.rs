//! `parlance backup DEST`: a consistent copy of a running (or stopped) installation.
//!
//! The database is copied first, as one read transaction (`VACUUM INTO`), while the server
//! goes on writing. The files are then copied as that copy lists them: a stored file never
//! changes once complete, so a file the copy names is the same bytes now, and a file
//! completed after it is not needed. The key, the certificate and the configuration do not
//! change under a running server.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use parlance_server::config::Config;
use parlance_server::installation::{self, Access};
use parlance_store::{FileLocation, Store, StoreError};

use super::manifest::{self, CONFIG_DIR, DATA_FILES, Entry, FILES_DIR, Manifest};

pub async fn run(
    config: Config,
    config_file: Option<PathBuf>,
    dest: PathBuf,
) -> anyhow::Result<()> {
    let (store, _key) = installation::open(&config, Access::Existing).await?;
    if let Store::Postgres(_) = store {
        // Before the destination is made: nothing is left behind.
        store.close().await;
        return Err(StoreError::NoSnapshot.into());
    }
    prepare_dest(&dest)?;
    let snapshot = dest.join("parlance.db");
    let taken = store.snapshot_into(&snapshot).await;
    store.close().await;
    taken.with_context(|| format!("copying the database into {}", snapshot.display()))?;

    let copy = Store::open_sqlite_existing(&snapshot).await?;
    let listed = (
        copy.complete_files().await,
        copy.schema_version().await,
        copy.installation().await,
    );
    copy.close().await;
    let (files, schema, identity) = listed;
    let (files, schema) = (files?, schema?);
    let domain = identity?.map(|i| i.domain).unwrap_or_default();

    let copied = {
        let dest = dest.clone();
        tokio::task::spawn_blocking(move || {
            copy_all(&config, config_file.as_deref(), &dest, &files)
        })
        .await??
    };
    let bytes: u64 = copied.iter().map(|e| e.bytes).sum();
    let count = copied.len();
    Manifest::new(schema, domain.clone(), copied).write(&dest)?;
    println!(
        "backed up {domain} (schema {schema}) into {}: {count} files, {bytes} bytes",
        dest.display()
    );
    Ok(())
}

/// Makes `dest` (owner only: it holds the server key), which must not exist or be empty.
fn prepare_dest(dest: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(mut entries) = std::fs::read_dir(dest)
        && entries.next().is_some()
    {
        bail!(
            "{} is not empty: back up into a new directory",
            dest.display()
        );
    }
    std::fs::create_dir_all(dest)
        .and_then(|()| std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o700)))
        .with_context(|| format!("creating {}", dest.display()))
}

/// Copies everything but the database (already there) into `dest`, and returns the
/// manifest's entries, the database's included.
fn copy_all(
    config: &Config,
    config_file: Option<&Path>,
    dest: &Path,
    files: &[FileLocation],
) -> anyhow::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let (bytes, sha256) = manifest::hash_file(&dest.join("parlance.db"))?;
    entries.push(Entry {
        path: "parlance.db".into(),
        bytes,
        sha256,
    });
    // The first of them, the database, is there already.
    for name in DATA_FILES.iter().skip(1) {
        let from = config.data_dir.join(name);
        if from.exists() {
            entries.push(copy(&from, dest, name)?);
        }
    }
    let files_dir = config.files_dir();
    for file in files {
        let path = format!("{FILES_DIR}/{}/{}", file.room_guid, file.name);
        let from = files_dir.join(&file.room_guid).join(&file.name);
        if !from.exists() {
            bail!(
                "{} was removed while the backup ran (a retention purge or `file remove`): run the backup again",
                from.display()
            );
        }
        entries.push(copy(&from, dest, &path)?);
    }
    let mut operator_files = Vec::new();
    if let Some(file) = config_file {
        operator_files.push((file, "parlance.toml"));
    }
    if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
        operator_files.push((cert, "tls-cert.pem"));
        operator_files.push((key, "tls-key.pem"));
    }
    for (from, name) in operator_files {
        entries.push(copy(from, dest, &format!("{CONFIG_DIR}/{name}"))?);
    }
    Ok(entries)
}

fn copy(from: &Path, dest: &Path, path: &str) -> anyhow::Result<Entry> {
    let to = dest.join(path);
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let (bytes, sha256) = manifest::copy_hashed(from, &to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(Entry {
        path: path.to_owned(),
        bytes,
        sha256,
    })
}
