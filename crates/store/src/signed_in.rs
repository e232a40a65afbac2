//! The connections signed in to the running server, as it last wrote them down: how a
//! separate process (`parlance session list`) sees who is connected.

/// One signed-in connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The server's number for the connection.
    pub connection: u64,
    /// `sip:alice@example.com`.
    pub account: String,
    /// `tcp` or `tls`.
    pub transport: String,
    /// The client's address and port.
    pub remote: String,
    /// Unix seconds.
    pub since: i64,
}
