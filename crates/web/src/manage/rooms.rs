//! Rooms: the create page and the room page, and the forms they post — create, edit,
//! people — with the people search. Each turns a form into a call of the chat core and its
//! answer into a redirect, or into the page again with what was wrong.

use std::net::SocketAddr;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use parlance_chat::manage::{
    Actor, AuditView, Behavior, Field, MAX_QUERY_CHARS, ManageError, Privacy, Problem, Role,
    RoomForm, RoomView,
};

use super::forms::Form;
use super::l10n::{Lang, Tr};
use super::pages::{CreatePage, FormValues, ManagedRoom, PeopleBlock, RoomPage};
use super::respond::{json, param, refused, render, see_other, target};
use super::routes::Managed;
use super::session::Session;
use super::signin::{Poster, account_uri};
use super::url::{self, Guid};
use super::{BASE, Manage};
use crate::Conn;

/// The people search: results per query.
const SEARCH_LIMIT: u32 = 20;

/// What the pages say after a redirect (`done=`).
pub(super) const CREATED: &str = "created";

pub(super) const SAVED: &str = "saved";

pub(super) async fn create(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (form, poster) = match m.guard(&conn, &headers, body, "create").await {
        Ok(guarded) => guarded,
        Err(response) => return response,
    };
    let Poster {
        lang,
        session,
        actor,
    } = poster;
    let Some(room) = room_form(&form) else {
        return m.bad_form(conn.peer, "create", lang, &session);
    };
    match m.inner.chat.create_room(&actor, &room).await {
        Ok(view) => {
            tracing::info!(peer = %conn.peer, account = %session.uri, room = %view.guid, "room created");
            see_other(&target(lang, Some(&view.guid), Some(CREATED)), &[])
        }
        Err(ManageError::Invalid { field, problem }) => {
            let tr = m.inner.l10n.tr(lang);
            let text = invalid(conn.peer, "create", &session, &tr, &field, &problem);
            let values = values_of(&tr, &room, None);
            m.create_page(
                lang,
                &session,
                &actor,
                StatusCode::BAD_REQUEST,
                Some(text),
                Some(values),
            )
            .await
        }
        Err(e) => m.refusal(conn.peer, "create", lang, &session, e),
    }
}

pub(super) async fn edit(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    Path(guid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ((form, poster), guid) = match m.guard_at(&conn, &headers, body, "edit", &guid).await {
        Ok(guarded) => guarded,
        Err(response) => return response,
    };
    let Poster {
        lang,
        session,
        actor,
    } = poster;
    let Some(room) = room_form(&form) else {
        return m.bad_form(conn.peer, "edit", lang, &session);
    };
    match m.inner.chat.edit_room(&actor, guid.as_str(), &room).await {
        Ok(view) => {
            tracing::info!(peer = %conn.peer, account = %session.uri, room = %view.guid, "room changed");
            see_other(&target(lang, Some(&view.guid), Some(SAVED)), &[])
        }
        Err(ManageError::Invalid { field, problem }) => {
            let tr = m.inner.l10n.tr(lang);
            let shown = Shown {
                error: Some(invalid(conn.peer, "edit", &session, &tr, &field, &problem)),
                form: Some(room),
                ..Shown::default()
            };
            m.room_page(conn.peer, lang, &session, &actor, &guid, shown)
                .await
        }
        Err(e) => m.refusal(conn.peer, "edit", lang, &session, e),
    }
}

pub(super) async fn people(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    Path(guid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ((form, poster), guid) = match m.guard_at(&conn, &headers, body, "people", &guid).await {
        Ok(guarded) => guarded,
        Err(response) => return response,
    };
    let Poster {
        lang,
        session,
        actor,
    } = poster;
    let role = match form.get("role") {
        Some("member") => Role::Member,
        Some("manager") => Role::Manager,
        Some("presenter") => Role::Presenter,
        _ => return m.bad_form(conn.peer, "people", lang, &session),
    };
    let add = person_uris(&form, &m.inner.domain);
    let remove: Vec<String> = form.all("remove").map(str::to_owned).collect();
    match m
        .inner
        .chat
        .set_people(&actor, guid.as_str(), role, &add, &remove)
        .await
    {
        Ok(view) => {
            tracing::info!(peer = %conn.peer, account = %session.uri, room = %view.guid, ?role, added = add.len(), removed = remove.len(), "room people changed");
            see_other(&target(lang, Some(&view.guid), Some(SAVED)), &[])
        }
        Err(ManageError::Invalid { field, problem }) => {
            let tr = m.inner.l10n.tr(lang);
            let shown = Shown {
                error: Some(invalid(
                    conn.peer, "people", &session, &tr, &field, &problem,
                )),
                ..Shown::default()
            };
            m.room_page(conn.peer, lang, &session, &actor, &guid, shown)
                .await
        }
        Err(e) => m.refusal(conn.peer, "people", lang, &session, e),
    }
}

/// The people search as you type: JSON for the page's script (the page's own search form
/// works without it).
pub(super) async fn search(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(session) = m.session(&headers) else {
        refused(conn.peer, "search", None, "no session");
        return json(StatusCode::FORBIDDEN, "[]".to_owned());
    };
    let Some(actor) = m.actor(conn.peer, &session).await else {
        return json(StatusCode::FORBIDDEN, "[]".to_owned());
    };
    let q: String = param(query.as_deref(), "q")
        .unwrap_or_default()
        .chars()
        .take(MAX_QUERY_CHARS)
        .collect();
    match m.inner.chat.search_people(&actor, &q, SEARCH_LIMIT).await {
        Ok(people) => {
            let list: Vec<_> = people
                .iter()
                .map(|p| serde_json::json!({ "uri": p.uri, "display": p.display }))
                .collect();
            json(StatusCode::OK, serde_json::Value::from(list).to_string())
        }
        Err(e) => {
            tracing::warn!(peer = %conn.peer, error = %e, "people search failed");
            json(StatusCode::INTERNAL_SERVER_ERROR, "[]".to_owned())
        }
    }
}

/// What a room page shows beside the room.
#[derive(Debug, Default)]
pub(super) struct Shown {
    pub(super) notice: Option<&'static str>,
    pub(super) error: Option<String>,
    /// The edit form as it was sent, when it was refused.
    pub(super) form: Option<RoomForm>,
    /// The search form's query.
    pub(super) search: Option<String>,
}

/// The addresses of a people form's `add` fields: separated by commas, semicolons or
/// spaces, each as an account address.
pub(super) fn person_uris(form: &Form, domain: &str) -> Vec<String> {
    form.all("add")
        .flat_map(|list| list.split([',', ';', '\n', ' ']))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| account_uri(a, domain))
        .collect()
}

/// The room form as posted; `None` when a choice has a value no page of ours offers.
fn room_form(form: &Form) -> Option<RoomForm> {
    let privacy = match form.get("privacy") {
        Some("open") => Privacy::Open,
        Some("closed") | None => Privacy::Closed,
        Some("secret") => Privacy::Secret,
        Some(_) => return None,
    };
    let behavior = match form.get("behavior") {
        Some("normal") | None => Behavior::Normal,
        Some("auditorium") => Behavior::Auditorium,
        Some(_) => return None,
    };
    let file_post = match form.get("file_post") {
        Some("inherit") | None => None,
        Some("on") => Some(true),
        Some("off") => Some(false),
        Some(_) => return None,
    };
    Some(RoomForm {
        category: form.text("category"),
        name: form.text("name"),
        description: form.text("description"),
        topic: form.text("topic"),
        privacy,
        behavior,
        invitations: form.checked("invitations"),
        file_post,
        disabled: form.checked("disabled"),
    })
}

/// The room's settings as its edit form starts.
fn form_of(view: &RoomView) -> RoomForm {
    RoomForm {
        category: view.category.guid.clone(),
        name: view.name.clone(),
        description: view.description.clone(),
        topic: view.topic.clone(),
        privacy: view.privacy,
        behavior: view.behavior,
        invitations: view.invitations,
        file_post: view.file_post,
        disabled: view.disabled,
    }
}

/// A room form as its page shows it; `room` says what "as the category says" means.
fn values_of(tr: &Tr<'_>, form: &RoomForm, room: Option<&RoomView>) -> FormValues {
    let inherit_label = match room {
        Some(room) => tr.arg(
            "file-post-inherit",
            "value",
            &on_off(tr, room.category.file_post),
        ),
        None => tr.get("file-post-inherit-plain"),
    };
    FormValues {
        category: form.category.clone(),
        name: form.name.clone(),
        description: form.description.clone(),
        topic: form.topic.clone(),
        privacy: match form.privacy {
            Privacy::Open => "open",
            Privacy::Closed => "closed",
            Privacy::Secret => "secret",
        },
        behavior: match form.behavior {
            Behavior::Normal => "normal",
            Behavior::Auditorium => "auditorium",
        },
        invitations: form.invitations,
        file_post: match form.file_post {
            None => "inherit",
            Some(true) => "on",
            Some(false) => "off",
        },
        disabled: form.disabled,
        inherit_label,
    }
}

pub(super) fn on_off(tr: &Tr<'_>, on: bool) -> String {
    tr.get(if on { "file-post-on" } else { "file-post-off" })
}

fn yes_no(tr: &Tr<'_>, yes: bool) -> String {
    tr.get(if yes { "yes" } else { "no" })
}

/// The read-only view's rows.
fn settings_of(tr: &Tr<'_>, view: &RoomView) -> Vec<(String, String)> {
    let privacy = match view.privacy {
        Privacy::Open => "privacy-open",
        Privacy::Closed => "privacy-closed",
        Privacy::Secret => "privacy-secret",
    };
    let behavior = match view.behavior {
        Behavior::Normal => "behavior-normal",
        Behavior::Auditorium => "behavior-auditorium",
    };
    vec![
        (tr.get("field-name"), view.name.clone()),
        (tr.get("field-description"), view.description.clone()),
        (tr.get("field-topic"), view.topic.clone()),
        (tr.get("field-privacy"), tr.get(privacy)),
        (tr.get("field-behavior"), tr.get(behavior)),
        (tr.get("field-invitations"), yes_no(tr, view.invitations)),
        (
            tr.get("field-file-post"),
            on_off(tr, view.file_post_effective),
        ),
        (tr.get("field-disabled"), yes_no(tr, view.disabled)),
    ]
}

fn people_of(tr: &Tr<'_>, view: &RoomView) -> Vec<PeopleBlock> {
    PeopleBlock::all(
        tr,
        "role",
        [
            ("member", "role-members", &view.members),
            ("manager", "role-managers", &view.managers),
            ("presenter", "role-presenters", &view.presenters),
        ],
    )
}

/// An audit log as its table shows it: when, who, what.
pub(super) fn changes_of(tr: &Tr<'_>, changes: &[AuditView]) -> Vec<(String, String, String)> {
    changes
        .iter()
        .map(|c| {
            (
                tr.date(c.at),
                c.actor.clone(),
                format!("{}: {}", c.action, c.detail),
            )
        })
        .collect()
}

/// A field the chat core found invalid: its one log line, and what the page says.
pub(super) fn invalid(
    peer: SocketAddr,
    route: &str,
    session: &Session,
    tr: &Tr<'_>,
    field: &Field,
    problem: &Problem,
) -> String {
    let reason = format!("{field:?}: {problem:?}");
    refused(peer, route, Some(&session.uri), &reason);
    problem_text(tr, field, problem)
}

/// What was wrong with a field, in the page's language.
fn problem_text(tr: &Tr<'_>, field: &Field, problem: &Problem) -> String {
    let label = match field {
        Field::Name => tr.get("field-name"),
        Field::Description => tr.get("field-description"),
        Field::Topic => tr.get("field-topic"),
        Field::Category => tr.get("field-category"),
        Field::Privacy => tr.get("field-privacy"),
        Field::FilePost => tr.get("field-file-post"),
        Field::Query => tr.get("people-search"),
        Field::People => tr.get("field-people"),
        Field::Person(address) => tr.arg("field-address", "value", address),
    };
    match problem {
        Problem::Empty => tr.arg("problem-empty", "value", &label),
        Problem::TooLong { max } => tr.args(
            "problem-too-long",
            &[("value", &label), ("max", &tr.number(*max as u64))],
        ),
        Problem::Duplicate => tr.arg("problem-duplicate", "value", &label),
        Problem::UnknownPerson => match field {
            Field::Person(address) => tr.arg("problem-unknown-person", "value", address),
            _ => tr.arg("problem-unknown-person", "value", &label),
        },
        Problem::NotAllowedHere => tr.arg("problem-not-allowed-here", "value", &label),
        Problem::ControlCharacters => tr.arg("problem-control", "value", &label),
    }
}

impl Manage {
    pub(super) async fn create_page(
        &self,
        lang: Lang,
        session: &Session,
        actor: &Actor,
        status: StatusCode,
        error: Option<String>,
        values: Option<FormValues>,
    ) -> Response {
        let tr = self.inner.l10n.tr(lang);
        let chat = &self.inner.chat;
        let categories = match chat.creatable_categories(actor).await {
            Ok(categories) => categories,
            Err(e) => return self.chat_failed(lang, session, &e),
        };
        let values = match (values, categories.first()) {
            (Some(values), _) => values,
            (None, Some(first)) => match chat.room_defaults(actor, &first.guid).await {
                Ok(defaults) => values_of(&tr, &defaults, None),
                Err(e) => return self.chat_failed(lang, session, &e),
            },
            (None, None) => FormValues::default(),
        };
        let managed = match chat.managed_rooms(actor).await {
            Ok(rooms) => rooms,
            Err(e) => return self.chat_failed(lang, session, &e),
        };
        let managed = managed
            .iter()
            .map(|room| ManagedRoom {
                name: room.name.clone(),
                url: url::room_url(BASE, lang.tag(), &room.guid),
                members: tr.count("members-count", room.members.len() as u64),
            })
            .collect();
        let mut page = CreatePage {
            f: self.frame(tr, Some(session), tr.get("create-title"), None, error),
            csrf: session.csrf.clone(),
            categories: categories.into_iter().map(|c| (c.guid, c.name)).collect(),
            form: values,
            managed,
        };
        page.f.admin = actor.admin;
        render(status, &page)
    }

    pub(super) async fn room_page(
        &self,
        peer: SocketAddr,
        lang: Lang,
        session: &Session,
        actor: &Actor,
        guid: &Guid,
        shown: Shown,
    ) -> Response {
        let tr = self.inner.l10n.tr(lang);
        let view = match self.inner.chat.room_page(actor, guid.as_str()).await {
            Ok(view) => view,
            Err(ManageError::NotFound) => {
                refused(
                    peer,
                    "open room",
                    Some(&session.uri),
                    "no such room or not visible",
                );
                return self.not_found(lang, Some(session));
            }
            Err(e) => return self.chat_failed(lang, session, &e),
        };
        let found = match &shown.search {
            Some(q) if view.can_edit => {
                match self.inner.chat.search_people(actor, q, SEARCH_LIMIT).await {
                    Ok(found) => Some(found),
                    Err(e) => return self.chat_failed(lang, session, &e),
                }
            }
            _ => None,
        };
        let status = match shown.error {
            Some(_) => StatusCode::BAD_REQUEST,
            None => StatusCode::OK,
        };
        let form = match &shown.form {
            Some(sent) => values_of(&tr, sent, Some(&view)),
            None => values_of(&tr, &form_of(&view), Some(&view)),
        };
        let mut page = RoomPage {
            f: self.frame(
                tr,
                Some(session),
                tr.arg("room-title", "value", &view.name),
                shown.notice.map(|n| tr.get(n)),
                shown.error,
            ),
            csrf: session.csrf.clone(),
            guid: view.guid.clone(),
            room_uri: view.uri.clone(),
            category: view.category.name.clone(),
            can_edit: view.can_edit,
            settings: settings_of(&tr, &view),
            people: people_of(&tr, &view),
            people_action: format!("{BASE}rooms/{}/people", view.guid),
            query: shown.search.unwrap_or_default(),
            found,
            changes: changes_of(&tr, &view.changes),
            form,
        };
        page.f.admin = actor.admin;
        render(status, &page)
    }
}
