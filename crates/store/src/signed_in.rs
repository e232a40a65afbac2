//! The connections signed in to the running server, as it last wrote them down: how a
//! separate process (`parlance session list`) sees who is connected.

use crate::Store;
use crate::error::Result;

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

impl Store {
    /// Takes this node's connections `ended` off the signed-in table and puts `started` on
    /// it as this node's ([`Store::set_node`]), moving their accounts' last sign-in (when
    /// later by more than a minute).
    pub async fn note_signed_in(&self, ended: &[u64], started: &[SignedIn]) -> Result<()> {
        engine!(self, s => s.note_signed_in(ended, started).await)
    }

    /// Removes this node's rows from the signed-in table, and those of nodes without a
    /// registry row, never a live node's: a server starting or stopping. Returns how many.
    pub async fn clear_signed_in(&self) -> Result<u64> {
        engine!(self, s => s.clear_signed_in().await)
    }

    /// The connections signed in to the running servers (every node of a pool), by
    /// account, oldest first.
    pub async fn signed_in(&self) -> Result<Vec<SignedIn>> {
        engine!(self, s => s.signed_in().await)
    }

    /// The last sign-in (unix seconds) of every account that has signed in, by principal id.
    pub async fn last_sign_ins(&self) -> Result<std::collections::BTreeMap<i64, i64>> {
        engine!(self, s => s.last_sign_ins().await)
    }
}
