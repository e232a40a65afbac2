//! The administrator's commands (`parlance user|category|room|session|file|compliance|pool …`). Each
//! opens the data directory itself, so they work whether the server runs or not; a running
//! server applies what they change within `admin_changes_poll_ms`. They open only an
//! installation that exists at this build's schema, with its recorded domain and key
//! (docs/operations.md): they never create one, nor migrate one under a running server.

pub mod category;
pub mod compliance;
mod export;
pub mod file;
mod find;
mod hold;
pub mod pool;
mod retention;
pub mod room;
mod room_delete;
pub mod session;
pub mod user;

use parlance_server::config::Config;
use parlance_server::installation::{self, Access};
use parlance_store::{ServerKey, Store};

/// The installation's store and server key, as every administration command opens them.
async fn open(config: &Config) -> anyhow::Result<(Store, ServerKey)> {
    Ok(installation::open(config, Access::Existing).await?)
}

/// A stored time (unix seconds) as RFC 3339, in UTC.
fn utc(secs: i64) -> String {
    jiff::Timestamp::from_second(secs).map_or_else(|_| secs.to_string(), |t| t.to_string())
}
