//! The pages, as askama templates (`templates/manage/`): compiled with the binary, every
//! value escaped for HTML unless a template says otherwise (none does), so whatever a user
//! typed — a room name with `<script>` in it — shows as text. The structs here are what
//! each page shows, already localised; the templates only lay it out.

use askama::Template;
use parlance_chat::manage::PersonView;

use super::l10n::Tr;
use super::session::Session;

/// What every page has: its language, where the application lives, who is signed in (for
/// the sign-out form), its title and a message.
#[derive(Debug)]
pub struct Frame<'a> {
    pub tr: Tr<'a>,
    pub base: &'static str,
    pub session: Option<&'a Session>,
    /// The header links to the administration pages.
    pub admin: bool,
    pub title: String,
    pub notice: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Template)]
#[template(path = "manage/signin.html")]
pub struct SigninPage<'a> {
    pub f: Frame<'a>,
    /// The sign-in form's token, also in its cookie.
    pub csrf: String,
    pub account: String,
    /// The room to show once signed in.
    pub room: Option<String>,
}

/// A page that is only its title and message: not found, not allowed, a form refused.
#[derive(Debug, Template)]
#[template(path = "manage/message.html")]
pub struct MessagePage<'a> {
    pub f: Frame<'a>,
}

/// The room form's values as the page shows them (a refused form is shown again as it was
/// sent).
#[derive(Debug, Clone, Default)]
pub struct FormValues {
    pub category: String,
    pub name: String,
    pub description: String,
    pub topic: String,
    /// `open`, `closed` or `secret`.
    pub privacy: &'static str,
    /// `normal` or `auditorium`.
    pub behavior: &'static str,
    pub invitations: bool,
    /// `inherit`, `on` or `off`.
    pub file_post: &'static str,
    pub disabled: bool,
    /// What "as the category says" means here.
    pub inherit_label: String,
}

#[derive(Debug)]
pub struct ManagedRoom {
    pub name: String,
    pub url: String,
    pub members: String,
}

#[derive(Debug, Template)]
#[template(path = "manage/create.html")]
pub struct CreatePage<'a> {
    pub f: Frame<'a>,
    pub csrf: String,
    /// GUID and name of each category the user may create rooms in.
    pub categories: Vec<(String, String)>,
    pub form: FormValues,
    pub managed: Vec<ManagedRoom>,
}

/// One list of people and the form that changes it: a room's people of one role, or a
/// category's creators, allowed or denied.
#[derive(Debug)]
pub struct PeopleBlock {
    /// The form field that names the list (`role` or `list`) and its value here (`member`,
    /// `creators`, …).
    pub field: &'static str,
    pub key: &'static str,
    pub title: String,
    pub people: Vec<PersonView>,
}

impl PeopleBlock {
    /// The blocks of a page's lists, each given as its key, the catalogue id of its title
    /// and its people.
    pub fn all(
        tr: &Tr<'_>,
        field: &'static str,
        lists: [(&'static str, &str, &Vec<PersonView>); 3],
    ) -> Vec<PeopleBlock> {
        lists
            .into_iter()
            .map(|(key, title, people)| PeopleBlock {
                field,
                key,
                title: tr.get(title),
                people: people.clone(),
            })
            .collect()
    }
}

#[derive(Debug, Template)]
#[template(path = "manage/room.html")]
pub struct RoomPage<'a> {
    pub f: Frame<'a>,
    pub csrf: String,
    pub guid: String,
    pub room_uri: String,
    pub category: String,
    pub can_edit: bool,
    /// The edit form (managers).
    pub form: FormValues,
    /// Label and value of each setting (members' read-only view).
    pub settings: Vec<(String, String)>,
    pub people: Vec<PeopleBlock>,
    /// Where the people forms post.
    pub people_action: String,
    /// The people search without script: its query and, once searched, what it found.
    pub query: String,
    pub found: Option<Vec<PersonView>>,
    /// When, who, what.
    pub changes: Vec<(String, String, String)>,
}

/// A category in the administrators' list.
#[derive(Debug)]
pub struct CategoryRow {
    pub name: String,
    pub url: String,
    /// Its creators' count, written the language's way.
    pub creators: String,
    pub file_post: String,
}

#[derive(Debug, Template)]
#[template(path = "manage/admin.html")]
pub struct AdminPage<'a> {
    pub f: Frame<'a>,
    pub categories: Vec<CategoryRow>,
}

#[derive(Debug, Template)]
#[template(path = "manage/category.html")]
pub struct CategoryPage<'a> {
    pub f: Frame<'a>,
    pub csrf: String,
    pub guid: String,
    pub name: String,
    pub description: String,
    pub file_post: bool,
    pub invitations: bool,
    pub logged: bool,
    pub people: Vec<PeopleBlock>,
    /// Where the people forms post.
    pub people_action: String,
    /// When, who, what.
    pub changes: Vec<(String, String, String)>,
}
