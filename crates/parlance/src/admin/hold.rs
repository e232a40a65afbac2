//! `parlance compliance hold add|remove|list`: legal holds. A hold on a room or a user
//! suspends every purge of what it covers (retention and `room purge`); it records who placed
//! it: the operating-system account running the command, the only identity an
//! administration command has (whoever may open the data directory administers the server).

use std::os::unix::fs::MetadataExt;

use anyhow::bail;
use clap::{Args, Subcommand};
use parlance_clock::Clock;
use parlance_server::config::Config;
use parlance_store::Store;
use parlance_store::retention::{HoldTarget, LegalHold};

use super::find::{in_domain, room, user_id};

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

pub async fn run(config: &Config, store: &Store, action: HoldAction) -> anyhow::Result<()> {
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
