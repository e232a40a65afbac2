//! The room-management application's changes on SQLite: each one and its audit record in one
//! transaction, with the access change a running server needs when someone may have lost
//! their place in a room.

use sqlx::{Row, Sqlite, Transaction};

use super::SqliteStore;
use super::rooms::{
    CATEGORY_COLUMNS, insert_room, record_scope_change, set_creator_in, set_role_in, set_scope_in,
    update_room_in,
};
use crate::audit::{Audit, AuditEntry};
use crate::engine::{foreign_key_as_not_found, unique_as_duplicate};
use crate::error::{Result, StoreError};
use crate::rooms::{Category, CategoryUpdate, NewRoom, Role, Room, ScopeEntry};
use crate::rows;

/// What an audit record concerns.
enum Subject {
    Room(i64),
    Category(i64),
}

impl SqliteStore {
    /// A new room whose creator becomes its first member and manager.
    pub async fn create_room(
        &self,
        new: &NewRoom<'_>,
        file_post: Option<bool>,
        audit: &Audit<'_>,
    ) -> Result<Room> {
        let mut tx = self.begin_write().await?;
        let room_id = insert_room(&mut tx, new, file_post).await?;
        for role in [Role::Member, Role::Manager] {
            set_role_in(&mut tx, room_id, audit.actor_id, role, true).await?;
        }
        write_audit(&mut tx, Subject::Room(room_id), audit).await?;
        tx.commit().await?;
        self.room_after_write(room_id).await
    }

    pub async fn edit_room(
        &self,
        room_id: i64,
        update: &crate::rooms::RoomUpdate,
        audit: &Audit<'_>,
    ) -> Result<Room> {
        let mut tx = self.begin_write().await?;
        update_room_in(&mut tx, room_id, update).await?;
        write_audit(&mut tx, Subject::Room(room_id), audit).await?;
        tx.commit().await?;
        self.room_after_write(room_id).await
    }

    /// Gives `role` to the principals of `add` and takes it from those of `remove`.
    pub async fn change_roles(
        &self,
        room_id: i64,
        role: Role,
        add: &[i64],
        remove: &[i64],
        audit: &Audit<'_>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (ids, on) in [(add, true), (remove, false)] {
            for &principal_id in ids {
                set_role_in(&mut tx, room_id, principal_id, role, on).await?;
            }
        }
        write_audit(&mut tx, Subject::Room(room_id), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn edit_category(
        &self,
        category_id: i64,
        update: &CategoryUpdate,
        audit: &Audit<'_>,
    ) -> Result<Category> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE categories SET name = COALESCE(?, name), description = COALESCE(?, description), \
             file_post = COALESCE(?, file_post), invitations = COALESCE(?, invitations), \
             logged = COALESCE(?, logged) WHERE id = ?",
        )
        .bind(update.name.as_deref())
        .bind(update.description.as_deref())
        .bind(update.file_post)
        .bind(update.invitations)
        .bind(update.logged)
        .bind(category_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            let name = update.name.as_deref().unwrap_or_default();
            unique_as_duplicate(e, &format!("a category named {name}"))
        })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("category".into()));
        }
        if update.file_post.is_some() {
            // Who may post files in the category's rooms: an upload in progress there is
            // checked again.
            record_scope_change(&mut tx, category_id).await?;
        }
        write_audit(&mut tx, Subject::Category(category_id), audit).await?;
        let sql = format!("SELECT {CATEGORY_COLUMNS} FROM categories WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(category_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows::category(&row))
    }

    /// Adds and removes creators and scope entries of a category (`None` takes a principal
    /// off both scope lists). A scope change re-checks everyone in the category's rooms:
    /// the first allow entry shuts everyone else out.
    pub async fn change_category_people(
        &self,
        category_id: i64,
        creators: &[(i64, bool)],
        scope: &[(i64, Option<ScopeEntry>)],
        audit: &Audit<'_>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for &(principal_id, creator) in creators {
            set_creator_in(&mut tx, category_id, principal_id, creator).await?;
        }
        for &(principal_id, entry) in scope {
            set_scope_in(&mut tx, category_id, principal_id, entry).await?;
        }
        if !scope.is_empty() {
            record_scope_change(&mut tx, category_id).await?;
        }
        write_audit(&mut tx, Subject::Category(category_id), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The principals who may create rooms in a category.
    pub async fn category_creators(&self, category_id: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT principal_id FROM category_creators WHERE category_id = ? ORDER BY principal_id",
        )
        .bind(category_id)
        .fetch_all(&self.reads)
        .await?)
    }

    /// A category's scope lists: each listed principal with its entry.
    pub async fn category_scope(&self, category_id: i64) -> Result<Vec<(i64, ScopeEntry)>> {
        let rows = sqlx::query(
            "SELECT principal_id, allow FROM category_scope WHERE category_id = ? ORDER BY principal_id",
        )
        .bind(category_id)
        .fetch_all(&self.reads)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let entry = if r.get::<bool, _>("allow") {
                    ScopeEntry::Allow
                } else {
                    ScopeEntry::Deny
                };
                (r.get("principal_id"), entry)
            })
            .collect())
    }

    /// A room's newest audit records first, at most `limit`.
    pub async fn audit_for_room(&self, room_id: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        self.audit_where("a.room_id = ?", room_id, limit).await
    }

    /// A category's newest audit records first, at most `limit`.
    pub async fn audit_for_category(
        &self,
        category_id: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        self.audit_where("a.category_id = ?", category_id, limit)
            .await
    }

    async fn audit_where(&self, condition: &str, id: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT a.id, a.at, a.actor_id, p.uri, a.room_id, a.category_id, a.action, a.detail \
             FROM audit_log a JOIN principals p ON p.id = a.actor_id WHERE {condition} \
             ORDER BY a.id DESC LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(&self.reads)
            .await?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                id: r.get("id"),
                at: r.get("at"),
                actor_id: r.get("actor_id"),
                actor_uri: r.get("uri"),
                room_id: r.get("room_id"),
                category_id: r.get("category_id"),
                action: r.get("action"),
                detail: r.get("detail"),
            })
            .collect())
    }
}

async fn write_audit(
    tx: &mut Transaction<'_, Sqlite>,
    subject: Subject,
    audit: &Audit<'_>,
) -> Result<()> {
    let (room_id, category_id) = match subject {
        Subject::Room(id) => (Some(id), None),
        Subject::Category(id) => (None, Some(id)),
    };
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, room_id, category_id, action, detail) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(audit.at)
    .bind(audit.actor_id)
    .bind(room_id)
    .bind(category_id)
    .bind(audit.action)
    .bind(audit.detail)
    .execute(&mut **tx)
    .await
    .map_err(|e| foreign_key_as_not_found(e, "actor"))?;
    Ok(())
}
