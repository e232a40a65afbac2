//! The administrator's commands (`parlance user|category|room|file|compliance …`). Each
//! opens the data directory itself, so they work whether the server runs or not; a running
//! server applies what they change within `admin_changes_poll_ms`.

pub mod category;
pub mod compliance;
mod export;
pub mod file;
mod find;
mod hold;
mod retention;
pub mod room;
pub mod user;
