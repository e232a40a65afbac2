//! The server's periodic housekeeping: what expires in memory (registrations, nonces,
//! throttle windows, dialogs, sessions) and in the store (uploads and file tokens) goes a
//! few seconds after its time, judged on the [`Clock`].
//!
//! [`Clock`]: parlance_clock::Clock

use std::sync::Arc;
use std::time::Duration;

use parlance_web::files::Files;
use parlance_web::manage::Manage;
use tokio::sync::watch;

use crate::frontend::FrontEnd;
use crate::groupchat::GroupChat;
use crate::{periodic, pool};

/// Runs [`housekeeping`] every few seconds until shutdown.
pub(crate) async fn sweep(
    front_end: Arc<FrontEnd>,
    groupchat: Arc<GroupChat>,
    files: Option<(Files, pool::Singletons)>,
    manage: Option<Manage>,
    shutdown: watch::Receiver<bool>,
) {
    let mut periodic = periodic::Periodic::new(SWEEP_INTERVAL, shutdown);
    while periodic.next().await {
        let files = files
            .as_ref()
            .map(|(files, singletons)| (files, singletons));
        housekeeping(&front_end, &groupchat, files, manage.as_ref()).await;
    }
}

/// How often [`housekeeping`] runs: what expires is judged on the [`Clock`], this only
/// sets how soon after its time it goes.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// One round of housekeeping: expired registrations, nonce counts, throttle windows, chat
/// dialogs, unanswered server requests, uploads and file tokens that expired (on the node
/// holding the cleaner's lease), and the room-management application's expired sessions
/// and spent tickets.
pub(crate) async fn housekeeping(
    front_end: &FrontEnd,
    groupchat: &GroupChat,
    files: Option<(&Files, &pool::Singletons)>,
    manage: Option<&Manage>,
) {
    front_end.registrar().sweep();
    front_end.announce().await;
    front_end.auth().sweep();
    front_end.throttle().sweep();
    groupchat.expire().await;
    if let Some((files, singletons)) = files
        && let Err(e) = singletons
            .run(pool::Singleton::UploadCleaner, files.sweep())
            .await
    {
        tracing::warn!(error = %e, "upload cleaning skipped: cannot take its lease");
    }
    if let Some(manage) = manage {
        manage.sweep();
    }
}
