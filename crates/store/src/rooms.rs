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
