//! `parlance category …` and `parlance room …`: the administrator's view of the chat
//! directory. Rooms and categories are named by name or GUID; users by user@domain.

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use parlance_server::config::Config;
use parlance_store::Store;
use parlance_store::rooms::{
    Behavior, Category, NewCategory, NewRoom, Privacy, Role, RoomInfo, RoomUpdate,
};

#[derive(Debug, Subcommand)]
pub enum CategoryCommand {
    /// Create a category (under the root unless --parent).
    Add {
        name: String,
        #[arg(long)]
        parent: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// Forbid file posting in its rooms.
        #[arg(long)]
        no_file_post: bool,
        /// Turn invitations off for its rooms.
        #[arg(long)]
        no_invitations: bool,
        /// Keep no chat history in its rooms.
        #[arg(long)]
        not_logged: bool,
    },
    /// List categories.
    List,
    /// Let a user create rooms in a category (the Creator role), or stop it.
    Creator {
        #[command(subcommand)]
        action: GrantAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum GrantAction {
    Add { category: String, user: String },
    Remove { category: String, user: String },
}

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
    Remove {
        room: String,
        user: String,
        #[arg(long, default_value = "member")]
        role: Role,
    },
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{s:?}: expected on or off")),
    }
}

pub async fn run_category(config: Config, cmd: CategoryCommand) -> anyhow::Result<()> {
    let (store, _) = parlance_server::open_data(&config).await?;
    match cmd {
        CategoryCommand::Add {
            name,
            parent,
            description,
            no_file_post,
            no_invitations,
            not_logged,
        } => {
            let parent = match parent {
                Some(p) => category(&store, &p).await?,
                None => store.root_category().await?,
            };
            let c = store
                .add_category(&NewCategory {
                    parent_id: parent.id,
                    name: &name,
                    description: &description,
                    file_post: !no_file_post,
                    invitations: !no_invitations,
                    logged: !not_logged,
                })
                .await?;
            println!(
                "created category {} ma-cat://{}/{}",
                c.name, config.domain, c.guid
            );
        }
        CategoryCommand::List => {
            store.root_category().await?;
            for c in store.categories().await? {
                let parent = if c.parent_id.is_none() { "(root)" } else { "" };
                println!(
                    "{}\tma-cat://{}/{}\t{parent}",
                    c.name, config.domain, c.guid
                );
            }
        }
        CategoryCommand::Creator { action } => {
            let (cat, user, on) = match action {
                GrantAction::Add { category, user } => (category, user, true),
                GrantAction::Remove { category, user } => (category, user, false),
            };
            let c = category(&store, &cat).await?;
            let u = user_id(&store, &config, &user).await?;
            store.set_category_creator(c.id, u, on).await?;
            println!(
                "{} {} creator of {}",
                user,
                if on { "is now" } else { "is no longer" },
                c.name
            );
        }
    }
    store.close().await;
    Ok(())
}

pub async fn run_room(config: Config, cmd: RoomCommand) -> anyhow::Result<()> {
    let (store, _) = parlance_server::open_data(&config).await?;
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
        RoomCommand::Member { action } => {
            let (name, user, role, on) = match action {
                MemberAction::Add { room, user, role } => (room, user, role, true),
                MemberAction::Remove { room, user, role } => (room, user, role, false),
            };
            let r = room(&store, &name).await?;
            let u = user_id(&store, &config, &user).await?;
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

async fn category(store: &Store, name: &str) -> anyhow::Result<Category> {
    store
        .find_category(name)
        .await?
        .ok_or_else(|| anyhow!("no category {name:?} (see: parlance category list)"))
}

async fn room(store: &Store, name: &str) -> anyhow::Result<RoomInfo> {
    let key = name.rsplit('/').next().unwrap_or(name);
    store
        .find_room(key)
        .await?
        .ok_or_else(|| anyhow!("no room {name:?} (see: parlance room list)"))
}

async fn user_id(store: &Store, config: &Config, user: &str) -> anyhow::Result<i64> {
    let uri = super::user::in_domain(config, user)?;
    let u = store
        .user(&uri)
        .await?
        .with_context(|| format!("no user {uri} (see: parlance user list)"))?;
    Ok(u.id)
}
