//! What a name on the command line refers to: a category, a room or a user of this server,
//! or an error that says where to look.

use anyhow::{Context, anyhow, bail};
use parlance_server::config::Config;
use parlance_store::Store;
use parlance_store::accounts::normalize_user_uri;
use parlance_store::rooms::{Category, RoomInfo};

pub async fn category(store: &Store, name: &str) -> anyhow::Result<Category> {
    store
        .find_category(name)
        .await?
        .ok_or_else(|| anyhow!("no category {name:?} (see: parlance category list)"))
}

pub async fn room(store: &Store, name: &str) -> anyhow::Result<RoomInfo> {
    let key = name.rsplit('/').next().unwrap_or(name);
    store
        .find_room(key)
        .await?
        .ok_or_else(|| anyhow!("no room {name:?} (see: parlance room list)"))
}

pub async fn user_id(store: &Store, config: &Config, user: &str) -> anyhow::Result<i64> {
    let uri = in_domain(config, user)?;
    let u = store
        .user(&uri)
        .await?
        .with_context(|| format!("no user {uri} (see: parlance user list)"))?;
    Ok(u.id)
}

/// `user@domain` as a SIP URI, if the domain is this server's.
pub fn in_domain(config: &Config, user: &str) -> anyhow::Result<String> {
    let uri = normalize_user_uri(user)?;
    if !uri.ends_with(&format!("@{}", config.domain)) {
        bail!(
            "{user} is not in this server's domain {} (set --domain or the config file's domain)",
            config.domain
        );
    }
    Ok(uri)
}
