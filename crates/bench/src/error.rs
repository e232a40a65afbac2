//! What can stop a benchmark run.

use parlance_client::ClientError;
use parlance_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Start(#[from] parlance_server::StartError),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("HTTPS: {0}")]
    Http(String),
    #[error("SOAP: {0}")]
    Soap(#[from] mgc::SoapError),
    /// The scenario could not run as asked (a peer misbehaved, a bound was hit).
    #[error("{0}")]
    Failed(String),
}

impl BenchError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let context = context.into();
        move |source| BenchError::Io { context, source }
    }
}
