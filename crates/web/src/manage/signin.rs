//! Who is signed in: the sign-in form (a password, checked through the throttle the SIP
//! front end shares), a ticket from a chat client, sign-out, and what every form post checks
//! first — a live session, its form token, an account still active.

use std::net::SocketAddr;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use parlance_chat::manage::Actor;

use super::forms::Form;
use super::l10n::Lang;
use super::pages::SigninPage;
use super::respond::{cookie, lang_of, refused, render, same, see_other, target};
use super::routes::Managed;
use super::session::{self, Session};
use super::url::{Guid, MalformedId};
use super::{BASE, Manage};
use crate::Conn;

/// The sign-in form's token lives in this cookie and in the form: a page of another site
/// cannot read the one to forge the other (login CSRF), and no state is held for browsers
/// that only look at the sign-in page.
const SIGNIN_COOKIE: &str = "parlance_rm_signin";

const MAX_ACCOUNT_CHARS: usize = 256;

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
    let (_, Poster { lang, session, .. }) = match m.guard(&conn, &headers, body, "sign-out").await {
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

/// An account as typed (`alice`, `alice@example.com`, `sip:alice@example.com`) as a SIP
/// address, the form accounts and throttling know it by.
pub(super) fn account_uri(typed: &str, domain: &str) -> String {
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

/// Who posted a form, once [`Manage::guard`] has checked it: the page's language, the
/// session and its account as it is now.
#[derive(Debug)]
pub(super) struct Poster {
    pub(super) lang: Lang,
    pub(super) session: Session,
    pub(super) actor: Actor,
}

impl Manage {
    /// The live session the request's cookie names.
    pub(super) fn session(&self, headers: &HeaderMap) -> Option<Session> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(session::cookie_value)
            .and_then(|id| self.inner.sessions.get(id))
    }

    /// The session's account as it is now: a session of an account disabled or removed
    /// since it signed in ends here.
    pub(super) async fn actor(&self, peer: SocketAddr, session: &Session) -> Option<Actor> {
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

    /// What a page needs: a live session of an account still active; else the sign-in
    /// page (which comes back to `room` afterwards).
    pub(super) async fn signed_in(
        &self,
        peer: SocketAddr,
        headers: &HeaderMap,
        lang: Lang,
        room: Option<&Guid>,
    ) -> Result<(Session, Actor), Response> {
        let Some(session) = self.session(headers) else {
            return Err(self.signin_page(headers, lang, StatusCode::OK, None, "", room));
        };
        let Some(actor) = self.actor(peer, &session).await else {
            return Err(self.expired(headers, lang, room));
        };
        Ok((session, actor))
    }

    /// [`guard`](Manage::guard) for a form about one room or category, whose GUID is in
    /// the path.
    pub(super) async fn guard_at(
        &self,
        conn: &Conn,
        headers: &HeaderMap,
        body: Body,
        route: &str,
        guid: &str,
    ) -> Result<((Form, Poster), Guid), Response> {
        let guarded = self.guard(conn, headers, body, route).await?;
        let Some(guid) = Guid::parse(guid) else {
            let Poster { lang, session, .. } = &guarded.1;
            refused(conn.peer, route, Some(&session.uri), "malformed id");
            return Err(self.not_found(*lang, Some(session)));
        };
        Ok((guarded, guid))
    }

    /// What every form post checks first: a readable form, a live session, the session's
    /// form token, an active account.
    pub(super) async fn guard(
        &self,
        conn: &Conn,
        headers: &HeaderMap,
        body: Body,
        route: &str,
    ) -> Result<(Form, Poster), Response> {
        let form = match Form::read(conn, body).await {
            Ok(form) => form,
            Err(e) => return Err(self.unreadable(conn.peer, route, headers, &e)),
        };
        let lang = lang_of(&form, headers);
        let Some(session) = self.session(headers) else {
            refused(conn.peer, route, None, "no session or session expired");
            return Err(self.expired(headers, lang, None));
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
            return Err(self.expired(headers, lang, None));
        };
        Ok((
            form,
            Poster {
                lang,
                session,
                actor,
            },
        ))
    }

    /// A ticket from a chat client: checked, spent, and turned into a session; then the
    /// same URL without it.
    pub(super) async fn redeem(
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

    /// The sign-in page, saying the session ended.
    fn expired(&self, headers: &HeaderMap, lang: Lang, room: Option<&Guid>) -> Response {
        let status = StatusCode::FORBIDDEN;
        self.signin_page(headers, lang, status, Some("session-expired"), "", room)
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
}
