//! Answers: pages rendered with the headers every page carries, redirects, JSON, the
//! message pages (not found, not allowed, refused), and the one log line each refused
//! request writes ([`refused`]).

use std::net::SocketAddr;

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parlance_chat::manage::ManageError;
use subtle::ConstantTimeEq as _;

use super::forms::Form;
use super::l10n::{Lang, Tr};
use super::pages::{Frame, MessagePage};
use super::session::Session;
use super::url;
use super::{BASE, Manage};

/// One line per refused request: from where, what, whose, why.
pub(super) fn refused(peer: SocketAddr, route: &str, account: Option<&str>, reason: &str) {
    tracing::info!(%peer, route, account = account.unwrap_or("-"), reason, "room management request refused");
}

/// A rendered page, with the headers every page carries: nothing cached (pages show
/// people and form tokens), no framing, no script or style from anywhere else, no
/// `Referer` (a ticket may be in the URL).
pub(super) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => answer(status, html, "text/html; charset=utf-8"),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub(super) fn json(status: StatusCode, body: String) -> Response {
    answer(status, body, "application/json")
}

fn answer(status: StatusCode, body: String, content_type: &'static str) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
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

pub(super) fn see_other(location: &str, cookies: &[String]) -> Response {
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
pub(super) fn target(lang: Lang, room: Option<&str>, done: Option<&str>) -> String {
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
pub(super) fn param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

pub(super) fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

/// A form's language: the one its page was in, else the browser's.
pub(super) fn lang_of(form: &Form, headers: &HeaderMap) -> Lang {
    Lang::choose(form.get("clientlang"), accept_language(headers))
}

pub(super) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

pub(super) fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl Manage {
    pub(super) fn frame<'a>(
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
            admin: false,
            title,
            notice,
            error,
        }
    }

    pub(super) fn message(
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
    pub(super) fn not_found(&self, lang: Lang, session: Option<&Session>) -> Response {
        self.message(
            lang,
            session,
            StatusCode::NOT_FOUND,
            "not-found-title",
            "not-found",
        )
    }

    pub(super) fn unreadable(
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

    pub(super) fn bad_form(
        &self,
        peer: SocketAddr,
        route: &str,
        lang: Lang,
        session: &Session,
    ) -> Response {
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
    pub(super) fn refusal(
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

    pub(super) fn chat_failed(&self, lang: Lang, session: &Session, e: &ManageError) -> Response {
        tracing::warn!(account = %session.uri, error = %e, "room management request failed");
        self.message(
            lang,
            Some(session),
            StatusCode::INTERNAL_SERVER_ERROR,
            "forbidden",
            "server-error",
        )
    }

    pub(super) fn failed(
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

#[cfg(test)]
mod tests {
    use super::super::rooms::SAVED;
    use super::*;

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
