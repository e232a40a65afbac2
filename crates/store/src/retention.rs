//! History retention and legal holds: the types every engine stores. A category may keep
//! its rooms' messages only so many days; a legal hold on a room or a user suspends every
//! purge of what it covers, whether retention or an administrator asks for it. Each purge
//! leaves a compliance record of what it removed (the outbox kind `purge`).

use crate::files::StoredFile;

/// What a legal hold covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldTarget {
    /// Every message and file of the room.
    Room(i64),
    /// Every message the user (a principal id) wrote and every file they uploaded, in any
    /// room.
    User(i64),
}

/// A legal hold, in force until released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    pub id: i64,
    pub target: HoldTarget,
    pub reason: String,
    /// Who placed it: the operating-system account that ran the command.
    pub placed_by: String,
    /// Unix nanoseconds.
    pub placed_at: i64,
    pub released_by: Option<String>,
    pub released_at: Option<i64>,
}

/// A room that a retention policy covers and no hold keeps whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedRoom {
    pub room_id: i64,
    pub room_guid: String,
    pub days: u32,
}

/// What one purge step removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    pub messages: u64,
    /// The files whose rows went, for the caller to remove from the file store.
    pub files: Vec<StoredFile>,
}

impl Purged {
    /// Whether a step of at most `limit` messages and `limit` files may have left more.
    pub fn full(&self, limit: u32) -> bool {
        self.messages >= u64::from(limit) || self.files.len() >= limit as usize
    }
}
