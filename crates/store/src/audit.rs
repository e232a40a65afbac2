//! The audit log: who changed what in a room or a category through the room-management
//! application. Each record is written by the store method that makes the change, in its
//! transaction, so the log and the data never disagree.

use crate::Store;
use crate::error::Result;

/// What the caller says about a change it asks the store to make; the store adds the room
/// or category it concerns.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    pub actor_id: i64,
    /// What was done: `room.create`, `room.edit`, `room.people`, `category.edit`,
    /// `category.people`.
    pub action: &'a str,
    /// What changed, as text for people: `field: old → new`, people added and removed.
    pub detail: &'a str,
    /// Unix nanoseconds.
    pub at: i64,
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    /// Unix nanoseconds.
    pub at: i64,
    pub actor_id: i64,
    /// The actor's address (kept for removed accounts: their principal stays as a tombstone).
    pub actor_uri: String,
    pub room_id: Option<i64>,
    pub category_id: Option<i64>,
    pub action: String,
    pub detail: String,
}

impl Store {
    /// A room's audit records, newest first, at most `limit`.
    pub async fn audit_for_room(&self, room_id: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        engine!(self, s => s.audit_for_room(room_id, limit).await)
    }

    /// A category's audit records, newest first, at most `limit`.
    pub async fn audit_for_category(
        &self,
        category_id: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        engine!(self, s => s.audit_for_category(category_id, limit).await)
    }
}
