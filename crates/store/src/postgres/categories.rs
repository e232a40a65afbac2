//! Renaming and deleting categories on PostgreSQL (the admin commands).

use sqlx::Row;

use super::PgStore;
use super::rooms::{CATEGORY_COLUMNS, record_scope_change};
use crate::engine::unique_as_duplicate;
use crate::error::{Result, StoreError};
use crate::rooms::Category;
use crate::rows;

impl PgStore {
    /// Renames a category; a name another category has (whatever its case) is `Duplicate`.
    pub async fn rename_category(&self, category_id: i64, name: &str) -> Result<Category> {
        let sql =
            format!("UPDATE categories SET name = $1 WHERE id = $2 RETURNING {CATEGORY_COLUMNS}");
        let row = sqlx::query(&sql)
            .bind(name)
            .bind(category_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unique_as_duplicate(e, &format!("a category named {name}")))?
            .ok_or_else(|| StoreError::NotFound("category".into()))?;
        Ok(rows::category(&row))
    }

    /// Deletes a category with its creators, scope lists and audit records. Its rooms move to
    /// `rooms_to` first when given; otherwise a category with rooms is refused, as is one
    /// with categories below it and the root. Returns how many rooms moved.
    pub async fn delete_category(&self, category_id: i64, rooms_to: Option<i64>) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        // The category's row is locked first: a room or category added below it meanwhile
        // waits, and then finds it gone, rather than being left without a parent.
        let row = sqlx::query(
            "SELECT parent_id, \
               (SELECT COUNT(*) FROM categories WHERE parent_id = $1) AS children, \
               (SELECT COUNT(*) FROM rooms WHERE category_id = $1) AS rooms \
             FROM categories WHERE id = $1 FOR UPDATE",
        )
        .bind(category_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound("category".into()))?;
        let refuse = |why: String| StoreError::Invalid {
            what: "category to delete",
            why,
        };
        if row.get::<Option<i64>, _>("parent_id").is_none() {
            return Err(refuse("it is the root".into()));
        }
        let children: i64 = row.get("children");
        if children > 0 {
            return Err(refuse(format!("{children} categories are below it")));
        }
        let rooms: i64 = row.get("rooms");
        let moved = match rooms_to {
            Some(target) if target == category_id => {
                return Err(refuse("its rooms cannot move to itself".into()));
            }
            Some(target) => {
                // Rooms live below the root only; the insert of a room checks the same.
                let below_root: Option<Option<i64>> =
                    sqlx::query_scalar("SELECT parent_id FROM categories WHERE id = $1")
                        .bind(target)
                        .fetch_optional(&mut *tx)
                        .await?;
                match below_root {
                    None => return Err(StoreError::NotFound("category for its rooms".into())),
                    Some(None) => return Err(refuse("its rooms cannot move to the root".into())),
                    Some(Some(_)) => {}
                }
                let moved = sqlx::query(
                    "UPDATE rooms SET category_id = $1, updated_at = $2 WHERE category_id = $3",
                )
                .bind(target)
                .bind(crate::now())
                .bind(category_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                // The rooms are now under the other category's scope: whoever is in them is
                // re-checked against it.
                record_scope_change(&mut tx, target).await?;
                moved
            }
            None if rooms > 0 => {
                return Err(refuse(format!(
                    "it has {rooms} rooms (move them with --rooms-to, or delete them first)"
                )));
            }
            None => 0,
        };
        // The audit records name the category; its creators and scope go by cascade.
        sqlx::query("DELETE FROM audit_log WHERE category_id = $1")
            .bind(category_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM categories WHERE id = $1")
            .bind(category_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(moved)
    }
}
