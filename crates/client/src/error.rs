//! What can go wrong, as values a caller can match on and as one sentence a person can read.

/// Every failure of the client. The `Display` text is one sentence meant for the person at
/// the keyboard; rooms are named by their name when the client has seen it, else their URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("invalid client settings: {0}")]
    Config(String),
    #[error("cannot reach {server}: {reason}")]
    Unreachable { server: String, reason: String },
    #[error(
        "the certificate of {server} was refused because {reason} (its SHA-256 fingerprint is {fingerprint})"
    )]
    CertificateRejected {
        server: String,
        reason: String,
        fingerprint: String,
    },
    #[error("the TLS handshake with {server} failed: {reason}")]
    Tls { server: String, reason: String },
    #[error("the server refused the password for {user}")]
    WrongPassword { user: String },
    #[error("the server refused to sign in {user}: {status} {reason}")]
    SignInRefused {
        user: String,
        status: u16,
        reason: String,
    },
    #[error("the chat service refused the session: {status} {reason}")]
    ChatUnavailable { status: u16, reason: String },
    #[error("the connection to the server was lost: {0}")]
    Disconnected(String),
    #[error("not connected to the server (reconnecting)")]
    NotConnected,
    #[error("the server did not answer in time")]
    Timeout,
    /// A post the server did not confirm: the client was not connected, or the connection
    /// was lost before the answer. It is not sent again on its own: the server has no way
    /// to tell a second copy from a new message. One the server stored before the
    /// connection broke comes back in the room's catch-up like any other message.
    #[error("your message to {room} was not delivered: {reason}")]
    NotDelivered { room: String, reason: String },
    #[error("the client is closed")]
    Closed,
    #[error("there is no room {room}")]
    NoSuchRoom { room: String },
    #[error("you may not {action} {room}")]
    Forbidden { action: &'static str, room: String },
    #[error("{room} is disabled")]
    RoomDisabled { room: String },
    #[error("you have not joined {room}")]
    NotJoined { room: String },
    #[error("the message is too large for {room}")]
    TooLarge { room: String },
    #[error("the server does not support {command}")]
    Unsupported { command: String },
    #[error("the server refused {command}: {code} {text}")]
    Refused {
        command: String,
        code: u16,
        text: String,
    },
    /// No file of that name in the room (or none this user may fetch: the server does not
    /// say which).
    #[error("there is no file {name} in {room}")]
    NoSuchFile { name: String, room: String },
    /// The file service refused a transfer: the HTTP status, and the reason it gave
    /// (docs/protocol.md, "The plain file API": 403 token or permission, 404 unknown file,
    /// 413 too large).
    #[error("the file service refused the transfer: {reason} ({status})")]
    FileRefused { status: u16, reason: String },
    /// A transfer broke off; a download can be resumed by asking again.
    #[error("the file transfer failed: {0}")]
    Transfer(String),
    /// A local file could not be read or written.
    #[error("{path}: {reason}")]
    LocalFile { path: String, reason: String },
    /// A download would have replaced this file.
    #[error("{path} exists already")]
    FileExists { path: String },
    #[error("the server sent something unexpected: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The connection cannot be used any more: the session reconnects.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, Self::Disconnected(_) | Self::Timeout)
    }

    /// Trying again cannot help without a change of settings: reconnecting stops.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Config(_)
                | Self::CertificateRejected { .. }
                | Self::WrongPassword { .. }
                | Self::SignInRefused { .. }
        )
    }
}
