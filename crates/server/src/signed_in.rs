//! Keeps the database's signed-in table in step with the connections, so that a separate
//! process (`parlance session list`) sees who is connected; each new sign-in also moves
//! the account's last sign-in there. In a pool every node writes its own rows (the store
//! handle names the node), so the rows this server clears when it starts and when it stops
//! are its own — with those of nodes gone from the registry — and never the sessions of
//! another live node. Between, the table is compared with the connections once a period
//! and written only when they differ, in batches: sign-ins and REGISTER refreshes
//! themselves never wait for the store's single writer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use parlance_store::Store;
use parlance_store::signed_in::SignedIn;
use tokio::sync::watch;

use crate::periodic::Periodic;
use crate::transport::{ConnHandle, ConnId, Connections};

/// Rows written in one transaction: a burst of sign-ins (every client back after a
/// restart) does not hold the writer for long at a time.
const BATCH: usize = 500;

pub(crate) async fn follow(
    store: Store,
    connections: Arc<Connections>,
    every: Duration,
    shutdown: watch::Receiver<bool>,
) {
    if let Err(e) = store.clear_signed_in().await {
        tracing::error!(error = %e, "this node's rows of the signed-in table were not cleared at start");
    }
    // The connections on the table, as far as this process knows.
    let mut written: HashSet<ConnId> = HashSet::new();
    let mut periodic = Periodic::new(every, shutdown);
    while periodic.next().await {
        let now: HashMap<ConnId, ConnHandle> = connections
            .signed_in()
            .into_iter()
            .map(|c| (c.id(), c))
            .collect();
        let ended: Vec<ConnId> = written
            .iter()
            .filter(|id| !now.contains_key(id))
            .copied()
            .collect();
        let started: Vec<SignedIn> = now
            .values()
            .filter(|c| !written.contains(&c.id()))
            .filter_map(row)
            .collect();
        for batch in ended.chunks(BATCH) {
            match store.note_signed_in(batch, &[]).await {
                Ok(()) => batch.iter().for_each(|id| {
                    written.remove(id);
                }),
                Err(e) => {
                    tracing::error!(error = %e, "ended sessions not taken off the signed-in table; retrying")
                }
            }
        }
        for batch in started.chunks(BATCH) {
            match store.note_signed_in(&[], batch).await {
                Ok(()) => written.extend(batch.iter().map(|s| s.connection)),
                Err(e) => {
                    tracing::error!(error = %e, "new sessions not put on the signed-in table; retrying")
                }
            }
        }
    }
    if let Err(e) = store.clear_signed_in().await {
        tracing::error!(error = %e, "this node's rows of the signed-in table were not cleared at shutdown");
    }
}

/// A connection as the table holds it; `None` if it has no account (it always has one once
/// signed in).
fn row(conn: &ConnHandle) -> Option<SignedIn> {
    let since = conn
        .signed_in_at()?
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Some(SignedIn {
        connection: conn.id(),
        account: conn.identity()?,
        transport: conn.transport().via_token().to_ascii_lowercase(),
        remote: conn.peer().to_string(),
        since,
    })
}
