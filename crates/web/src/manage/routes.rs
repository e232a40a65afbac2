//! The handlers. A GET of [`BASE`] is the MS-PCWP entry: sign-in when nobody is signed in,
//! else the create page or, with `id`, the room page. Every form posts to a route of its own
//! and is answered with a redirect to a page (so reloading repeats nothing), or with the
//! page again and a message saying what was wrong. Each refused request writes one log line
//! ([`refused`]) and changes nothing.

use std::net::SocketAddr;

use askama::Template;
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parlance_chat::manage::{
    Actor, Behavior, Field, ManageError, Privacy, Problem, Role, RoomForm, RoomView,
};
use subtle::ConstantTimeEq as _;

use super::forms::Form;
use super::l10n::{Lang, Tr};
use super::pages::{
    CreatePage, FormValues, Frame, ManagedRoom, MessagePage, RoleBlock, RoomPage, SigninPage,
};
use super::session::{self, Session};
use super::url::{self, Guid, MalformedId, PcwpQuery};
use super::{BASE, Manage};
use crate::Conn;

/// The sign-in form's token lives in this cookie and in the form: a page of another site
/// cannot read the one to forge the other (login CSRF), and no state is held for browsers
/// that only look at the sign-in page.
const SIGNIN_COOKIE: &str = "parlance_rm_signin";

/// The people search: results per query, and the longest query looked at.
const SEARCH_LIMIT: u32 = 20;
const MAX_QUERY_CHARS: usize = 256;
const MAX_ACCOUNT_CHARS: usize = 256;

/// What the pages say after a redirect (`done=`).
const CREATED: &str = "created";
const SAVED: &str = "saved";

type Managed = State<Manage>;

/// `/PersistentChat/RM` → the base, with its query.
pub(super) async fn to_base(RawQuery(query): RawQuery) -> Response {
    let location = match query {
        Some(q) => format!("{BASE}?{q}"),
        None => BASE.to_owned(),
    };
    see_other(&location, &[])
}

/// The MS-PCWP entry: `?clientlang=xx-YY` creates, `&id=GUID` opens a room, `&ticket=`
/// signs in first.
pub(super) async fn entry(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let q = PcwpQuery::parse(query.as_deref());
    let lang = Lang::choose(q.clientlang.as_deref(), accept_language(&headers));
    if let Some(ticket) = &q.ticket {
        return m.redeem(conn.peer, lang, ticket, q.room).await;
    }
    let Some(session) = m.session(&headers) else {
        let room = q.room.and_then(Result::ok);
        return m.signin_page(&headers, lang, StatusCode::OK, None, "", room.as_ref());
    };
    let Some(actor) = m.actor(conn.peer, &session).await else {
        return m.signin_page(
            &headers,
            lang,
            StatusCode::FORBIDDEN,
            Some("session-expired"),
            "",
            None,
        );
    };
    let done = param(query.as_deref(), "done");
    let notice = match done.as_deref() {
        Some(CREATED) => Some(CREATED),
        Some(SAVED) => Some(SAVED),
        _ => None,
    };
    match q.room {
        None => {
            m.create_page(lang, &session, &actor, StatusCode::OK, None, None)
                .await
        }
        Some(Err(MalformedId)) => {
            refused(conn.peer, "open room", Some(&session.uri), "malformed id");
            m.not_found(lang, Some(&session))
        }
        Some(Ok(guid)) => {
            let search =
                param(query.as_deref(), "q").map(|q| q.chars().take(MAX_QUERY_CHARS).collect());
            let shown = Shown {
                notice,
                search,
                ..Shown::default()
            };
            m.room_page(conn.peer, lang, &session, &actor, &guid, shown)
                .await
        }
    }
}

pub(super) async fn signin(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (peer, ip) = (conn.peer, conn.peer.ip());
    let form = match Form::read(&conn, body).await {
        Ok(form) => form,
        Err(e) => return m.unreadable(peer, "sign-in", &headers, &e),
    };
    let lang = lang_of(&form, &headers);
    let room = form.get("id").and_then(Guid::parse);
    // An account name is short; a longer one is cut rather than kept whole in the
    // throttle's table.
    let account: String = form
        .text("account")
        .chars()
        .take(MAX_ACCOUNT_CHARS)
        .collect();
    let room = room.as_ref();
    let forged = cookie(&headers, SIGNIN_COOKIE)
        .is_none_or(|token| !same(token, form.get("csrf").unwrap_or_default()));
    if forged {
        refused(peer, "sign-in", None, "sign-in form token missing or wrong");
        return m.signin_page(
            &headers,
            lang,
            StatusCode::FORBIDDEN,
            Some("csrf-failed"),
            &account,
            room,
        );
    }
    let uri = account_uri(&account, &m.inner.domain);
    if let Some(wait) = m.inner.throttle.check(&uri, ip) {
        refused(peer, "sign-in", Some(&uri), "throttled");
        let tr = m.inner.l10n.tr(lang);
        let text = tr.arg("signin-throttled", "value", &tr.number(wait.secs));
        return m.signin_with(
            &headers,
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            Some(text),
            &account,
            room,
        );
    }
    let password = form.text("password");
    let verified = match m.inner.store.verify_password(&uri, &password).await {
        Ok(verified) => verified,
        // A malformed address is a wrong account like any other.
        Err(parlance_store::StoreError::Invalid { .. }) => false,
        Err(e) => return m.failed(peer, "sign-in", lang, None, &e),
    };
    let actor = match verified {
        true => match m.inner.chat.actor(&uri).await {
            Ok(actor) => actor,
            Err(e) => return m.failed(peer, "sign-in", lang, None, &e),
        },
        false => None,
    };
    let Some(actor) = actor else {
        if !verified {
            m.inner.throttle.record_failure(&uri, ip);
        }
        refused(peer, "sign-in", Some(&uri), "wrong account or password");
        return m.signin_page(
            &headers,
            lang,
            StatusCode::FORBIDDEN,
            Some("signin-failed"),
            &account,
            room,
        );
    };
    m.inner.throttle.record_success(&uri, ip);
    let Ok(session) = m.inner.sessions.start(&actor.principal.uri) else {
        tracing::warn!(%peer, account = %uri, "room management: no room for another session");
        return m.signin_page(
            &headers,
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            Some("signin-busy"),
            &account,
            room,
        );
    };
    tracing::info!(%peer, account = %actor.principal.uri, "signed in to room management");
    see_other(
        &target(lang, room.map(Guid::as_str), None),
        &[
            session::set_cookie(BASE, Some(&session.id)),
            format!("{SIGNIN_COOKIE}=; Path={BASE}; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
        ],
    )
}

pub(super) async fn signout(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (_, lang, session, _) = match m.guard(&conn, &headers, body, "sign-out").await {
        Ok(guarded) => guarded,
        Err(response) => return response,
    };
    m.inner.sessions.end(&session.id);
    tracing::info!(peer = %conn.peer, account = %session.uri, "signed out of room management");
    see_other(
        &target(lang, None, None),
        &[session::set_cookie(BASE, None)],
    )
}

pub(super) async fn create(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (form, lang, session, actor) = match m.guard(&conn, &headers, body, "create").await {
        Ok(guarded) => guarded,
        Err(response) => return response,
    };
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
            let text = problem_text(&tr, &field, &problem);
            refused(
                conn.peer,
                "create",
                Some(&session.uri),
                &format!("{field:?}: {problem:?}"),
            );
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
    let (form, lang, session, actor) = match m.guard(&conn, &headers, body, "edit").await {
        Ok(guarded) => guarded,
        Err(response) => return response,
    };
    let Some(guid) = Guid::parse(&guid) else {
        refused(conn.peer, "edit", Some(&session.uri), "malformed id");
        return m.not_found(lang, Some(&session));
    };
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
            refused(
                conn.peer,
                "edit",
                Some(&session.uri),
                &format!("{field:?}: {problem:?}"),
            );
            let shown = Shown {
                error: Some(problem_text(&tr, &field, &problem)),
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
    let (form, lang, session, actor) = match m.guard(&conn, &headers, body, "people").await {
        Ok(guarded) => guarded,
        Err(response) => return response,
    };
    let Some(guid) = Guid::parse(&guid) else {
        refused(conn.peer, "people", Some(&session.uri), "malformed id");
        return m.not_found(lang, Some(&session));
    };
    let role = match form.get("role") {
        Some("member") => Role::Member,
        Some("manager") => Role::Manager,
        Some("presenter") => Role::Presenter,
        _ => return m.bad_form(conn.peer, "people", lang, &session),
    };
    let add: Vec<String> = form
        .all("add")
        .flat_map(|list| list.split([',', ';', '\n', ' ']))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| account_uri(a, &m.inner.domain))
        .collect();
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
            refused(
                conn.peer,
                "people",
                Some(&session.uri),
                &format!("{field:?}: {problem:?}"),
            );
            let shown = Shown {
                error: Some(problem_text(&tr, &field, &problem)),
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

/// Anything else under the base.
pub(super) async fn not_found(
    State(m): Managed,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
) -> Response {
    refused(conn.peer, "page", None, "no such page");
    let lang = Lang::choose(None, accept_language(&headers));
    m.not_found(lang, None)
}

/// What a room page shows beside the room.
#[derive(Debug, Default)]
struct Shown {
    notice: Option<&'static str>,
    error: Option<String>,
    /// The edit form as it was sent, when it was refused.
    form: Option<RoomForm>,
    /// The search form's query.
    search: Option<String>,
}

impl Manage {
    /// The live session the request's cookie names.
    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(session::cookie_value)
            .and_then(|id| self.inner.sessions.get(id))
    }

    /// The session's account as it is now: a session of an account disabled or removed
    /// since it signed in ends here.
    async fn actor(&self, peer: SocketAddr, session: &Session) -> Option<Actor> {
        match self.inner.chat.actor(&session.uri).await {
            Ok(Some(actor)) => Some(actor),
            Ok(None) => {
                refused(
                    peer,
                    "session",
                    Some(&session.uri),
                    "account no longer active",
                );
                self.inner.sessions.end(&session.id);
                None
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "cannot look up a session's account");
                None
            }
        }
    }

    /// What every form post checks first: a readable form, a live session, the session's
    /// form token, an active account.
    async fn guard(
        &self,
        conn: &Conn,
        headers: &HeaderMap,
        body: Body,
        route: &str,
    ) -> Result<(Form, Lang, Session, Actor), Response> {
        let form = match Form::read(conn, body).await {
            Ok(form) => form,
            Err(e) => return Err(self.unreadable(conn.peer, route, headers, &e)),
        };
        let lang = lang_of(&form, headers);
        let Some(session) = self.session(headers) else {
            refused(conn.peer, route, None, "no session or session expired");
            return Err(self.signin_page(
                headers,
                lang,
                StatusCode::FORBIDDEN,
                Some("session-expired"),
                "",
                None,
            ));
        };
        if !session.csrf_matches(form.get("csrf").unwrap_or_default()) {
            refused(
                conn.peer,
                route,
                Some(&session.uri),
                "form token missing or wrong",
            );
            return Err(self.message(
                lang,
                Some(&session),
                StatusCode::FORBIDDEN,
                "forbidden",
                "csrf-failed",
            ));
        }
        let Some(actor) = self.actor(conn.peer, &session).await else {
            return Err(self.signin_page(
                headers,
                lang,
                StatusCode::FORBIDDEN,
                Some("session-expired"),
                "",
                None,
            ));
        };
        Ok((form, lang, session, actor))
    }

    /// A ticket from a chat client: checked, spent, and turned into a session; then the
    /// same URL without it.
    async fn redeem(
        &self,
        peer: SocketAddr,
        lang: Lang,
        ticket: &str,
        room: Option<Result<Guid, MalformedId>>,
    ) -> Response {
        let room = room.and_then(Result::ok);
        let actor = match self.inner.chat.redeem_web_ticket(ticket).await {
            Ok(actor) => actor,
            Err(e) => return self.failed(peer, "ticket", lang, None, &e),
        };
        let Some(actor) = actor.filter(|_| self.inner.tickets.spend(ticket)) else {
            refused(peer, "ticket", None, "ticket invalid, expired or spent");
            return self.signin_with(
                &HeaderMap::new(),
                lang,
                StatusCode::FORBIDDEN,
                Some(self.inner.l10n.tr(lang).get("ticket-invalid")),
                "",
                room.as_ref(),
            );
        };
        let Ok(session) = self.inner.sessions.start(&actor.principal.uri) else {
            tracing::warn!(%peer, "room management: no room for another session");
            return self.signin_page(
                &HeaderMap::new(),
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("signin-busy"),
                "",
                room.as_ref(),
            );
        };
        tracing::info!(%peer, account = %actor.principal.uri, "signed in to room management with a ticket");
        see_other(
            &target(lang, room.as_ref().map(Guid::as_str), None),
            &[session::set_cookie(BASE, Some(&session.id))],
        )
    }

    async fn create_page(
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
                members: tr.arg(
                    "members-count",
                    "value",
                    &tr.number(room.members.len() as u64),
                ),
            })
            .collect();
        let page = CreatePage {
            f: self.frame(tr, Some(session), tr.get("create-title"), None, error),
            csrf: session.csrf.clone(),
            categories: categories.into_iter().map(|c| (c.guid, c.name)).collect(),
            form: values,
            managed,
        };
        render(status, &page)
    }

    async fn room_page(
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
        let page = RoomPage {
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
            query: shown.search.unwrap_or_default(),
            found,
            changes: view
                .changes
                .iter()
                .map(|c| {
                    (
                        tr.date(c.at),
                        c.actor.clone(),
                        format!("{}: {}", c.action, c.detail),
                    )
                })
                .collect(),
            form,
        };
        render(status, &page)
    }

    fn frame<'a>(
        &self,
        tr: Tr<'a>,
        session: Option<&'a Session>,
        title: String,
        notice: Option<String>,
        error: Option<String>,
    ) -> Frame<'a> {
        Frame {
            tr,
            base: BASE,
            session,
            title,
            notice,
            error,
        }
    }

    /// The sign-in page, with a message from the catalogue.
    fn signin_page(
        &self,
        headers: &HeaderMap,
        lang: Lang,
        status: StatusCode,
        error: Option<&str>,
        account: &str,
        room: Option<&Guid>,
    ) -> Response {
        let error = error.map(|id| self.inner.l10n.tr(lang).get(id));
        self.signin_with(headers, lang, status, error, account, room)
    }

    /// The sign-in page; its form token is the browser's sign-in cookie, or a new one.
    fn signin_with(
        &self,
        headers: &HeaderMap,
        lang: Lang,
        status: StatusCode,
        error: Option<String>,
        account: &str,
        room: Option<&Guid>,
    ) -> Response {
        let tr = self.inner.l10n.tr(lang);
        let token = cookie(headers, SIGNIN_COOKIE)
            .filter(|t| t.len() == 43)
            .map_or_else(session::random_token, str::to_owned);
        let page = SigninPage {
            f: self.frame(tr, None, tr.get("signin-title"), None, error),
            csrf: token.clone(),
            account: account.to_owned(),
            room: room.map(|g| g.as_str().to_owned()),
        };
        let mut response = render(status, &page);
        if let Ok(value) = HeaderValue::from_str(&format!(
            "{SIGNIN_COOKIE}={token}; Path={BASE}; Secure; HttpOnly; SameSite=Strict"
        )) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }

    fn message(
        &self,
        lang: Lang,
        session: Option<&Session>,
        status: StatusCode,
        title: &str,
        text: &str,
    ) -> Response {
        let tr = self.inner.l10n.tr(lang);
        let page = MessagePage {
            f: self.frame(tr, session, tr.get(title), None, Some(tr.get(text))),
        };
        render(status, &page)
    }

    /// One answer for every room that cannot be shown: unknown, malformed, of another
    /// domain or invisible — so a Secret room's existence is never revealed.
    fn not_found(&self, lang: Lang, session: Option<&Session>) -> Response {
        self.message(
            lang,
            session,
            StatusCode::NOT_FOUND,
            "not-found-title",
            "not-found",
        )
    }

    fn unreadable(
        &self,
        peer: SocketAddr,
        route: &str,
        headers: &HeaderMap,
        e: &dyn std::error::Error,
    ) -> Response {
        refused(peer, route, None, &e.to_string());
        let lang = Lang::choose(None, accept_language(headers));
        self.message(
            lang,
            None,
            StatusCode::BAD_REQUEST,
            "forbidden",
            "bad-request",
        )
    }

    fn bad_form(&self, peer: SocketAddr, route: &str, lang: Lang, session: &Session) -> Response {
        refused(
            peer,
            route,
            Some(&session.uri),
            "a field has a value no form of ours sends",
        );
        self.message(
            lang,
            Some(session),
            StatusCode::BAD_REQUEST,
            "forbidden",
            "bad-request",
        )
    }

    /// The chat core said no.
    fn refusal(
        &self,
        peer: SocketAddr,
        route: &str,
        lang: Lang,
        session: &Session,
        e: ManageError,
    ) -> Response {
        match e {
            ManageError::NotFound => {
                refused(
                    peer,
                    route,
                    Some(&session.uri),
                    "no such room or not visible",
                );
                self.not_found(lang, Some(session))
            }
            ManageError::Forbidden => {
                refused(peer, route, Some(&session.uri), "not allowed");
                self.message(
                    lang,
                    Some(session),
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "forbidden",
                )
            }
            e => self.chat_failed(lang, session, &e),
        }
    }

    fn chat_failed(&self, lang: Lang, session: &Session, e: &ManageError) -> Response {
        tracing::warn!(account = %session.uri, error = %e, "room management request failed");
        self.message(
            lang,
            Some(session),
            StatusCode::INTERNAL_SERVER_ERROR,
            "forbidden",
            "server-error",
        )
    }

    fn failed(
        &self,
        peer: SocketAddr,
        route: &str,
        lang: Lang,
        session: Option<&Session>,
        e: &dyn std::error::Error,
    ) -> Response {
        tracing::warn!(%peer, route, error = %e, "room management request failed");
        self.message(
            lang,
            session,
            StatusCode::INTERNAL_SERVER_ERROR,
            "forbidden",
            "server-error",
        )
    }
}

/// One line per refused request: from where, what, whose, why.
fn refused(peer: SocketAddr, route: &str, account: Option<&str>, reason: &str) {
    tracing::info!(%peer, route, account = account.unwrap_or("-"), reason, "room management request refused");
}

/// A rendered page, with the headers every page carries: nothing cached (pages show
/// people and form tokens), no framing, no script or style from anywhere else, no
/// `Referer` (a ticket may be in the URL).
fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, html).into_response();
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            secure(h);
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    secure(h);
    response
}

fn secure(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, value);
    }
    for c in cookies {
        if let Ok(value) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, value);
        }
    }
    secure(h);
    response
}

/// A page of the application by the MS-PCWP rules, with what was just done.
fn target(lang: Lang, room: Option<&str>, done: Option<&str>) -> String {
    let url = match room {
        Some(id) => url::room_url(BASE, lang.tag(), id),
        None => url::create_url(BASE, lang.tag()),
    };
    match done {
        Some(done) => url::append(&url, &[("done", done)]),
        None => url,
    }
}

/// The first value of a query parameter that is not MS-PCWP's.
fn param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

/// A form's language: the one its page was in, else the browser's.
fn lang_of(form: &Form, headers: &HeaderMap) -> Lang {
    Lang::choose(form.get("clientlang"), accept_language(headers))
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// An account as typed (`alice`, `alice@example.com`, `sip:alice@example.com`) as a SIP
/// address, the form accounts and throttling know it by.
fn account_uri(typed: &str, domain: &str) -> String {
    let typed = typed.trim();
    let bare = typed
        .get(..4)
        .filter(|scheme| scheme.eq_ignore_ascii_case("sip:"))
        .map_or(typed, |_| &typed[4..]);
    match bare.contains('@') {
        true => format!("sip:{}", bare.to_lowercase()),
        false => format!("sip:{}@{domain}", bare.to_lowercase()),
    }
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

fn on_off(tr: &Tr<'_>, on: bool) -> String {
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

fn people_of(tr: &Tr<'_>, view: &RoomView) -> Vec<RoleBlock> {
    [
        ("member", "role-members", &view.members),
        ("manager", "role-managers", &view.managers),
        ("presenter", "role-presenters", &view.presenters),
    ]
    .into_iter()
    .map(|(role, title, people)| RoleBlock {
        role,
        title: tr.get(title),
        people: people.clone(),
    })
    .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_as_typed() {
        let d = "example.com";
        assert_eq!(account_uri("alice", d), "sip:alice@example.com");
        assert_eq!(
            account_uri(" Alice@Example.com ", d),
            "sip:alice@example.com"
        );
        assert_eq!(account_uri("SIP:bob@example.org", d), "sip:bob@example.org");
    }

    #[test]
    fn targets_follow_the_protocol() {
        assert_eq!(
            target(Lang::DeDe, None, None),
            "/PersistentChat/RM/?clientlang=de-DE"
        );
        assert_eq!(
            target(
                Lang::EnUs,
                Some("61e092c7-89bb-4dc4-a3f5-8c23fa940fab"),
                Some(SAVED)
            ),
            "/PersistentChat/RM/?clientlang=en-US&id=61e092c7-89bb-4dc4-a3f5-8c23fa940fab&done=saved"
        );
    }
}
