//! Administrators and the people search of the room-management application, on SQLite.

use super::changes::record_change;
use super::{LIVE_USERS, SqliteStore, live_user_id};
use crate::accounts::User;
use crate::changes::ChangeKind;
use crate::engine::like_escape;
use crate::error::Result;
use crate::rows;

impl SqliteStore {
    /// Makes an account an administrator or takes the flag away. The account's rights are
    /// re-checked by a running server, as after any change of who may do what.
    pub async fn set_admin(&self, uri: &str, admin: bool) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id = live_user_id(&mut tx, uri).await?;
        sqlx::query("UPDATE principals SET admin = ? WHERE id = ?")
            .bind(admin)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let change = ChangeKind::Rights {
            principal_id: Some(id),
            room_id: None,
            category_id: None,
        };
        record_change(&mut tx, &change).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lets an account use persistent chat or not. Turned off, the account's sessions end,
    /// so that its clients sign in again and learn it from provisioning at once.
    pub async fn set_persistent_chat(&self, uri: &str, enabled: bool) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let id = live_user_id(&mut tx, uri).await?;
        sqlx::query("UPDATE principals SET persistent_chat = ? WHERE id = ?")
            .bind(enabled)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if !enabled {
            record_change(
                &mut tx,
                &ChangeKind::sign_out(uri, "persistent chat turned off"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Active accounts whose address or display name contains `query` (case-insensitively,
    /// for ASCII letters as SQLite's LIKE does), by address, at most `limit`. The query is
    /// text, never a pattern: `%`, `_` and `\` are escaped.
    pub async fn search_users(&self, query: &str, limit: u32) -> Result<Vec<User>> {
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let pattern = format!("%{}%", like_escape(query));
        let sql = format!(
            "{LIVE_USERS} AND disabled = 0 \
             AND (uri LIKE ?1 ESCAPE '\\' OR display_name LIKE ?1 ESCAPE '\\') ORDER BY uri LIMIT ?2"
        );
        // A pattern match over every account: a search, under the search time limit.
        let mut conn = self.search_connection().await?;
        let rows = sqlx::query(&sql)
            .bind(pattern)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.search_error(e))?;
        Ok(rows.iter().map(rows::user).collect())
    }
}
