//! Categories, rooms and roles: the types every engine stores, and the [`Store`] methods
//! that check and store them.

use crate::Store;
use crate::audit::Audit;
use crate::error::{Result, StoreError};

/// A category node. Rooms inherit `file_post`, `invitations` and `logged` from theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: i64,
    pub guid: String,
    /// `None` for the root category.
    pub parent_id: Option<i64>,
    pub name: String,
    pub description: String,
    pub file_post: bool,
    pub invitations: bool,
    pub logged: bool,
}

#[derive(Debug, Clone)]
pub struct NewCategory<'a> {
    pub parent_id: i64,
    pub name: &'a str,
    pub description: &'a str,
    pub file_post: bool,
    pub invitations: bool,
    pub logged: bool,
}

/// Who may find and enter a room (the product's privacy names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Privacy {
    /// Visible to and joinable by everyone in the category's scope.
    Open,
    /// Visible to everyone in scope, joinable by members only.
    Closed,
    /// Visible to and joinable by members only.
    Secret,
}

/// Who may post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Behavior {
    Normal,
    /// Only presenters post.
    Auditorium,
}

/// A principal's role in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Member,
    Manager,
    /// May post in an auditorium room.
    Presenter,
}

text_enum!(Privacy { Open = "open", Closed = "closed", Secret = "secret" });
text_enum!(Behavior { Normal = "normal", Auditorium = "auditorium" });
text_enum!(Role { Member = "member", Manager = "manager", Presenter = "presenter" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub id: i64,
    pub guid: String,
    pub category_id: i64,
    pub name: String,
    pub description: String,
    pub topic: String,
    pub privacy: Privacy,
    pub behavior: Behavior,
    /// False when the room turns invitations off; true inherits the category's setting.
    pub invitations: bool,
    pub disabled: bool,
    /// The room's own file-posting setting; `None` inherits the category's. The category
    /// must allow file posting for the room to have it ([`RoomInfo::file_post`]).
    pub file_post: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct NewRoom<'a> {
    pub category_id: i64,
    pub name: &'a str,
    pub description: &'a str,
    pub topic: &'a str,
    pub privacy: Privacy,
    pub behavior: Behavior,
    pub invitations: bool,
}

/// Changes to a room; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RoomUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub topic: Option<String>,
    pub privacy: Option<Privacy>,
    pub behavior: Option<Behavior>,
    pub invitations: Option<bool>,
    pub disabled: Option<bool>,
    /// `Some(None)` makes the room inherit its category's file posting again.
    pub file_post: Option<Option<bool>>,
}

impl RoomUpdate {
    /// Whether the change can take a right from someone: privacy and disabling decide who
    /// may stay; behavior and file posting who may post, and post files (a file transfer
    /// in progress reuses its grant only while no such change is recorded).
    pub fn changes_access(&self) -> bool {
        self.privacy.is_some()
            || self.disabled == Some(true)
            || self.behavior.is_some()
            || self.file_post.is_some()
    }
}

/// A room together with its category, as permission checks need both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    pub room: Room,
    pub category: Category,
}

impl RoomInfo {
    /// Files may be posted: the category allows it and the room does not turn it off.
    pub fn file_post(&self) -> bool {
        self.category.file_post && self.room.file_post.unwrap_or(true)
    }

    pub fn logged(&self) -> bool {
        self.category.logged
    }

    pub fn invitations(&self) -> bool {
        self.room.invitations && self.category.invitations
    }
}

/// A room and what one principal holds there: its roles and whether it is inside the
/// category's scope, the facts a permission check judges. Read in one query, for the
/// commands every member sends (a join), where three would cost three round trips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomStanding {
    pub info: RoomInfo,
    /// The principal's roles in the room, in order.
    pub roles: Vec<Role>,
    pub in_scope: bool,
}

/// A role holder of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleHolder {
    pub principal_id: i64,
    pub uri: String,
    pub display_name: String,
    pub role: Role,
}

/// Membership of a category's scope: absent means "not listed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeEntry {
    Allow,
    Deny,
}

/// Changes to a category's settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CategoryUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub file_post: Option<bool>,
    pub invitations: Option<bool>,
    pub logged: Option<bool>,
}

/// Longest room or category name, in characters (the original's node names: 256).
pub const MAX_NAME_CHARS: usize = 256;
/// Longest room or category description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Longest room topic, in characters.
pub const MAX_TOPIC_CHARS: usize = 1024;

/// What is wrong with a name, description or topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFault {
    Empty,
    TooLong { max: usize },
    ControlCharacters,
}

impl std::fmt::Display for TextFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("empty"),
            Self::TooLong { max } => write!(f, "longer than {max} characters"),
            Self::ControlCharacters => f.write_str("contains control characters"),
        }
    }
}

/// The kinds of room and category text, each with its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Required, one line.
    Name,
    /// Optional; line breaks and tabs allowed.
    Description,
    /// Optional, one line.
    Topic,
}

impl TextKind {
    pub fn max_chars(self) -> usize {
        match self {
            Self::Name => MAX_NAME_CHARS,
            Self::Description => MAX_DESCRIPTION_CHARS,
            Self::Topic => MAX_TOPIC_CHARS,
        }
    }

    /// Checks one value. Names are listed and searched, so a blank one is refused; control
    /// characters would reach every client's screen (and terminal) as they are.
    pub fn check(self, value: &str) -> Result<(), TextFault> {
        if self == Self::Name && value.trim().is_empty() {
            return Err(TextFault::Empty);
        }
        let max = self.max_chars();
        // Counting stops one past the limit: a huge value costs no more than a long one.
        if value.chars().take(max + 1).count() > max {
            return Err(TextFault::TooLong { max });
        }
        let allowed = |c: char| self == Self::Description && matches!(c, '\n' | '\r' | '\t');
        if value.chars().any(|c| c.is_control() && !allowed(c)) {
            return Err(TextFault::ControlCharacters);
        }
        Ok(())
    }
}

impl Store {
    pub async fn root_category(&self) -> Result<Category> {
        engine!(self, s => s.root_category().await)
    }

    pub async fn add_category(&self, new: &NewCategory<'_>) -> Result<Category> {
        engine!(self, s => s.add_category(new).await)
    }

    pub async fn find_category(&self, guid_or_name: &str) -> Result<Option<Category>> {
        engine!(self, s => s.find_category(guid_or_name).await)
    }

    pub async fn categories(&self) -> Result<Vec<Category>> {
        engine!(self, s => s.categories().await)
    }

    /// Renames a category; [`StoreError::Duplicate`] when another has that name (in any case).
    pub async fn rename_category(&self, category_id: i64, name: &str) -> Result<Category> {
        check_text("category name", TextKind::Name, name)?;
        engine!(self, s => s.rename_category(category_id, name).await)
    }

    /// Deletes a category with its creators, scope lists and audit records, moving its rooms
    /// to `rooms_to` first when given; refused ([`StoreError::Invalid`]) for the root, a
    /// category with categories below it, and one with rooms and nowhere to move them.
    /// Returns how many rooms moved.
    pub async fn delete_category(&self, category_id: i64, rooms_to: Option<i64>) -> Result<u64> {
        engine!(self, s => s.delete_category(category_id, rooms_to).await)
    }

    pub async fn set_category_creator(
        &self,
        category_id: i64,
        principal_id: i64,
        creator: bool,
    ) -> Result<()> {
        engine!(self, s => s.set_category_creator(category_id, principal_id, creator).await)
    }

    pub async fn creator_categories(&self, principal_id: i64) -> Result<Vec<Category>> {
        engine!(self, s => s.creator_categories(principal_id).await)
    }

    pub async fn set_category_scope(
        &self,
        category_id: i64,
        principal_id: i64,
        entry: Option<ScopeEntry>,
    ) -> Result<()> {
        engine!(self, s => s.set_category_scope(category_id, principal_id, entry).await)
    }

    pub async fn in_scope(&self, category_id: i64, principal_id: i64) -> Result<bool> {
        engine!(self, s => s.in_scope(category_id, principal_id).await)
    }

    pub async fn add_room(&self, new: &NewRoom<'_>) -> Result<Room> {
        check_new_room(new)?;
        engine!(self, s => s.add_room(new).await)
    }

    /// Changes a room for an admin command, with the access changes a running server needs:
    /// a re-check when the change can shut someone out, and always the room's new settings
    /// for the sessions in it.
    pub async fn update_room(&self, room_id: i64, update: &RoomUpdate) -> Result<Room> {
        check_room_update(update)?;
        engine!(self, s => s.update_room(room_id, update).await)
    }

    /// Deletes a room with its history, files, roles, invitations, compliance outbox rows,
    /// audit records and released holds, in one transaction; [`StoreError::Held`] while a
    /// legal hold is in force on it. Purge its history first (the steps of
    /// [`Store::purge_history`] keep the writer free between them), and remove its files'
    /// stored bytes after.
    pub async fn delete_room(&self, room_id: i64) -> Result<()> {
        engine!(self, s => s.delete_room(room_id).await)
    }

    /// A room made through the room-management application: its creator (`audit.actor_id`)
    /// becomes its first member and manager, and the audit record is written with it.
    pub async fn create_room(
        &self,
        new: &NewRoom<'_>,
        file_post: Option<bool>,
        audit: &Audit<'_>,
    ) -> Result<Room> {
        check_new_room(new)?;
        engine!(self, s => s.create_room(new, file_post, audit).await)
    }

    /// [`Store::update_room`] with its audit record, in one transaction.
    pub async fn edit_room(
        &self,
        room_id: i64,
        update: &RoomUpdate,
        audit: &Audit<'_>,
    ) -> Result<Room> {
        check_room_update(update)?;
        engine!(self, s => s.edit_room(room_id, update, audit).await)
    }

    /// Gives one role to the principals of `add` and takes it from those of `remove`, with
    /// the audit record, in one transaction.
    pub async fn change_roles(
        &self,
        room_id: i64,
        role: Role,
        add: &[i64],
        remove: &[i64],
        audit: &Audit<'_>,
    ) -> Result<()> {
        engine!(self, s => s.change_roles(room_id, role, add, remove, audit).await)
    }

    /// Changes a category's settings, with the audit record, in one transaction.
    pub async fn edit_category(
        &self,
        category_id: i64,
        update: &CategoryUpdate,
        audit: &Audit<'_>,
    ) -> Result<Category> {
        if let Some(name) = &update.name {
            check_text("category name", TextKind::Name, name)?;
        }
        if let Some(description) = &update.description {
            check_text("category description", TextKind::Description, description)?;
        }
        engine!(self, s => s.edit_category(category_id, update, audit).await)
    }

    /// Sets (`true`) or takes away (`false`) the creator role of principals in a category and
    /// changes its scope lists (`None` takes a principal off them), with the audit record,
    /// in one transaction.
    pub async fn change_category_people(
        &self,
        category_id: i64,
        creators: &[(i64, bool)],
        scope: &[(i64, Option<ScopeEntry>)],
        audit: &Audit<'_>,
    ) -> Result<()> {
        engine!(self, s => s.change_category_people(category_id, creators, scope, audit).await)
    }

    /// The principal ids of a category's creators.
    pub async fn category_creators(&self, category_id: i64) -> Result<Vec<i64>> {
        engine!(self, s => s.category_creators(category_id).await)
    }

    /// A category's scope lists.
    pub async fn category_scope(&self, category_id: i64) -> Result<Vec<(i64, ScopeEntry)>> {
        engine!(self, s => s.category_scope(category_id).await)
    }

    pub async fn room_by_id(&self, room_id: i64) -> Result<Option<RoomInfo>> {
        engine!(self, s => s.room_by_id(room_id).await)
    }

    pub async fn room_by_guid(&self, guid: &str) -> Result<Option<RoomInfo>> {
        engine!(self, s => s.room_by_guid(guid).await)
    }

    /// The room of a GUID with the principal's roles there and whether it is inside the
    /// category's scope: [`Store::room_by_guid`], [`Store::roles_of`] and
    /// [`Store::in_scope`] in one query.
    pub async fn room_standing(
        &self,
        guid: &str,
        principal_id: i64,
    ) -> Result<Option<RoomStanding>> {
        engine!(self, s => s.room_standing(guid, principal_id).await)
    }

    pub async fn find_room(&self, guid_or_name: &str) -> Result<Option<RoomInfo>> {
        engine!(self, s => s.find_room(guid_or_name).await)
    }

    /// The rooms in which the principal holds `role`, by name.
    pub async fn rooms_with_role(&self, principal_id: i64, role: Role) -> Result<Vec<RoomInfo>> {
        engine!(self, s => s.rooms_with_role(principal_id, role).await)
    }

    /// The rooms of one category, by name, at most `limit`, leaving out the Secret rooms in
    /// which `visible_to` holds no role: candidates, as [`Store::search_rooms`] returns.
    pub async fn rooms_in_category(
        &self,
        category_id: i64,
        visible_to: i64,
        limit: u32,
    ) -> Result<Vec<RoomInfo>> {
        engine!(self, s => s.rooms_in_category(category_id, visible_to, limit).await)
    }

    pub async fn rooms(&self) -> Result<Vec<RoomInfo>> {
        engine!(self, s => s.rooms().await)
    }

    pub async fn search_rooms(
        &self,
        text: Option<&str>,
        in_description: bool,
        visible_to: Option<i64>,
        limit: u32,
    ) -> Result<Vec<RoomInfo>> {
        engine!(self, s => s.search_rooms(text, in_description, visible_to, limit).await)
    }

    pub async fn set_role(
        &self,
        room_id: i64,
        principal_id: i64,
        role: Role,
        on: bool,
    ) -> Result<()> {
        engine!(self, s => s.set_role(room_id, principal_id, role, on).await)
    }

    pub async fn roles_of(&self, room_id: i64, principal_id: i64) -> Result<Vec<Role>> {
        engine!(self, s => s.roles_of(room_id, principal_id).await)
    }

    pub async fn role_holders(&self, room_id: i64) -> Result<Vec<RoleHolder>> {
        engine!(self, s => s.role_holders(room_id).await)
    }
}

/// The rules of [`TextKind::check`] for a new room's texts.
fn check_new_room(new: &NewRoom<'_>) -> Result<()> {
    check_text("room name", TextKind::Name, new.name)?;
    check_text("room description", TextKind::Description, new.description)?;
    check_text("room topic", TextKind::Topic, new.topic)
}

/// The rules of [`TextKind::check`] for the texts an update sets.
fn check_room_update(update: &RoomUpdate) -> Result<()> {
    let texts = [
        ("room name", TextKind::Name, &update.name),
        (
            "room description",
            TextKind::Description,
            &update.description,
        ),
        ("room topic", TextKind::Topic, &update.topic),
    ];
    for (what, kind, value) in texts {
        if let Some(value) = value {
            check_text(what, kind, value)?;
        }
    }
    Ok(())
}

fn check_text(what: &'static str, kind: TextKind, value: &str) -> Result<()> {
    kind.check(value).map_err(|fault| StoreError::Invalid {
        what,
        why: fault.to_string(),
    })
}
