//! The uploads in progress, by token, whichever API they arrive through. The table is
//! bounded per principal; each upload sits behind its own async lock, so that its chunks
//! are stored one at a time while other uploads go on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use parlance_chat::files::CheckedGrant;
use parlance_files::Upload;
use parlance_store::files::StoredFile;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use super::refusal::Refusal;

/// One upload: the file being written, the grant its last chunk was stored under, the row
/// it will complete, and the length its uploader declared.
#[derive(Debug)]
pub(crate) struct InProgress {
    pub(crate) upload: Upload,
    pub(crate) checked: CheckedGrant,
    pub(crate) file: StoredFile,
    pub(crate) file_length: u64,
}

/// An upload's place in the table. `None` inside once the upload has ended (or before it
/// has started): a request that waited for the lock meanwhile finds nothing to go on with.
pub(crate) type Slot = Arc<AsyncMutex<Option<InProgress>>>;

#[derive(Debug)]
struct Entry {
    principal: String,
    file_id: i64,
    slot: Slot,
}

#[derive(Debug)]
pub(crate) struct Uploads {
    table: Mutex<HashMap<String, Entry>>,
    per_principal: usize,
}

impl Uploads {
    pub(crate) fn new(per_principal: usize) -> Uploads {
        Uploads {
            table: Mutex::new(HashMap::new()),
            per_principal,
        }
    }

    pub(crate) fn get(&self, token: &str) -> Option<Slot> {
        self.lock().get(token).map(|e| e.slot.clone())
    }

    /// A new, empty place for `token`'s upload of file `file_id`, locked by the caller,
    /// which fills it. Refused when the token has one already or `principal` has as many as
    /// allowed.
    pub(crate) fn create(
        &self,
        token: &str,
        principal: &str,
        file_id: i64,
    ) -> Result<OwnedMutexGuard<Option<InProgress>>, Refusal> {
        let mut table = self.lock();
        if table.contains_key(token) {
            return Err(Refusal::InProgress);
        }
        if table.values().filter(|e| e.principal == principal).count() >= self.per_principal {
            return Err(Refusal::TooManyUploads);
        }
        let slot: Slot = Arc::new(AsyncMutex::new(None));
        let guard = slot.clone().try_lock_owned().expect("a new lock is free");
        table.insert(
            token.to_owned(),
            Entry {
                principal: principal.to_owned(),
                file_id,
                slot,
            },
        );
        Ok(guard)
    }

    pub(crate) fn remove(&self, token: &str) -> Option<Slot> {
        self.lock().remove(token).map(|e| e.slot)
    }

    /// The upload that writes file `file_id`, if one does, and its token.
    pub(crate) fn writing(&self, file_id: i64) -> Option<(String, Slot)> {
        self.lock()
            .iter()
            .find(|(_, e)| e.file_id == file_id)
            .map(|(token, e)| (token.clone(), e.slot.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.table.lock().expect("uploads lock")
    }
}
