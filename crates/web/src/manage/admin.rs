//! The administrators' pages (`admin/`): every category, and for each its settings (the
//! defaults its rooms inherit), its creators and its scope. Only accounts with the
//! administrator flag (`parlance user admin NAME on`) get them; the chat core decides.

use std::net::SocketAddr;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use parlance_chat::manage::{CategoryAdminView, CategoryForm, ManageError, ScopeEntry};

use super::l10n::Lang;
use super::pages::{AdminPage, CategoryPage, CategoryRow, PeopleBlock};
use super::respond::{accept_language, param, refused, render, see_other};
use super::rooms::{SAVED, changes_of, invalid, on_off, person_uris};
use super::routes::Managed;
use super::session::Session;
use super::signin::Poster;
use super::url::{self, Guid};
use super::{BASE, Manage};
use crate::Conn;

/// `admin/`: the categories.
pub(super) async fn categories(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = page_lang(query.as_deref(), &headers);
    let (session, actor) = match m.signed_in(conn.peer, &headers, lang, None).await {
        Ok(signed_in) => signed_in,
        Err(page) => return page,
    };
    let categories = match m.inner.chat.categories_admin(&actor).await {
        Ok(categories) => categories,
        Err(e) => return m.refusal(conn.peer, "admin", lang, &session, e),
    };
    let tr = m.inner.l10n.tr(lang);
    let rows = categories
        .iter()
        .map(|c| CategoryRow {
            name: c.category.name.clone(),
            url: url::append(
                &format!("{BASE}admin/{}", c.category.guid),
                &[(url::CLIENTLANG, lang.tag())],
            ),
            creators: tr.number(c.creators.len() as u64),
            file_post: on_off(&tr, c.category.file_post),
        })
        .collect();
    let mut page = AdminPage {
        f: m.frame(tr, Some(&session), tr.get("admin-title"), None, None),
        categories: rows,
    };
    page.f.admin = true;
    render(StatusCode::OK, &page)
}

/// `admin/{guid}`: one category.
pub(super) async fn category(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    Path(guid): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = page_lang(query.as_deref(), &headers);
    let (session, actor) = match m.signed_in(conn.peer, &headers, lang, None).await {
        Ok(signed_in) => signed_in,
        Err(page) => return page,
    };
    let Some(guid) = Guid::parse(&guid) else {
        refused(conn.peer, "admin", Some(&session.uri), "malformed id");
        return m.not_found(lang, Some(&session));
    };
    let notice = (param(query.as_deref(), "done").as_deref() == Some(SAVED)).then_some(SAVED);
    let view = match m.inner.chat.category_admin(&actor, guid.as_str()).await {
        Ok(view) => view,
        Err(e) => return m.refusal(conn.peer, "admin", lang, &session, e),
    };
    m.category_page(lang, &session, &view, StatusCode::OK, notice, None)
}

/// `admin/{guid}` posted: the category's settings.
pub(super) async fn edit(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    Path(guid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ((form, poster), guid) = match m.guard_at(&conn, &headers, body, "admin edit", &guid).await
    {
        Ok(guarded) => guarded,
        Err(response) => return response,
    };
    let settings = CategoryForm {
        name: form.text("name"),
        description: form.text("description"),
        file_post: form.checked("file_post"),
        invitations: form.checked("invitations"),
        logged: form.checked("logged"),
    };
    let done = m
        .inner
        .chat
        .edit_category(&poster.actor, guid.as_str(), &settings)
        .await;
    m.category_changed(conn.peer, "admin edit", &poster, &guid, done)
        .await
}

/// `admin/{guid}/people` posted: creators, or the scope's allow or deny list.
pub(super) async fn people(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    Path(guid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let route = "admin people";
    let ((form, poster), guid) = match m.guard_at(&conn, &headers, body, route, &guid).await {
        Ok(guarded) => guarded,
        Err(response) => return response,
    };
    let add = person_uris(&form, &m.inner.domain);
    let remove: Vec<String> = form.all("remove").map(str::to_owned).collect();
    let (chat, actor) = (&m.inner.chat, &poster.actor);
    let guid_str = guid.as_str();
    let done = match form.get("list") {
        Some("creators") => {
            chat.set_category_creators(actor, guid_str, &add, &remove)
                .await
        }
        Some(list @ ("allowed" | "denied")) => {
            let entry = match list {
                "allowed" => ScopeEntry::Allow,
                _ => ScopeEntry::Deny,
            };
            match chat
                .set_category_scope(actor, guid_str, Some(entry), &add)
                .await
            {
                Ok(view) if remove.is_empty() => Ok(view),
                Ok(_) => {
                    chat.set_category_scope(actor, guid_str, None, &remove)
                        .await
                }
                Err(e) => Err(e),
            }
        }
        _ => return m.bad_form(conn.peer, route, poster.lang, &poster.session),
    };
    m.category_changed(conn.peer, route, &poster, &guid, done)
        .await
}

/// A category page's language: `clientlang`, then the browser's.
fn page_lang(query: Option<&str>, headers: &HeaderMap) -> Lang {
    let clientlang = param(query, url::CLIENTLANG);
    Lang::choose(clientlang.as_deref(), accept_language(headers))
}

impl Manage {
    /// After a category form: back to its page, or the page again with what was wrong.
    async fn category_changed(
        &self,
        peer: SocketAddr,
        route: &str,
        poster: &Poster,
        guid: &Guid,
        done: Result<CategoryAdminView, ManageError>,
    ) -> Response {
        let Poster {
            lang,
            session,
            actor,
        } = poster;
        let lang = *lang;
        match done {
            Ok(_) => {
                let page = url::append(
                    &format!("{BASE}admin/{guid}"),
                    &[(url::CLIENTLANG, lang.tag()), ("done", SAVED)],
                );
                see_other(&page, &[])
            }
            Err(ManageError::Invalid { field, problem }) => {
                let tr = self.inner.l10n.tr(lang);
                let error = invalid(peer, route, session, &tr, &field, &problem);
                match self.inner.chat.category_admin(actor, guid.as_str()).await {
                    Ok(view) => self.category_page(
                        lang,
                        session,
                        &view,
                        StatusCode::BAD_REQUEST,
                        None,
                        Some(error),
                    ),
                    Err(e) => self.refusal(peer, route, lang, session, e),
                }
            }
            Err(e) => self.refusal(peer, route, lang, session, e),
        }
    }

    fn category_page(
        &self,
        lang: Lang,
        session: &Session,
        view: &CategoryAdminView,
        status: StatusCode,
        notice: Option<&str>,
        error: Option<String>,
    ) -> Response {
        let tr = self.inner.l10n.tr(lang);
        let c = &view.category;
        let people = PeopleBlock::all(
            &tr,
            "list",
            [
                ("creators", "list-creators", &view.creators),
                ("allowed", "list-allowed", &view.allowed),
                ("denied", "list-denied", &view.denied),
            ],
        );
        let title = tr.arg("category-title", "value", &c.name);
        let mut page = CategoryPage {
            f: self.frame(tr, Some(session), title, notice.map(|n| tr.get(n)), error),
            csrf: session.csrf.clone(),
            guid: c.guid.clone(),
            name: c.name.clone(),
            description: c.description.clone(),
            file_post: c.file_post,
            invitations: c.invitations,
            logged: view.logged,
            people,
            people_action: format!("{BASE}admin/{}/people", c.guid),
            changes: changes_of(&tr, &view.changes),
        };
        page.f.admin = true;
        render(status, &page)
    }
}
