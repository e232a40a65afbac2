//! The MS-PCWP entry. A GET of [`BASE`] signs in when nobody is signed in, else shows the
//! create page or, with `id`, the room page. Every form posts to a route of its own (see
//! `signin.rs`, `rooms.rs`, `admin.rs`) and is answered with a redirect to a page (so
//! reloading repeats nothing), or with the page again and a message saying what was wrong.
//! Each refused request writes one log line and changes nothing.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use parlance_chat::manage::MAX_QUERY_CHARS;

use super::l10n::Lang;
use super::respond::{accept_language, param, refused, see_other};
use super::rooms::{CREATED, SAVED, Shown};
use super::url::{MalformedId, PcwpQuery};
use super::{BASE, Manage};
use crate::Conn;

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
    let room = q.room.clone().and_then(Result::ok);
    let (session, actor) = match m.signed_in(conn.peer, &headers, lang, room.as_ref()).await {
        Ok(signed_in) => signed_in,
        Err(page) => return page,
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

pub(super) type Managed = State<Manage>;
