//! Purging history: what a category's retention lets go, run by the server every
//! `retention.interval_secs` and by `parlance compliance purge`, and what an administrator
//! purges from one room (`parlance room purge`). A purge goes in steps of `retention.step`
//! messages and files, each its own short transaction with its compliance record, so chat
//! never waits for more than one step; the stored bytes of each step's files are removed
//! after its commit, outside any transaction. Legal holds are the store's to enforce: a
//! held room is refused, a held user's messages and files are passed over.

use std::time::Duration;

use parlance_clock::Clock;
use parlance_files::FileStore;
use parlance_store::retention::RetainedRoom;
use parlance_store::{Store, StoreError};
use tokio::sync::watch;

use crate::periodic::Periodic;

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// What a purge removed from one room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub messages: u64,
    pub files: u64,
}

/// The room a purge removes from: its id, and its GUID, under which the file store keeps
/// its files.
#[derive(Debug, Clone, Copy)]
pub struct PurgedRoom<'a> {
    pub id: i64,
    pub guid: &'a str,
}

/// Runs purges against one store and its file store.
#[derive(Debug, Clone)]
pub struct Purger {
    store: Store,
    files: FileStore,
    clock: Clock,
    step: u32,
}

impl Purger {
    pub fn new(store: Store, files: FileStore, clock: Clock, step: u32) -> Purger {
        Purger {
            store,
            files,
            clock,
            step: step.max(1),
        }
    }

    /// Purges a room's messages posted before `before` (unix nanoseconds; all when `None`)
    /// and the files nothing left links, step by step; `reason` heads each compliance
    /// record. A held room is refused ([`StoreError::Held`]) and loses nothing.
    pub async fn purge_room(
        &self,
        room: PurgedRoom<'_>,
        before: Option<i64>,
        reason: &str,
    ) -> Result<PurgeReport, StoreError> {
        let mut report = PurgeReport::default();
        loop {
            let purged = self
                .store
                .purge_history(room.id, before, self.step, reason, self.clock.unix_nanos())
                .await?;
            report.messages += purged.messages;
            report.files += purged.files.len() as u64;
            for file in &purged.files {
                // The row is gone, so nothing reaches these bytes any more; one that stays
                // behind is unreadable without it, and is reported rather than retried.
                if let Err(e) = self.files.remove(room.guid, &file.name).await {
                    tracing::warn!(error = %e, room = room.guid, file = %file.name, "purged file's stored bytes not removed");
                }
            }
            if !purged.full(self.step) {
                return Ok(report);
            }
        }
    }

    /// Applies every category's retention once: each room of such a category, unless held,
    /// loses what is older than its category keeps. Returns the rooms that lost something.
    /// A room that fails is logged and the others go on.
    pub async fn apply_retention(&self) -> Result<Vec<(RetainedRoom, PurgeReport)>, StoreError> {
        let mut purged = Vec::new();
        for retained in self.store.retained_rooms().await? {
            let age = i64::from(retained.days).saturating_mul(NANOS_PER_DAY);
            let before = self.clock.unix_nanos().saturating_sub(age);
            let reason = format!("retention {} days", retained.days);
            let room = PurgedRoom {
                id: retained.room_id,
                guid: &retained.room_guid,
            };
            match self.purge_room(room, Some(before), &reason).await {
                Ok(report) if report == PurgeReport::default() => {}
                Ok(report) => purged.push((retained, report)),
                // A hold placed since the rooms were listed: the store kept the room whole.
                Err(StoreError::Held(_)) => {}
                Err(e) => {
                    tracing::error!(error = %e, room = retained.room_guid, "retention: room not purged");
                }
            }
        }
        Ok(purged)
    }
}

/// Applies retention every `every` until shutdown, the first time at once.
pub(crate) async fn follow(purger: Purger, every: Duration, shutdown: watch::Receiver<bool>) {
    let mut periodic = Periodic::new(every, shutdown);
    while periodic.next().await {
        match purger.apply_retention().await {
            Ok(rooms) => {
                for (room, report) in rooms {
                    tracing::info!(
                        room = room.room_guid,
                        days = room.days,
                        messages = report.messages,
                        files = report.files,
                        "retention: history purged"
                    );
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "retention: rooms not listed; retrying at the next interval")
            }
        }
    }
}
