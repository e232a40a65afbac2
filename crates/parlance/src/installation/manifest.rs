//! A backup's manifest (`manifest.json`): what was backed up, from which installation, and
//! a SHA-256 of every file, so that a restore finds a damaged or partial copy before it
//! replaces anything. Written last: a backup without it is not complete.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const NAME: &str = "manifest.json";
/// The layout described here; a restore refuses any other.
const FORMAT: u32 = 1;
/// The largest manifest read: about a million files' entries. A restore reads it whole.
const MAX_MANIFEST: u64 = 256 << 20;

/// The backup's files, by their path inside it. The first component says what each is:
/// `parlance.db`, `server.key`, `tls-cert.pem`, `tls-key.pem` go to the data directory,
/// `files/<room>/<name>` to the file store, `config/…` are the operator's to put back.
pub const DATA_FILES: [&str; 4] = ["parlance.db", "server.key", "tls-cert.pem", "tls-key.pem"];
pub const FILES_DIR: &str = "files";
pub const CONFIG_DIR: &str = "config";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// The Parlance version that took the backup.
    pub parlance: String,
    pub schema: i64,
    pub domain: String,
    /// Unix seconds.
    pub created_at: i64,
    pub files: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Relative, `/`-separated.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn new(schema: i64, domain: String, files: Vec<Entry>) -> Manifest {
        Manifest {
            format: FORMAT,
            parlance: env!("CARGO_PKG_VERSION").to_owned(),
            schema,
            domain,
            created_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            files,
        }
    }

    /// Writes the manifest into `dir` under a temporary name first, so that a manifest
    /// that exists is whole.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let tmp = dir.join(format!("{NAME}.tmp"));
        let mut file = File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        serde_json::to_writer_pretty(&mut file, self)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&tmp, dir.join(NAME))?;
        Ok(())
    }

    /// Reads the manifest of the backup in `dir` and checks that every file it lists is
    /// there, whole and unchanged, and that its paths stay inside the backup.
    pub fn read_verified(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join(NAME);
        let mut text = String::new();
        File::open(&path)
            .and_then(|f| f.take(MAX_MANIFEST + 1).read_to_string(&mut text))
            .with_context(|| {
                format!(
                    "{} is not a Parlance backup (no readable {NAME})",
                    dir.display()
                )
            })?;
        if text.len() as u64 > MAX_MANIFEST {
            bail!(
                "{} is larger than {MAX_MANIFEST} bytes: not a Parlance manifest",
                path.display()
            );
        }
        let manifest: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is damaged", path.display()))?;
        if manifest.format != FORMAT {
            bail!(
                "{} has format {}; this Parlance reads format {FORMAT}",
                path.display(),
                manifest.format
            );
        }
        for entry in &manifest.files {
            check_path(&entry.path)
                .with_context(|| format!("{}: {:?}", path.display(), entry.path))?;
        }
        for required in ["parlance.db", "server.key"] {
            if !manifest.files.iter().any(|e| e.path == required) {
                bail!("{} lists no {required}", path.display());
            }
        }
        for entry in &manifest.files {
            let file = dir.join(&entry.path);
            regular_file(dir, &entry.path)?;
            let (bytes, sha256) = hash_file(&file)
                .with_context(|| format!("the backup's {} cannot be read", entry.path))?;
            if bytes != entry.bytes || sha256 != entry.sha256 {
                bail!(
                    "the backup's {} does not match its manifest ({bytes} bytes, SHA-256 {sha256}; the manifest says {} bytes, {}): the backup is damaged",
                    entry.path,
                    entry.bytes,
                    entry.sha256
                );
            }
        }
        Ok(manifest)
    }
}

/// A path the manifest may name: relative, plain names only, under one of the backup's
/// parts. Anything else could make a restore write outside the data directory.
fn check_path(path: &str) -> anyhow::Result<()> {
    let parts: Vec<Component> = Path::new(path).components().collect();
    if parts.is_empty() || parts.iter().any(|c| !matches!(c, Component::Normal(_))) {
        bail!("not a plain relative path");
    }
    let first = parts[0].as_os_str().to_str().unwrap_or_default();
    let known = match parts.len() {
        1 => DATA_FILES.contains(&first),
        _ => first == FILES_DIR || first == CONFIG_DIR,
    };
    if !known {
        bail!("not a part of a Parlance backup");
    }
    Ok(())
}

/// Refuses a symbolic link anywhere on the way to a backup's file: restored, it would copy
/// whatever it points to (outside the backup) into the installation.
fn regular_file(dir: &Path, path: &str) -> anyhow::Result<()> {
    let mut at = dir.to_path_buf();
    for part in Path::new(path).components() {
        at.push(part);
        let meta = std::fs::symlink_metadata(&at)
            .with_context(|| format!("the backup's {path} cannot be read"))?;
        if meta.file_type().is_symlink() {
            bail!(
                "the backup's {path} goes through the symbolic link {}: a backup holds plain files only",
                at.display()
            );
        }
    }
    Ok(())
}

/// Copies `from` to `to` (created, owner only) and returns its length and SHA-256, read
/// once.
pub fn copy_hashed(from: &Path, to: &Path) -> io::Result<(u64, String)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut out = File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    let result = stream(File::open(from)?, Some(&mut out))?;
    out.sync_all()?;
    Ok(result)
}

pub fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    stream(File::open(path)?, None)
}

fn stream(mut from: File, mut to: Option<&mut File>) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Some(to) = to.as_deref_mut() {
            to.write_all(&buf[..n])?;
        }
        total += n as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn only_the_backups_own_parts_are_accepted() {
        for good in [
            "parlance.db",
            "server.key",
            "files/r/n.txt",
            "config/parlance.toml",
        ] {
            assert!(check_path(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "files/../../x",
            "other",
            "files",
            "./parlance.db",
            "tls-cert.pem/x",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
