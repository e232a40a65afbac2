//! Parlance's HTTPS listener: everything the server says over HTTP, behind one TLS listener
//! that presents the SIP certificate.
//!
//! The listener ([`serve`]) owns what concerns connections: how many may be open, how long
//! the TLS handshake and each request head may take, how long a connection may sit with
//! nothing moving, and a graceful shutdown. Every request carries the [`Conn`] it came on;
//! a route reads its body through it ([`Conn::body`]) with its own size limit, at the
//! listener's pace.
//!
//! Routes are grouped by concern, a module each, and merged into one `Router` by the
//! server: file transfer ([`files`]) and the room-management application ([`manage`]).
//! Health and metrics are apart, on a plain-HTTP listener of their own ([`admin`]), for the
//! monitoring system rather than users.

mod accept;
pub mod admin;
mod body;
pub mod files;
mod idle;
mod listener;
pub mod manage;
mod timer;

pub use body::{BodyError, BodyPace, BodyReader};
pub use listener::{Conn, WebSettings, serve};

/// The application protocols the listener negotiates: HTTP/1.1 alone (the SOAP clients
/// speak nothing else).
pub const ALPN: &[&[u8]] = &[b"http/1.1"];
