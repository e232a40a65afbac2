//! Why a server did not start: one error for every part [`crate::Server::start`] sets up, so
//! that the binary reports each the same way.

use parlance_bus::BusError;
use parlance_chat::files::FileRefusal;
use parlance_files::FileError;
use parlance_store::StoreError;

use crate::transport::ListenError;
use crate::{config, forward, installation, pool, tls};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Installation(#[from] installation::InstallationError),
    #[error("cannot create the directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// A bound listener that could not be handed to what serves it.
    #[error("cannot start serving: {0}")]
    Serve(std::io::Error),
    #[error("cannot start background threads: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Chat(#[from] parlance_chat::ChatError),
    #[error("file store: {0}")]
    Files(#[from] FileError),
    #[error("file records: {0}")]
    FileRecords(#[from] FileRefusal),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Forward(#[from] forward::ForwardError),
    #[error("pool: {0}")]
    Pool(#[from] pool::PoolError),
}
