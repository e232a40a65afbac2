//! `parlance room add|edit|disable|enable|list|show|purge|delete|invite|member`: rooms, who
//! holds which role in them, and invitations. Rooms are named by name, GUID or `ma-chan:`
//! URI; users by user@domain.

use anyhow::bail;
use clap::{Args, Subcommand};
use parlance_server::config::Config;
use parlance_store::Store;
use parlance_store::rooms::{Behavior, NewRoom, Privacy, Role, RoomInfo, RoomUpdate};

use super::find::{category, room, user_id};

#[derive(Debug, Subcommand)]
pub enum RoomCommand {
    /// Create a room.
    Add {
        name: String,
        #[arg(long)]
        category: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value = "")]
        topic: String,
        /// open, closed or secret
        #[arg(long, default_value = "open")]
        privacy: Privacy,
        /// Only presenters post.
        #[arg(long)]
        auditorium: bool,
        /// Turn invitations off for this room.
        #[arg(long)]
        no_invitations: bool,
    },
    /// Change a room.
    Edit(EditArgs),
    /// Disable a room: nobody can find, join, read or post in it.
    Disable { room: String },
    /// Enable a disabled room.
    Enable { room: String },
    /// List rooms.
    List,
    /// Show a room with its members, managers and presenters.
    Show { room: String },
    /// Delete a room's history before a date (all of it without --before), and the files
    /// no remaining message links.
    Purge {
        room: String,
        /// A date (2026-01-31) or a moment (2026-01-31T12:00:00Z); UTC.
        #[arg(long, value_parser = moment)]
        before: Option<jiff::Timestamp>,
    },
    /// Delete a room for good: its history, files, roles, invitations, compliance outbox
    /// rows and audit records. Whoever is in it leaves. Refused while a legal hold is in
    /// force on it.
    Delete {
        room: String,
        /// Really delete it.
        #[arg(long)]
        yes: bool,
    },
    /// Invite users to a room: each gets an invitation that their clients list
    /// (`cmd:getinv`) and, when connected, receive at once (`ntc:inv`).
    Invite {
        room: String,
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// Give or take a role in a room.
    Member {
        #[command(subcommand)]
        action: MemberAction,
    },
}

#[derive(Debug, Args)]
pub struct EditArgs {
    room: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    topic: Option<String>,
    #[arg(long)]
    privacy: Option<Privacy>,
    /// normal or auditorium
    #[arg(long)]
    behavior: Option<Behavior>,
    /// on (inherit the category's setting) or off
    #[arg(long, value_parser = on_off)]
    invitations: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum MemberAction {
    Add {
        room: String,
        user: String,
        /// member, manager or presenter
        #[arg(long, default_value = "member")]
        role: Role,
    },
    /// Take a role away; fails when the user does not hold it.
    Remove {
        room: String,
        user: String,
        #[arg(long, default_value = "member")]
        role: Role,
    },
}

/// A moment, or a date (its first moment, in UTC).
pub(super) fn moment(s: &str) -> Result<jiff::Timestamp, String> {
    let full = match s.parse::<jiff::civil::Date>() {
        Ok(date) => format!("{date}T00:00:00Z"),
        Err(_) => s.to_owned(),
    };
    full.parse()
        .map_err(|e| format!("{s:?}: {e} (use e.g. 2026-01-31 or 2026-01-31T12:00:00Z)"))
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{s:?}: expected on or off")),
    }
}

pub async fn run(config: Config, cmd: RoomCommand) -> anyhow::Result<()> {
    let (store, key) = super::open(&config).await?;
    let uri = |r: &RoomInfo| format!("ma-chan://{}/{}", config.domain, r.room.guid);
    match cmd {
        RoomCommand::Add {
            name,
            category: cat,
            description,
            topic,
            privacy,
            auditorium,
            no_invitations,
        } => {
            let c = category(&store, &cat).await?;
            let behavior = if auditorium {
                Behavior::Auditorium
            } else {
                Behavior::Normal
            };
            let r = store
                .add_room(&NewRoom {
                    category_id: c.id,
                    name: &name,
                    description: &description,
                    topic: &topic,
                    privacy,
                    behavior,
                    invitations: !no_invitations,
                })
                .await?;
            println!(
                "created room {} ma-chan://{}/{}",
                r.name, config.domain, r.guid
            );
        }
        RoomCommand::Edit(e) => {
            let r = room(&store, &e.room).await?;
            let update = RoomUpdate {
                name: e.name,
                description: e.description,
                topic: e.topic,
                privacy: e.privacy,
                behavior: e.behavior,
                invitations: e.invitations,
                disabled: None,
                file_post: None,
            };
            store.update_room(r.room.id, &update).await?;
            println!("updated {}", uri(&r));
        }
        RoomCommand::Disable { room: name } => set_disabled(&store, &name, true).await?,
        RoomCommand::Enable { room: name } => set_disabled(&store, &name, false).await?,
        RoomCommand::List => {
            for r in store.rooms().await? {
                let state = if r.room.disabled { "disabled" } else { "" };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{state}",
                    r.room.name,
                    uri(&r),
                    r.category.name,
                    r.room.privacy,
                    r.room.behavior
                );
            }
        }
        RoomCommand::Show { room: name } => {
            let r = room(&store, &name).await?;
            println!(
                "{}\n  uri          {}\n  category     {}",
                r.room.name,
                uri(&r),
                r.category.name
            );
            println!(
                "  description  {}\n  topic        {}",
                r.room.description, r.room.topic
            );
            println!(
                "  privacy      {}\n  behavior     {}",
                r.room.privacy, r.room.behavior
            );
            println!(
                "  invitations  {}\n  disabled     {}",
                r.invitations(),
                r.room.disabled
            );
            for h in store.role_holders(r.room.id).await? {
                println!("  {:<12} {}", h.role.as_str(), h.uri);
            }
        }
        RoomCommand::Purge { room: name, before } => {
            let r = room(&store, &name).await?;
            super::file::purge(&config, (&store, &key), &r, before).await?;
        }
        RoomCommand::Delete { room: name, yes } => {
            let r = room(&store, &name).await?;
            super::room_delete::delete(&config, (&store, &key), &r, yes).await?;
        }
        RoomCommand::Invite { room: name, users } => {
            let r = room(&store, &name).await?;
            if !r.invitations() {
                bail!(
                    "{} takes no invitations (see: parlance room edit --invitations on, and its category's)",
                    r.room.name
                );
            }
            let mut ids = Vec::new();
            for user in &users {
                ids.push(user_id(&store, &config, user).await?);
            }
            let new = store.invite(r.room.id, &ids).await?;
            println!(
                "invited {new} users to {} ({} invited already)",
                r.room.name,
                ids.len() as u64 - new
            );
        }
        RoomCommand::Member { action } => {
            let (name, user, role, on) = match action {
                MemberAction::Add { room, user, role } => (room, user, role, true),
                MemberAction::Remove { room, user, role } => (room, user, role, false),
            };
            let r = room(&store, &name).await?;
            let u = user_id(&store, &config, &user).await?;
            let held = store.roles_of(r.room.id, u).await?;
            // A removal that removes nothing is most likely a mistyped room, user or role:
            // it fails, so that a script notices.
            if !on && !held.contains(&role) {
                bail!("{user} is not {role} of {}: nothing to remove", r.room.name);
            }
            let in_scope = store.in_scope(r.category.id, u).await?;
            parlance_chat::role_change(role, on, &held, in_scope).map_err(|refusal| {
                anyhow::anyhow!(
                    "{user} cannot {}: {refusal}",
                    if on {
                        format!("be made {role}")
                    } else {
                        format!("stop being {role}")
                    }
                )
            })?;
            store.set_role(r.room.id, u, role, on).await?;
            println!(
                "{user} {} {role} of {}",
                if on { "is now" } else { "is no longer" },
                r.room.name
            );
        }
    }
    store.close().await;
    Ok(())
}

async fn set_disabled(store: &Store, name: &str, disabled: bool) -> anyhow::Result<()> {
    let r = room(store, name).await?;
    store
        .update_room(
            r.room.id,
            &RoomUpdate {
                disabled: Some(disabled),
                ..RoomUpdate::default()
            },
        )
        .await?;
    println!(
        "{} {}",
        r.room.name,
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(())
}
