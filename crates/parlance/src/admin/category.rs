//! `parlance category add|set|list|rename|delete|scope|creator`: the categories rooms live
//! in, how long their rooms keep history, who may see their rooms and who may create rooms
//! in them. Categories are named by name or GUID; users by user@domain.

use anyhow::bail;
use clap::Subcommand;
use parlance_server::config::Config;
use parlance_store::Store;
use parlance_store::rooms::{NewCategory, ScopeEntry};

use super::find::{category, user_id};

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
    /// Change a category.
    Set {
        category: String,
        /// Days its rooms keep their messages (older ones are purged, unless held), or
        /// `off` to keep them forever.
        #[arg(long, value_parser = retention_days)]
        retention_days: Option<Retention>,
    },
    /// List categories.
    List,
    /// Rename a category (names are unique, whatever their case).
    Rename { category: String, name: String },
    /// Delete a category with its creators, scope lists and audit records. Refused while it
    /// has rooms, unless they move to another category with --rooms-to.
    Delete {
        category: String,
        /// The category its rooms move to.
        #[arg(long, value_name = "CATEGORY")]
        rooms_to: Option<String>,
    },
    /// Who may see and join a category's rooms: an allow list (once it has one entry, only
    /// those on it) and a deny list (never).
    Scope {
        #[command(subcommand)]
        action: ScopeAction,
    },
    /// Let a user create rooms in a category (the Creator role), or stop it.
    Creator {
        #[command(subcommand)]
        action: GrantAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScopeAction {
    /// Put a user on the allow list.
    Allow { category: String, user: String },
    /// Put a user on the deny list.
    Deny { category: String, user: String },
    /// Take a user off both lists.
    Clear { category: String, user: String },
    /// Show both lists.
    List { category: String },
}

#[derive(Debug, Subcommand)]
pub enum GrantAction {
    Add { category: String, user: String },
    Remove { category: String, user: String },
}

pub async fn run(config: Config, cmd: CategoryCommand) -> anyhow::Result<()> {
    let (store, _) = super::open(&config).await?;
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
        CategoryCommand::Set {
            category: name,
            retention_days,
        } => {
            let c = category(&store, &name).await?;
            let Some(Retention(days)) = retention_days else {
                bail!("nothing to set (see: parlance category set --help)");
            };
            store.set_category_retention(c.id, days).await?;
            match days {
                Some(days) => println!("{} keeps its rooms' messages {days} days", c.name),
                None => println!("{} keeps its rooms' messages forever", c.name),
            }
        }
        CategoryCommand::List => {
            store.root_category().await?;
            let retentions = store.category_retentions().await?;
            for c in store.categories().await? {
                let parent = if c.parent_id.is_none() { "(root)" } else { "" };
                let retention = retentions
                    .get(&c.id)
                    .map(|days| format!("\tretention {days} days"))
                    .unwrap_or_default();
                println!(
                    "{}\tma-cat://{}/{}\t{parent}{retention}",
                    c.name, config.domain, c.guid
                );
            }
        }
        CategoryCommand::Rename {
            category: name,
            name: new_name,
        } => {
            let c = category(&store, &name).await?;
            let renamed = store.rename_category(c.id, &new_name).await?;
            println!("{} is now {}", c.name, renamed.name);
        }
        CategoryCommand::Delete {
            category: name,
            rooms_to,
        } => {
            let c = category(&store, &name).await?;
            let target = match rooms_to {
                Some(other) => Some(category(&store, &other).await?),
                None => None,
            };
            let moved = store
                .delete_category(c.id, target.as_ref().map(|t| t.id))
                .await?;
            match target {
                Some(t) => println!(
                    "deleted {}; its {moved} rooms are in {} now",
                    c.name, t.name
                ),
                None => println!("deleted {}", c.name),
            }
        }
        CategoryCommand::Scope { action } => scope(&store, &config, action).await?,
        CategoryCommand::Creator { action } => {
            let (cat, user, on) = match action {
                GrantAction::Add { category, user } => (category, user, true),
                GrantAction::Remove { category, user } => (category, user, false),
            };
            let c = category(&store, &cat).await?;
            let u = user_id(&store, &config, &user).await?;
            let in_scope = store.in_scope(c.id, u).await?;
            parlance_chat::creator_change(on, in_scope)
                .map_err(|refusal| anyhow::anyhow!("{user} cannot be made creator: {refusal}"))?;
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

async fn scope(store: &Store, config: &Config, action: ScopeAction) -> anyhow::Result<()> {
    let (name, user, entry) = match action {
        ScopeAction::List { category: name } => {
            let c = category(store, &name).await?;
            for (principal_id, entry) in store.category_scope(c.id).await? {
                let list = match entry {
                    ScopeEntry::Allow => "allow",
                    ScopeEntry::Deny => "deny",
                };
                // Scope entries of removed accounts are deleted with them.
                if let Some(u) = store.user_by_id(principal_id).await? {
                    println!("{list}\t{}", u.uri);
                }
            }
            return Ok(());
        }
        ScopeAction::Allow { category, user } => (category, user, Some(ScopeEntry::Allow)),
        ScopeAction::Deny { category, user } => (category, user, Some(ScopeEntry::Deny)),
        ScopeAction::Clear { category, user } => (category, user, None),
    };
    let c = category(store, &name).await?;
    let u = user_id(store, config, &user).await?;
    store.set_category_scope(c.id, u, entry).await?;
    match entry {
        Some(ScopeEntry::Allow) => println!("{user} is on the allow list of {}", c.name),
        Some(ScopeEntry::Deny) => println!("{user} is on the deny list of {}", c.name),
        None => println!("{user} is on neither list of {}", c.name),
    }
    Ok(())
}

/// `--retention-days`: a number of days, or none (`off`).
#[derive(Debug, Clone, Copy)]
pub struct Retention(Option<u32>);

fn retention_days(value: &str) -> Result<Retention, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(Retention(None));
    }
    match value.parse::<u32>() {
        Ok(days) if days > 0 => Ok(Retention(Some(days))),
        _ => Err(format!(
            "{value:?} is neither a number of days (1 or more) nor off"
        )),
    }
}
