//! The deadline of a search. SQLite calls a progress handler every few hundred
//! virtual-machine steps of a statement; once the handler says stop, the statement ends
//! with `SQLITE_INTERRUPT`. A query that would scan for minutes stops at its deadline
//! instead, and the connection is fit for the next search.

use std::time::Instant;

use sqlx::Sqlite;
use sqlx::pool::PoolConnection;

use super::SqliteStore;
use crate::error::{Result, StoreError};

/// Virtual-machine steps between two looks at the clock: well under a millisecond of work,
/// and a clock read is cheap next to that many steps.
const STEPS_PER_CHECK: i32 = 500;

/// SQLite's result code for a statement stopped by its progress handler.
const SQLITE_INTERRUPT: &str = "9";

impl SqliteStore {
    /// A search connection whose statements stop once the search time limit has passed,
    /// counted from now. The handler stays on the connection afterwards; it is harmless
    /// there, since only searches use these connections and each sets its own deadline.
    pub(super) async fn search_connection(&self) -> Result<PoolConnection<Sqlite>> {
        let mut conn = self.searches.acquire().await?;
        let deadline = Instant::now() + self.search_time;
        conn.lock_handle()
            .await?
            .set_progress_handler(STEPS_PER_CHECK, move || Instant::now() < deadline);
        Ok(conn)
    }

    /// A search error as the caller should see it: a stop at the deadline is
    /// [`StoreError::SearchTimeLimit`].
    pub(super) fn search_error(&self, e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::Database(d) if d.code().as_deref() == Some(SQLITE_INTERRUPT) => {
                StoreError::SearchTimeLimit {
                    limit_ms: u64::try_from(self.search_time.as_millis()).unwrap_or(u64::MAX),
                }
            }
            other => other.into(),
        }
    }
}
