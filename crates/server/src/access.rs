//! Applies what the admin commands change to live sessions. Those commands run as separate
//! processes against the same database, so they cannot call into the server: each writes an
//! access change in the transaction of the change itself, and the server polls for changes
//! after the last one it applied (an indexed read, about once a second by default). A change
//! of rights parts the sessions that may no longer be in a room; a password change, a
//! disabled or removed account ends the account's sessions (SIP and room-management
//! browser sessions alike); an unlock clears its throttle; an invitation is pushed to the
//! invitee's sessions.

use std::sync::Arc;
use std::time::Duration;

use parlance_store::{AccessChange, ChangeKind, Store};
use parlance_web::manage::Manage;
use tokio::sync::watch;

use crate::frontend::FrontEnd;
use crate::groupchat::GroupChat;
use crate::periodic::Periodic;

/// Changes read in one go; more wait for the next tick, which comes at once.
const BATCH: u32 = 500;

/// Follows the change feed after `last` (its end when the server started, before any
/// session could exist: older changes concern none of this process's sessions) until shutdown.
pub(crate) async fn follow(
    store: Store,
    front_end: Arc<FrontEnd>,
    groupchat: Arc<GroupChat>,
    manage: Option<Manage>,
    mut last: i64,
    every: Duration,
    shutdown: watch::Receiver<bool>,
) {
    let mut periodic = Periodic::new(every, shutdown);
    while periodic.next().await {
        loop {
            let changes = match store.access_changes_after(last, BATCH).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "access changes not read; retrying");
                    break;
                }
            };
            let full = changes.len() == BATCH as usize;
            for change in changes {
                apply(&front_end, &groupchat, manage.as_ref(), &change).await;
                last = change.seq;
            }
            if !full {
                break;
            }
        }
    }
}

async fn apply(
    front_end: &FrontEnd,
    groupchat: &GroupChat,
    manage: Option<&Manage>,
    change: &AccessChange,
) {
    match &change.kind {
        ChangeKind::Rights {
            principal_id,
            room_id,
            category_id,
        } => {
            if let Err(e) = groupchat
                .chat()
                .recheck_access(*principal_id, *room_id, *category_id)
                .await
            {
                tracing::error!(error = %e, seq = change.seq, "room access not re-checked");
            }
        }
        ChangeKind::SignOut { account, reason } => {
            let connections = front_end.sign_out(account);
            let browsers = manage.map_or(0, |m| m.sign_out(account));
            tracing::info!(%account, reason, connections, browsers, "sessions ended by an admin change");
        }
        ChangeKind::Invite {
            principal_id,
            room_id,
        } => match groupchat
            .chat()
            .push_invitation(*principal_id, *room_id)
            .await
        {
            Ok(sessions) => {
                tracing::info!(principal_id, room_id, sessions, "invitation pushed");
            }
            Err(e) => tracing::error!(error = %e, seq = change.seq, "invitation not pushed"),
        },
        ChangeKind::RoomChanged { room_id } => {
            if let Err(e) = groupchat.chat().announce_settings(*room_id).await {
                tracing::error!(error = %e, seq = change.seq, "room change not announced");
            }
        }
        ChangeKind::Unlock { account } => {
            let addresses = front_end.throttle().unlock(account);
            tracing::info!(%account, addresses, "failed sign-ins forgotten (user unlock)");
        }
    }
}
