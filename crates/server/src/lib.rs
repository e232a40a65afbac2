//! The Parlance server runtime: SIP listeners over TCP and TLS, the front end (registrar,
//! Digest authentication, in-band provisioning, routing) and the seam where local services
//! such as persistent chat plug in ([`endpoint::Endpoint`]).

mod access;
mod auth;
mod chat_setup;
pub mod compliance;
pub mod config;
pub mod endpoint;
mod error;
mod file_store;
pub mod forward;
pub mod frontend;
pub mod groupchat;
mod housekeeping;
mod ids;
pub mod installation;
mod observe;
mod periodic;
pub mod pool;
mod relay;
pub mod reload;
pub mod retention;
mod runtime;
mod server;
mod signed_in;
pub mod tls;
pub mod transport;
mod web;

pub use crate::error::StartError;
pub use crate::file_store::open_file_store;
pub use crate::runtime::{LowPriorityRuntime, Priority};
pub use crate::server::{Options, Server};
