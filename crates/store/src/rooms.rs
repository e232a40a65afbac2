//! Categories, rooms and roles: the types every engine stores.

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
}

/// A room together with its category, as permission checks need both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    pub room: Room,
    pub category: Category,
}

impl RoomInfo {
    pub fn file_post(&self) -> bool {
        self.category.file_post
    }

    pub fn logged(&self) -> bool {
        self.category.logged
    }

    pub fn invitations(&self) -> bool {
        self.room.invitations && self.category.invitations
    }
}

/// A role holder of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleHolder {
    pub principal_id: i64,
    pub uri: String,
    pub role: Role,
}

/// Membership of a category's scope: absent means "not listed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeEntry {
    Allow,
    Deny,
}
