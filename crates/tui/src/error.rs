//! What ends `parlance chat`, each as the one sentence the user reads.

use parlance_client::ClientError;

/// No variant names its cause as a source: each sentence already says it, and the binary's
/// `{:#}` would print it a second time.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// Connecting failed: the client's error, with the way out where there is one.
    #[error("{}", connect_sentence(.0))]
    Connect(ClientError),
    /// The client failed or gave up once connected.
    #[error("{0}")]
    Client(ClientError),
    #[error("there is no [file {0}] in this room")]
    NoFile(usize),
    /// A command of line mode came without what it needs; holds its usage.
    #[error("usage: {0}")]
    Usage(&'static str),
    #[error("the server offers no room-management application")]
    NoRoomManagement,
    #[error("the connection to the server ended")]
    Ended,
    #[error("no password: set PARLANCE_PASSWORD or run in a terminal")]
    NoPassword,
    #[error("the full-screen client needs a terminal ({0}); --plain works without one")]
    NoTerminal(std::io::Error),
    #[error("cannot read the terminal: {0}")]
    ReadTerminal(std::io::Error),
    /// Drawing the screen or reading standard input failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The error as one sentence, with the way out where there is one.
fn connect_sentence(error: &ClientError) -> String {
    match error {
        ClientError::CertificateRejected { fingerprint, .. } => {
            format!(
                "{error}; to trust it, pass --ca with the server's certificate file, or --pin {fingerprint}, or --insecure"
            )
        }
        ClientError::Config(reason) if reason.contains("system certificate bundle") => {
            format!("{error}; pass --ca with the server's certificate file, or --pin SHA256")
        }
        _ => error.to_string(),
    }
}
