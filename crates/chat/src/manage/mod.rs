//! The chat core's side of the room-management web application (docs/protocol.md,
//! "Room-management web application: the core side"): what the web pages show and change,
//! on behalf of an [`Actor`] the web layer has verified (a signed-in web session or a
//! redeemed [`web ticket`](ChatService::web_ticket)). Every decision goes through the rules
//! of `permissions.rs`; every change is written with its audit record in one store
//! transaction and applies at once to the sessions in the room (`live.rs`).
//!
//! One file per part: `rooms.rs` (pages, create, edit), `people.rs` (roles and the people
//! search), `categories.rs` (what administrators manage), `ticket.rs` (the signed sign-in
//! link), `views.rs` (what pages are built from), `live.rs` (what connected clients hear).

mod categories;
mod live;
mod people;
mod rooms;
mod ticket;
mod views;

pub use categories::{CategoryAdminView, CategoryForm};
pub(crate) use live::role_uib;
pub use parlance_store::rooms::{
    Behavior, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_TOPIC_CHARS, Privacy, Role, ScopeEntry,
};
pub use people::{MAX_PEOPLE_PER_CHANGE, MAX_QUERY_CHARS, MAX_SEARCH_RESULTS};
pub use rooms::MAX_LISTED_ROOMS;
pub(crate) use ticket::with_ticket;
pub use ticket::{TICKET_LIFETIME, WEB_TICKET_PURPOSE, WebTicketKey};

use parlance_store::StoreError;
use parlance_store::rooms::{TextFault, TextKind};

use crate::{ChatError, ChatService, Principal};

/// Who is acting: comes only from a verified web session or ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub principal: Principal,
    pub admin: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// Unknown, malformed, other-domain or invisible room or category: one answer, so that
    /// a Secret room's existence is never revealed.
    #[error("no such room")]
    NotFound,
    /// Visible, but the actor may not do this (a member posting the edit form, a
    /// non-creator creating).
    #[error("not allowed")]
    Forbidden,
    /// A field is invalid; the web app localises `field` and `problem`.
    #[error("{field:?}: {problem:?}")]
    Invalid { field: Field, problem: Problem },
    #[error(transparent)]
    Chat(#[from] ChatError),
}

impl From<StoreError> for ManageError {
    fn from(e: StoreError) -> Self {
        ManageError::Chat(ChatError::Store(e))
    }
}

/// The form field a problem is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Name,
    Description,
    Topic,
    Category,
    Privacy,
    FilePost,
    /// The people of a role, as a whole (too many at once, the last manager removed).
    People,
    /// One address of a people change.
    Person(String),
    /// The search text of the people search.
    Query,
}

/// What is wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Empty,
    TooLong {
        max: usize,
    },
    Duplicate,
    UnknownPerson,
    /// Not possible here: file posting the category forbids, a person outside the
    /// category's scope, a room left without a manager.
    NotAllowedHere,
    ControlCharacters,
}

impl ManageError {
    fn invalid(field: Field, problem: Problem) -> ManageError {
        ManageError::Invalid { field, problem }
    }
}

/// The room form: what create and edit take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomForm {
    /// The category's GUID (create only; ignored on edit: a room stays in its category).
    pub category: String,
    pub name: String,
    pub description: String,
    pub topic: String,
    pub privacy: Privacy,
    pub behavior: Behavior,
    /// False turns invitations off in this room; true follows the category.
    pub invitations: bool,
    /// `None` follows the category.
    pub file_post: Option<bool>,
    /// Edit only: a new room starts enabled.
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryView {
    pub guid: String,
    pub name: String,
    pub description: String,
    pub file_post: bool,
    pub invitations: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonView {
    pub uri: String,
    /// The display name, or the address when the account has none.
    pub display: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomView {
    pub guid: String,
    /// `ma-chan://<domain>/<guid>`.
    pub uri: String,
    pub category: CategoryView,
    pub name: String,
    pub description: String,
    pub topic: String,
    pub privacy: Privacy,
    pub behavior: Behavior,
    pub invitations: bool,
    pub file_post: Option<bool>,
    pub file_post_effective: bool,
    pub disabled: bool,
    pub members: Vec<PersonView>,
    pub managers: Vec<PersonView>,
    pub presenters: Vec<PersonView>,
    /// Whether the actor may change the room.
    pub can_edit: bool,
    /// Recent audit records, newest first (for those who may edit; empty otherwise).
    pub changes: Vec<AuditView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditView {
    /// Unix seconds.
    pub at: i64,
    /// The actor's address.
    pub actor: String,
    pub action: String,
    pub detail: String,
}

impl ChatService {
    /// An active account, as an actor (`None` for unknown, malformed, disabled or removed).
    /// The web layer calls it only with an address it has verified: a password checked, a
    /// ticket redeemed.
    pub async fn actor(&self, uri: &str) -> Result<Option<Actor>, ChatError> {
        let user = match self.store.user(uri).await {
            Ok(user) => user,
            Err(StoreError::Invalid { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        Ok(user.filter(|u| !u.disabled).map(|u| Actor {
            principal: Principal {
                id: u.id,
                uri: u.uri,
            },
            admin: u.admin,
        }))
    }
}

/// A GUID as it may come in a URL or a form: any case, with or without braces. Returns it
/// in the store's lower-case form; anything else is `None`.
pub(crate) fn parse_guid(input: &str) -> Option<String> {
    let bare = input
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(input);
    let lengths: Vec<usize> = bare.split('-').map(str::len).collect();
    let hex = bare.chars().all(|c| c == '-' || c.is_ascii_hexdigit());
    (lengths == [8, 4, 4, 4, 12] && hex).then(|| bare.to_ascii_lowercase())
}

/// Checks one text field by the store's rules, as the field's problem.
fn check_text(field: Field, kind: TextKind, value: &str) -> Result<(), ManageError> {
    kind.check(value).map_err(|fault| {
        let problem = match fault {
            TextFault::Empty => Problem::Empty,
            TextFault::TooLong { max } => Problem::TooLong { max },
            TextFault::ControlCharacters => Problem::ControlCharacters,
        };
        ManageError::invalid(field, problem)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_come_in_any_case_with_or_without_braces() {
        let lower = "61e092c7-89bb-4dc4-a3f5-8c23fa940fab";
        for input in [
            "61E092C7-89BB-4DC4-A3F5-8C23FA940FAB",
            "{61E092C7-89BB-4DC4-A3F5-8C23FA940FAB}",
            "{61e092c7-89bb-4dc4-a3f5-8c23fa940fab}",
            lower,
        ] {
            assert_eq!(parse_guid(input).as_deref(), Some(lower), "{input}");
        }
        for input in [
            "",
            "{}",
            "{61E092C7-89BB-4DC4-A3F5-8C23FA940FAB",
            "61E092C7-89BB-4DC4-A3F5-8C23FA940FA",
            "61E092C7-89BB-4DC4-A3F5-8C23FA940FABC",
            "61E092C789BB4DC4A3F58C23FA940FAB",
            "ma-chan://example.com/61E092C7-89BB-4DC4-A3F5-8C23FA940FAB",
            "61E092C7-89BB-4DC4-A3F5-8C23FA940FAG",
            "%",
        ] {
            assert_eq!(parse_guid(input), None, "{input}");
        }
    }
}
