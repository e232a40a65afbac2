//! The access change feed: what the admin commands changed that a running server must apply
//! to live sessions at once. Each change is written in the same transaction as the change
//! itself; the server reads the rows after the last one it applied.

use crate::Store;
use crate::error::Result;

/// One change, in commit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessChange {
    pub seq: i64,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// Who may be in which room changed: re-check the sessions of `principal_id` (everyone's
    /// when `None`) in `room_id`, or in the rooms of `category_id`, or (both `None`) in every
    /// room they are in.
    Rights {
        principal_id: Option<i64>,
        room_id: Option<i64>,
        category_id: Option<i64>,
    },
    /// End every session of the account (`reason` is for the log).
    SignOut { account: String, reason: String },
    /// Forget the failed sign-ins of the account.
    Unlock { account: String },
    /// The principal was invited to the room: push the invitation to its sessions.
    Invite { principal_id: i64, room_id: i64 },
    /// An admin command changed a room's settings: tell the sessions in it. (Whoever may no
    /// longer be there is re-checked by a `Rights` change before it.)
    RoomChanged { room_id: i64 },
}

impl ChangeKind {
    pub(crate) fn rights_in_room(room_id: i64, principal_id: Option<i64>) -> ChangeKind {
        ChangeKind::Rights {
            principal_id,
            room_id: Some(room_id),
            category_id: None,
        }
    }

    pub(crate) fn sign_out(account: &str, reason: &str) -> ChangeKind {
        ChangeKind::SignOut {
            account: account.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

impl Store {
    /// The sequence number of the newest access change (0 when none).
    pub async fn last_access_change(&self) -> Result<i64> {
        engine!(self, s => s.last_access_change().await)
    }

    /// Access changes after `seq`, oldest first, at most `limit`.
    pub async fn access_changes_after(&self, seq: i64, limit: u32) -> Result<Vec<AccessChange>> {
        engine!(self, s => s.access_changes_after(seq, limit).await)
    }
}
