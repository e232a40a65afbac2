//! History retention and legal holds: the types every engine stores (the [`Store`] methods
//! of retention at the end; those of holds are in the crate root). A category may keep
//! its rooms' messages only so many days; a legal hold on a room or a user suspends every
//! purge of what it covers, whether retention or an administrator asks for it. Each purge
//! leaves a compliance record of what it removed (the outbox kind `purge`).

use crate::Store;
use crate::error::Result;
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

impl Store {
    /// One step of a purge of a room's history before `before` (unix nanoseconds; all when
    /// `None`), at most `limit` messages and `limit` files, held users' left, each author's
    /// and file's compliance `purge` row written; a held room is refused
    /// ([`StoreError::Held`]). The caller removes the returned files from the file store,
    /// and calls again while [`Purged::full`].
    ///
    /// [`StoreError::Held`]: crate::StoreError::Held
    pub async fn purge_history(
        &self,
        room_id: i64,
        before: Option<i64>,
        limit: u32,
        reason: &str,
        at: i64,
    ) -> Result<Purged> {
        engine!(self, s => s.purge_history(room_id, before, limit, reason, at).await)
    }

    /// Sets how many days a category's rooms keep their messages (`None`: forever).
    pub async fn set_category_retention(&self, category_id: i64, days: Option<u32>) -> Result<()> {
        engine!(self, s => s.set_category_retention(category_id, days).await)
    }

    /// The retention of every category that has one, by category id.
    pub async fn category_retentions(&self) -> Result<std::collections::BTreeMap<i64, u32>> {
        engine!(self, s => s.category_retentions().await)
    }

    /// The rooms of categories with a retention, less those a hold keeps whole.
    pub async fn retained_rooms(&self) -> Result<Vec<RetainedRoom>> {
        engine!(self, s => s.retained_rooms().await)
    }
}
