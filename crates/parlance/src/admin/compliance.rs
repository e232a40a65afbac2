//! `parlance compliance export|purge|hold`: the compliance outbox archived now, history
//! retention applied now, and legal holds.
//!
//! `export` runs with the server's `[compliance]` settings, whether the server runs or not.
//! It never races the server's own export: each run holds the exporters' lock, and one that
//! finds it held stops at once.
//!
//! A hold on a room or a user suspends every purge of what it covers (retention and
//! `room purge`); it records who placed it: the operating-system account running the
//! command, the only identity an administration command has (whoever may open the data
//! directory administers the server).

use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use anyhow::bail;
use clap::{Args, Subcommand};
use parlance_clock::Clock;
use parlance_compliance::{Progress, Step};
use parlance_server::config::Config;
use parlance_server::retention::Purger;
use parlance_store::retention::{HoldTarget, LegalHold};
use parlance_store::{ServerKey, Store};

use super::find::{in_domain, room, user_id};
use super::room::moment;

#[derive(Debug, Subcommand)]
pub enum ComplianceCommand {
    /// Write every event not yet archived to the compliance directory, with attachments.
    Export {
        /// Only events recorded up to this date (2026-01-31) or moment
        /// (2026-01-31T12:00:00Z), UTC; later ones wait for the next export.
        #[arg(long, value_parser = moment)]
        until: Option<jiff::Timestamp>,
    },
    /// Purge now what each category's retention lets go (the server does it every
    /// retention.interval_secs); held rooms and users lose nothing.
    Purge,
    /// Legal holds: a held room, or a held user's messages and files, are never purged.
    Hold {
        #[command(subcommand)]
        action: HoldAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum HoldAction {
    /// Place a hold on a room or a user.
    Add {
        #[command(flatten)]
        target: Target,
        /// Why (a case or matter reference): kept with the hold.
        #[arg(long)]
        reason: String,
    },
    /// Release the hold on a room or a user (its record stays, as released).
    Remove {
        #[command(flatten)]
        target: Target,
    },
    /// List the holds in force (with --all, the released ones too).
    List {
        #[arg(long)]
        all: bool,
    },
}

/// What a hold covers: one room or one user.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// A room by name, GUID or ma-chan: URI.
    #[arg(long)]
    room: Option<String>,
    /// A user as user@domain.
    #[arg(long)]
    user: Option<String>,
}

/// Prints each output file as it is published.
struct PrintPublished;

impl Progress for PrintPublished {
    fn step(&self, step: Step<'_>) {
        if let Step::Published(path) = step {
            println!("wrote {}", path.display());
        }
    }
}

pub async fn run(config: Config, cmd: ComplianceCommand) -> anyhow::Result<()> {
    let (store, key) = parlance_server::open_data(&config).await?;
    let result = match cmd {
        ComplianceCommand::Export { until } => export(&config, &store, &key, until).await,
        ComplianceCommand::Purge => purge(&config, &store, &key).await,
        ComplianceCommand::Hold { action } => hold(&config, &store, action).await,
    };
    store.close().await;
    result
}

async fn export(
    config: &Config,
    store: &Store,
    key: &ServerKey,
    until: Option<jiff::Timestamp>,
) -> anyhow::Result<()> {
    let exporter =
        parlance_server::compliance::exporter(config, store.clone(), key, Clock::default())
            .await?
            .with_progress(Arc::new(PrintPublished));
    let report = exporter.export(until).await?;
    println!(
        "exported {} events in {} files, {} attachments ({} missing), {} bytes; {} outbox rows pruned",
        report.events,
        report.files,
        report.attachments,
        report.missing_attachments,
        report.bytes,
        report.pruned
    );
    Ok(())
}

async fn purge(config: &Config, store: &Store, key: &ServerKey) -> anyhow::Result<()> {
    let purger = purger(config, store, key).await?;
    let mut total = 0;
    for (retained, report) in purger.apply_retention().await? {
        let name = store
            .room_by_id(retained.room_id)
            .await?
            .map_or(retained.room_guid.clone(), |r| r.room.name);
        println!(
            "purged {} messages and {} files from {name} (retention {} days)",
            report.messages, report.files, retained.days
        );
        total += report.messages;
    }
    println!("purged {total} messages in all");
    Ok(())
}

/// The purge steps as the server runs them, on this data directory.
pub async fn purger(config: &Config, store: &Store, key: &ServerKey) -> anyhow::Result<Purger> {
    let files = parlance_server::open_file_store(config, key).await?;
    Ok(Purger::new(
        store.clone(),
        files,
        Clock::default(),
        config.retention.step,
    ))
}

async fn hold(config: &Config, store: &Store, action: HoldAction) -> anyhow::Result<()> {
    let now = Clock::default().unix_nanos();
    match action {
        HoldAction::Add { target, reason } => {
            if reason.trim().is_empty() {
                bail!("a hold needs a --reason");
            }
            let (target, name) = resolve(config, store, target).await?;
            let held = store.place_hold(target, &reason, &operator(), now).await;
            if let Err(parlance_store::StoreError::Duplicate(_)) = held {
                bail!("{name} is under legal hold already (see: parlance compliance hold list)");
            }
            held?;
            println!("{name} is under legal hold");
        }
        HoldAction::Remove { target } => {
            let (target, name) = resolve(config, store, target).await?;
            if !store.release_hold(target, &operator(), now).await? {
                bail!("{name} is not under legal hold");
            }
            println!("{name} is no longer under legal hold");
        }
        HoldAction::List { all } => {
            for h in store.legal_holds(all).await? {
                println!("{}", describe(store, &h).await?);
            }
        }
    }
    Ok(())
}

/// The hold target a command line names, and how to name it back.
async fn resolve(
    config: &Config,
    store: &Store,
    target: Target,
) -> anyhow::Result<(HoldTarget, String)> {
    match (target.room, target.user) {
        (Some(name), _) => {
            let r = room(store, &name).await?;
            Ok((HoldTarget::Room(r.room.id), format!("room {}", r.room.name)))
        }
        (None, Some(user)) => {
            let id = user_id(store, config, &user).await?;
            Ok((
                HoldTarget::User(id),
                format!("user {}", in_domain(config, &user)?),
            ))
        }
        (None, None) => bail!("name a --room or a --user"),
    }
}

/// One line of `hold list`: target, reason, placed (and released) by whom and when.
async fn describe(store: &Store, h: &LegalHold) -> anyhow::Result<String> {
    let target = match h.target {
        HoldTarget::Room(id) => store
            .room_by_id(id)
            .await?
            .map_or(format!("room #{id}"), |r| format!("room {}", r.room.name)),
        HoldTarget::User(id) => store
            .user_by_id(id)
            .await?
            .map_or(format!("user #{id} (removed)"), |u| {
                format!("user {}", u.uri)
            }),
    };
    let mut line = format!(
        "{target}\t{}\tplaced by {} at {}",
        h.reason,
        h.placed_by,
        when(h.placed_at)
    );
    if let (Some(by), Some(at)) = (&h.released_by, h.released_at) {
        line.push_str(&format!("\treleased by {by} at {}", when(at)));
    }
    Ok(line)
}

/// A stored time (unix nanoseconds) as RFC 3339.
fn when(nanos: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(nanos))
        .map_or_else(|_| nanos.to_string(), |t| t.to_string())
}

/// The operating-system account running this command, as `uid N (name)`: the owner of this
/// process's `/proc` entry, named from `/etc/passwd` when listed there.
fn operator() -> String {
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown account".into();
    };
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)? == uid.to_string()).then(|| name.to_owned())
            })
        });
    match name {
        Some(name) => format!("uid {uid} ({name})"),
        None => format!("uid {uid}"),
    }
}
