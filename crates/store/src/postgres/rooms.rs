//! Categories, rooms and roles on PostgreSQL.

use std::sync::LazyLock;

use sqlx::{Postgres, Row, Transaction};

use super::PgStore;
use super::changes::record_change;
use crate::changes::ChangeKind;
use crate::engine::{foreign_key_as_not_found, like_escape, unique_as_duplicate};
use crate::error::{Result, StoreError};
use crate::rooms::{
    Category, NewCategory, NewRoom, Role, RoleHolder, Room, RoomInfo, RoomStanding, RoomUpdate,
    ScopeEntry,
};
use crate::rows;

pub(super) const CATEGORY_COLUMNS: &str =
    "id, guid, parent_id, name, description, file_post, invitations, logged";
/// A room with its category's columns prefixed `c_`, as `rows::room_info` reads them.
const ROOM_INFO_SELECT: &str = "SELECT r.id, r.guid, r.category_id, r.name, r.description, r.topic, r.privacy, \
     r.behavior, r.invitations, r.disabled, r.file_post, c.id AS c_id, c.guid AS c_guid, c.parent_id AS c_parent_id, \
     c.name AS c_name, c.description AS c_description, c.file_post AS c_file_post, \
     c.invitations AS c_invitations, c.logged AS c_logged FROM rooms r JOIN categories c ON c.id = r.category_id";

/// Whether principal `$2` is inside the scope of the category whose id is `category`: not
/// denied there, and allowed if the category has an allow list (without one, everyone is).
fn in_scope_of(category: &str) -> String {
    format!(
        "(NOT EXISTS (SELECT 1 FROM category_scope s WHERE s.category_id = {category} AND s.principal_id = $2 AND NOT s.allow) \
          AND (NOT EXISTS (SELECT 1 FROM category_scope s WHERE s.category_id = {category} AND s.allow) \
               OR EXISTS (SELECT 1 FROM category_scope s WHERE s.category_id = {category} AND s.principal_id = $2 AND s.allow)))"
    )
}

/// Category `$1`'s scope for principal `$2`.
static IN_SCOPE: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} AS in_scope", in_scope_of("$1")));

/// The id of the room of GUID `$1`, in any case. The unique index on `guid` compares
/// exactly, so the exact spelling (the one the server wrote and clients send back) is looked
/// up through it first; only a GUID spelt otherwise, or none, costs a scan of the rooms.
/// Compared without case from the start, every join and post scanned every room (1.3 ms
/// each at 8,000 rooms).
const ROOM_ID_OF_GUID: &str = "COALESCE((SELECT id FROM rooms WHERE guid = $1), \
     (SELECT id FROM rooms WHERE lower(guid) = lower($1)))";

/// [`ROOM_ID_OF_GUID`] as the condition of a room's select.
static ROOM_BY_GUID: LazyLock<String> = LazyLock::new(|| format!("r.id = {ROOM_ID_OF_GUID}"));

/// The room of GUID `$1` with principal `$2`'s roles and scope, as `rows::room_standing`
/// reads them.
static ROOM_STANDING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT i.*, \
           (SELECT string_agg(role, ',') FROM room_roles rr WHERE rr.room_id = i.id AND rr.principal_id = $2) AS roles, \
           {} AS in_scope \
         FROM ({ROOM_INFO_SELECT} WHERE r.id = {ROOM_ID_OF_GUID}) i",
        in_scope_of("i.c_id")
    )
});

impl PgStore {
    /// The root category, created on first use.
    pub async fn root_category(&self) -> Result<Category> {
        let sql = format!("SELECT {CATEGORY_COLUMNS} FROM categories WHERE parent_id IS NULL");
        if let Some(row) = sqlx::query(&sql).fetch_optional(&self.pool).await? {
            return Ok(rows::category(&row));
        }
        sqlx::query(
            "INSERT INTO categories (guid, parent_id, name, description, created_at) VALUES ($1, NULL, 'Root', '', $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(crate::new_guid())
        .bind(crate::now())
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(&sql).fetch_one(&self.pool).await?;
        Ok(rows::category(&row))
    }

    pub async fn add_category(&self, new: &NewCategory<'_>) -> Result<Category> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO categories (guid, parent_id, name, description, file_post, invitations, logged, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(crate::new_guid())
        .bind(new.parent_id)
        .bind(new.name)
        .bind(new.description)
        .bind(new.file_post)
        .bind(new.invitations)
        .bind(new.logged)
        .bind(crate::now())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Duplicate(format!("a category named {}", new.name))
            }
            e => foreign_key_as_not_found(e, "parent category"),
        })?;
        self.category(id)
            .await?
            .ok_or_else(|| StoreError::NotFound("category".into()))
    }

    pub async fn category(&self, id: i64) -> Result<Option<Category>> {
        let sql = format!("SELECT {CATEGORY_COLUMNS} FROM categories WHERE id = $1");
        Ok(sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(rows::category))
    }

    /// A category by GUID or by (case-insensitive) name.
    pub async fn find_category(&self, guid_or_name: &str) -> Result<Option<Category>> {
        let sql = format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories WHERE guid = $1 OR lower(name) = lower($1) ORDER BY guid = $1 DESC LIMIT 1"
        );
        Ok(sqlx::query(&sql)
            .bind(guid_or_name)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(rows::category))
    }

    pub async fn categories(&self) -> Result<Vec<Category>> {
        let sql = format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories ORDER BY parent_id IS NOT NULL, name"
        );
        Ok(sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::category)
            .collect())
    }

    pub async fn set_category_creator(
        &self,
        category_id: i64,
        principal_id: i64,
        creator: bool,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        set_creator_in(&mut tx, category_id, principal_id, creator).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Categories in which the principal may create rooms.
    pub async fn creator_categories(&self, principal_id: i64) -> Result<Vec<Category>> {
        let sql = format!(
            "SELECT {CATEGORY_COLUMNS} FROM categories WHERE id IN \
             (SELECT category_id FROM category_creators WHERE principal_id = $1) ORDER BY name"
        );
        Ok(sqlx::query(&sql)
            .bind(principal_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::category)
            .collect())
    }

    pub async fn set_category_scope(
        &self,
        category_id: i64,
        principal_id: i64,
        entry: Option<ScopeEntry>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        set_scope_in(&mut tx, category_id, principal_id, entry).await?;
        record_scope_change(&mut tx, category_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the principal is inside the category's scope: not denied, and allowed when
    /// the category has an allow list.
    pub async fn in_scope(&self, category_id: i64, principal_id: i64) -> Result<bool> {
        Ok(sqlx::query_scalar(&IN_SCOPE)
            .bind(category_id)
            .bind(principal_id)
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn add_room(&self, new: &NewRoom<'_>) -> Result<Room> {
        let mut tx = self.begin_write().await?;
        let room_id = insert_room(&mut tx, new, None).await?;
        tx.commit().await?;
        self.room_after_write(room_id).await
    }

    /// Changes a room from outside the server (the admin commands): the server hears of it
    /// from the change feed and tells the sessions in the room. (The room-management
    /// application tells them itself, through `edit_room`.)
    pub async fn update_room(&self, room_id: i64, update: &RoomUpdate) -> Result<Room> {
        let mut tx = self.begin_write().await?;
        update_room_in(&mut tx, room_id, update).await?;
        record_change(&mut tx, &ChangeKind::RoomChanged { room_id }).await?;
        tx.commit().await?;
        self.room_after_write(room_id).await
    }

    /// A room just written, read back.
    pub(super) async fn room_after_write(&self, room_id: i64) -> Result<Room> {
        let info = self.room_by_id(room_id).await?;
        info.map(|i| i.room)
            .ok_or_else(|| StoreError::NotFound("room".into()))
    }

    pub async fn room_by_id(&self, room_id: i64) -> Result<Option<RoomInfo>> {
        self.room_where("r.id = $1", RoomKey::Id(room_id)).await
    }

    /// A room by GUID, in any case.
    pub async fn room_by_guid(&self, guid: &str) -> Result<Option<RoomInfo>> {
        self.room_where(&ROOM_BY_GUID, RoomKey::Text(guid)).await
    }

    /// The room of a GUID, with what the principal holds there, in one query.
    pub async fn room_standing(
        &self,
        guid: &str,
        principal_id: i64,
    ) -> Result<Option<RoomStanding>> {
        let row = sqlx::query(&ROOM_STANDING)
            .bind(guid)
            .bind(principal_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(rows::room_standing))
    }

    /// A room by GUID or by (case-insensitive) name.
    pub async fn find_room(&self, guid_or_name: &str) -> Result<Option<RoomInfo>> {
        match self.room_by_guid(guid_or_name).await? {
            Some(r) => Ok(Some(r)),
            None => {
                self.room_where("lower(r.name) = lower($1)", RoomKey::Text(guid_or_name))
                    .await
            }
        }
    }

    async fn room_where(&self, condition: &str, key: RoomKey<'_>) -> Result<Option<RoomInfo>> {
        let sql = format!("{ROOM_INFO_SELECT} WHERE {condition}");
        let query = sqlx::query(&sql);
        let query = match key {
            RoomKey::Id(id) => query.bind(id),
            RoomKey::Text(t) => query.bind(t),
        };
        Ok(query
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(rows::room_info))
    }

    /// The rooms in which the principal holds `role`, by name.
    pub async fn rooms_with_role(&self, principal_id: i64, role: Role) -> Result<Vec<RoomInfo>> {
        let sql = format!(
            "{ROOM_INFO_SELECT} WHERE r.id IN \
             (SELECT room_id FROM room_roles WHERE principal_id = $1 AND role = $2) \
             ORDER BY lower(r.name)"
        );
        let rows = sqlx::query(&sql)
            .bind(principal_id)
            .bind(role.as_str())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(rows::room_info).collect())
    }

    /// The rooms of one category, by name, at most `limit`; Secret rooms only where
    /// `visible_to` holds a role (the candidates of [`PgStore::search_rooms`]).
    pub async fn rooms_in_category(
        &self,
        category_id: i64,
        visible_to: i64,
        limit: u32,
    ) -> Result<Vec<RoomInfo>> {
        let sql = format!(
            "{ROOM_INFO_SELECT} WHERE r.category_id = $1 \
               AND (r.privacy <> 'secret' \
                    OR EXISTS (SELECT 1 FROM room_roles rr WHERE rr.room_id = r.id AND rr.principal_id = $2)) \
             ORDER BY lower(r.name) LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(category_id)
            .bind(visible_to)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(rows::room_info).collect())
    }

    /// Every room with its category, by name.
    pub async fn rooms(&self) -> Result<Vec<RoomInfo>> {
        self.search_rooms(None, false, None, u32::MAX).await
    }

    /// Rooms whose name (and description, when asked) contains `text`, at most `limit`.
    /// With `visible_to`, Secret rooms are kept only where that principal holds a role: the
    /// candidates the chat core asks for (its `permissions.rs` defines this pre-filter), so
    /// that the limit is not spent on Secret rooms. A candidate is not yet a visible room:
    /// the core decides that, room by room.
    pub async fn search_rooms(
        &self,
        text: Option<&str>,
        in_description: bool,
        visible_to: Option<i64>,
        limit: u32,
    ) -> Result<Vec<RoomInfo>> {
        let pattern = text
            .filter(|t| !t.is_empty())
            .map(|t| format!("%{}%", like_escape(t)));
        let sql = format!(
            "{ROOM_INFO_SELECT} \
             WHERE ($1 IS NULL OR r.name ILIKE $1 ESCAPE '\\' OR ($2 AND r.description ILIKE $1 ESCAPE '\\')) \
               AND ($3 IS NULL OR r.privacy <> 'secret' \
                    OR EXISTS (SELECT 1 FROM room_roles rr WHERE rr.room_id = r.id AND rr.principal_id = $3)) \
             ORDER BY lower(r.name) LIMIT $4"
        );
        // A pattern match over every room name: a search, under the search time limit.
        let mut conn = self.search_connection().await?;
        let rows = sqlx::query(&sql)
            .bind(pattern)
            .bind(in_description)
            .bind(visible_to)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.search_error(e))?;
        Ok(rows.iter().map(rows::room_info).collect())
    }

    pub async fn set_role(
        &self,
        room_id: i64,
        principal_id: i64,
        role: Role,
        on: bool,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        set_role_in(&mut tx, room_id, principal_id, role, on).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn roles_of(&self, room_id: i64, principal_id: i64) -> Result<Vec<Role>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT role FROM room_roles WHERE room_id = $1 AND principal_id = $2 ORDER BY role",
        )
        .bind(room_id)
        .bind(principal_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().filter_map(|r| r.parse().ok()).collect())
    }

    pub async fn role_holders(&self, room_id: i64) -> Result<Vec<RoleHolder>> {
        let rows = sqlx::query(
            "SELECT rr.principal_id, p.uri, p.display_name, rr.role FROM room_roles rr JOIN principals p ON p.id = rr.principal_id \
             WHERE rr.room_id = $1 ORDER BY p.uri, rr.role",
        )
        .bind(room_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(RoleHolder {
                    principal_id: r.get("principal_id"),
                    uri: r.get("uri"),
                    display_name: r.get("display_name"),
                    role: r.get::<String, _>("role").parse().ok()?,
                })
            })
            .collect())
    }
}

/// Inserts a room; returns its id. A missing category is `NotFound`, the root `Invalid`, a
/// taken name `Duplicate`.
pub(super) async fn insert_room(
    tx: &mut Transaction<'_, Postgres>,
    new: &NewRoom<'_>,
    file_post: Option<bool>,
) -> Result<i64> {
    let now = crate::now();
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO rooms (guid, category_id, name, description, topic, privacy, behavior, invitations, file_post, created_at, updated_at) \
         SELECT $1, id, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM categories WHERE id = $11 AND parent_id IS NOT NULL \
         RETURNING id",
    )
    .bind(crate::new_guid())
    .bind(new.name)
    .bind(new.description)
    .bind(new.topic)
    .bind(new.privacy.as_str())
    .bind(new.behavior.as_str())
    .bind(new.invitations)
    .bind(file_post)
    .bind(now)
    .bind(now)
    .bind(new.category_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(|e| unique_as_duplicate(e, new.name))?;
    if let Some(id) = inserted {
        return Ok(id);
    }
    // The insert selects nothing both for a missing category and for the root.
    let parent: Option<Option<i64>> =
        sqlx::query_scalar("SELECT parent_id FROM categories WHERE id = $1")
            .bind(new.category_id)
            .fetch_optional(&mut **tx)
            .await?;
    Err(match parent {
        None => StoreError::NotFound("category".into()),
        Some(_) => StoreError::Invalid {
            what: "category",
            why: "it is the root (rooms live in categories below the root)".into(),
        },
    })
}

/// Applies a room update, recording an access change when it can shut someone out.
pub(super) async fn update_room_in(
    tx: &mut Transaction<'_, Postgres>,
    room_id: i64,
    update: &RoomUpdate,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE rooms SET name = COALESCE($1, name), description = COALESCE($2, description), \
         topic = COALESCE($3, topic), privacy = COALESCE($4, privacy), behavior = COALESCE($5, behavior), \
         invitations = COALESCE($6, invitations), disabled = COALESCE($7, disabled), \
         file_post = CASE WHEN $8 THEN $9 ELSE file_post END, updated_at = $10 WHERE id = $11",
    )
    .bind(update.name.as_deref())
    .bind(update.description.as_deref())
    .bind(update.topic.as_deref())
    .bind(update.privacy.map(|p| p.as_str()))
    .bind(update.behavior.map(|b| b.as_str()))
    .bind(update.invitations)
    .bind(update.disabled)
    .bind(update.file_post.is_some())
    .bind(update.file_post.flatten())
    .bind(crate::now())
    .bind(room_id)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_as_duplicate(e, update.name.as_deref().unwrap_or("room name")))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("room".into()));
    }
    if update.changes_access() {
        record_change(tx, &ChangeKind::rights_in_room(room_id, None)).await?;
    }
    Ok(())
}

/// Gives or takes the creator role in a category.
pub(super) async fn set_creator_in(
    tx: &mut Transaction<'_, Postgres>,
    category_id: i64,
    principal_id: i64,
    creator: bool,
) -> Result<()> {
    let sql = if creator {
        "INSERT INTO category_creators (category_id, principal_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM category_creators WHERE category_id = $1 AND principal_id = $2"
    };
    sqlx::query(sql)
        .bind(category_id)
        .bind(principal_id)
        .execute(&mut **tx)
        .await
        .map_err(|e| foreign_key_as_not_found(e, "category or principal"))?;
    Ok(())
}

/// Puts a principal on a category's allow or deny list, or takes it off both (`None`).
pub(super) async fn set_scope_in(
    tx: &mut Transaction<'_, Postgres>,
    category_id: i64,
    principal_id: i64,
    entry: Option<ScopeEntry>,
) -> Result<()> {
    let query = match entry {
        Some(e) => sqlx::query(
            "INSERT INTO category_scope (category_id, principal_id, allow) VALUES ($1, $2, $3) \
             ON CONFLICT (category_id, principal_id) DO UPDATE SET allow = excluded.allow",
        )
        .bind(category_id)
        .bind(principal_id)
        .bind(e == ScopeEntry::Allow),
        None => {
            sqlx::query("DELETE FROM category_scope WHERE category_id = $1 AND principal_id = $2")
                .bind(category_id)
                .bind(principal_id)
        }
    };
    query
        .execute(&mut **tx)
        .await
        .map_err(|e| foreign_key_as_not_found(e, "category or principal"))?;
    Ok(())
}

/// After a scope change: the first allow entry shuts everyone else out, so every session in
/// the category's rooms is re-checked, not only those of the principals listed.
pub(super) async fn record_scope_change(
    tx: &mut Transaction<'_, Postgres>,
    category_id: i64,
) -> Result<()> {
    let change = ChangeKind::Rights {
        principal_id: None,
        room_id: None,
        category_id: Some(category_id),
    };
    record_change(tx, &change).await
}

/// Gives or takes one role, recording an access change when taken (only taking a role away
/// can shut someone out of a room they are in).
pub(super) async fn set_role_in(
    tx: &mut Transaction<'_, Postgres>,
    room_id: i64,
    principal_id: i64,
    role: Role,
    on: bool,
) -> Result<()> {
    let sql = if on {
        "INSERT INTO room_roles (room_id, principal_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM room_roles WHERE room_id = $1 AND principal_id = $2 AND role = $3"
    };
    sqlx::query(sql)
        .bind(room_id)
        .bind(principal_id)
        .bind(role.as_str())
        .execute(&mut **tx)
        .await
        .map_err(|e| foreign_key_as_not_found(e, "room or principal"))?;
    if !on {
        let change = ChangeKind::rights_in_room(room_id, Some(principal_id));
        record_change(tx, &change).await?;
    }
    Ok(())
}

enum RoomKey<'a> {
    Id(i64),
    Text(&'a str),
}
