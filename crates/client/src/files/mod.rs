//! Files in rooms: uploading and downloading over the plain HTTPS file API with tokens got
//! over XCCOS, and the links that post files into rooms (docs/protocol.md, "File transfer
//! over HTTPS"). Transfers stream both ways and never hold a whole file in memory.

mod download;
mod http;
mod link;
mod name;
mod upload;

pub(crate) use self::download::{get, refuse_existing};
pub(crate) use self::http::Connector;
pub use self::link::{FILE_LINK_SCHEME, FileLink, PostedFile, posted_files};
pub use self::name::safe_file_name;
pub(crate) use self::upload::put;
