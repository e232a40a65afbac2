//! The room-management web application (MS-PCWP): the pages a Persistent Chat client opens
//! in a browser to create a room or to view and change one, under [`BASE`] on the HTTPS
//! listener (docs/protocol.md, "Room-management web application (MS-PCWP)").
//!
//! The URL rules are in [`url`]; who is signed in in `session` (a cookie, a form token per
//! session) and `tickets` (signed links a chat client hands the browser); the strings in
//! `l10n`; the pages in `pages` (askama templates); the handlers in `routes` (the entry),
//! `signin`, `rooms` and `admin`, answering through `respond`. Every decision about rooms —
//! who may see, create, change — is the chat core's ([`parlance_chat::manage`]): this module
//! turns forms into its calls and its answers into pages.

mod admin;
mod forms;
mod l10n;
mod pages;
mod respond;
mod rooms;
mod routes;
mod session;
mod signin;
mod static_files;
mod tickets;
pub mod url;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use parlance_chat::ChatService;
use parlance_chat::throttle::Throttle;
use parlance_clock::Clock;
use parlance_store::Store;

use self::l10n::L10n;
pub use self::session::SessionLimits;
use self::session::Sessions;
use self::tickets::SpentTickets;

/// Where the application lives: the original's path, so a base URL provisioned for a Lync
/// pool reads the same.
pub const BASE: &str = "/PersistentChat/RM/";

/// The application's state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Manage {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    chat: Arc<ChatService>,
    store: Store,
    throttle: Arc<Throttle>,
    sessions: Sessions,
    tickets: SpentTickets,
    l10n: L10n,
    /// The domain of accounts typed without one.
    domain: String,
}

impl Manage {
    /// `throttle` is the SIP front end's: failed sign-ins count the same whichever door
    /// they come through.
    pub fn new(
        chat: Arc<ChatService>,
        store: Store,
        throttle: Arc<Throttle>,
        domain: &str,
        limits: SessionLimits,
        clock: Clock,
    ) -> Manage {
        Manage {
            inner: Arc::new(Inner {
                chat,
                store,
                throttle,
                sessions: Sessions::new(limits, clock.clone()),
                tickets: SpentTickets::new(clock),
                l10n: L10n::new(),
                domain: domain.to_ascii_lowercase(),
            }),
        }
    }

    pub fn routes(&self) -> Router {
        let at = |path: &str| format!("{BASE}{path}");
        Router::new()
            .route(BASE, get(routes::entry))
            .route(BASE.trim_end_matches('/'), get(routes::to_base))
            .route(&at("signin"), post(signin::signin))
            .route(&at("signout"), post(signin::signout))
            .route(&at("rooms"), post(rooms::create))
            .route(&at("rooms/{guid}"), post(rooms::edit))
            .route(&at("rooms/{guid}/people"), post(rooms::people))
            .route(&at("people"), get(rooms::search))
            .route(&at("admin/"), get(admin::categories))
            .route(&at("admin/{guid}"), get(admin::category).post(admin::edit))
            .route(&at("admin/{guid}/people"), post(admin::people))
            .route(&at(static_files::STYLESHEET), get(static_files::stylesheet))
            .route(&at(static_files::SCRIPT), get(static_files::script))
            .route(
                &at("{*rest}"),
                get(routes::not_found).post(routes::not_found),
            )
            .with_state(self.clone())
    }

    /// Ends expired sessions and forgets tickets past their lifetime.
    pub fn sweep(&self) {
        self.inner.sessions.sweep();
        self.inner.tickets.sweep();
    }

    /// Ends the browser sessions of `account` (a password change, a disabled or removed
    /// account); returns how many there were.
    pub fn sign_out(&self, account: &str) -> usize {
        self.inner.sessions.end_account(account)
    }

    /// Signed-in sessions now (for tests and metrics).
    pub fn sessions(&self) -> usize {
        self.inner.sessions.len()
    }
}
