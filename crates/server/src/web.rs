//! The HTTPS side as `[web]` and `[files]` set it up: the listener, bound before the rest
//! starts (the file service's URL names its port), the file service it serves, and the
//! listener's connection policy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parlance_chat::backlog::OutputBacklog;
use parlance_chat::files::{FileSettings, Transfers};
use parlance_clock::Clock;
use parlance_files::FileStore;
use parlance_metrics::Metrics;
use parlance_store::{ServerKey, Store};
use parlance_web::files::{ChatFirst, Files};
use parlance_web::manage::Manage;
use parlance_web::{BodyPace, WebSettings};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::runtime::LowPriorityRuntime;
use crate::tls::CertificateSlot;
use crate::transport::listen;
use crate::{StartError, open_file_store};

/// The HTTPS listener, bound, and the file service it is to serve.
pub(crate) struct Web {
    pub(crate) listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    files: Files,
    pub(crate) file_settings: FileSettings,
}

/// What makes file transfers give way to the chat: they wait while chat output is queued
/// (`backlog`), each wait at most `files.yield_to_chat_ms`, and `metrics` counts the waits.
pub(crate) fn chat_first(
    config: &Config,
    backlog: &OutputBacklog,
    clock: Clock,
    metrics: &Metrics,
) -> ChatFirst {
    ChatFirst::new(
        backlog.clone(),
        clock,
        Duration::from_millis(config.files.yield_to_chat_ms),
        metrics.file_transfer_waits.clone(),
        metrics.file_transfer_waits_at_limit.clone(),
    )
}

/// Binds the HTTPS listener and opens the file store, unless `[web]` says the listener is
/// off. With `discard`, uploads an earlier run left in progress are forgotten here, their
/// partial files and their rows, before any new upload can start. Transfers give way to
/// the chat through `chat_first`.
pub(crate) async fn prepare_web(
    config: &Config,
    certificate: &Arc<CertificateSlot>,
    store: &Store,
    key: &ServerKey,
    discard: bool,
    clock: Clock,
    chat_first: ChatFirst,
) -> Result<Option<Web>, StartError> {
    let Some(addr) = config.web.listen else {
        return Ok(None);
    };
    let listener = listen("HTTPS", addr).await?;
    let port = listener.local_addr().map_err(StartError::Serve)?.port();
    let file_settings = FileSettings {
        service_url: format!("{}{}", config.public_url(port), mgc::PATH),
        token_lifetime: Duration::from_secs(config.files.token_lifetime_secs),
        max_file_bytes: config.files.max_file_size_kb.saturating_mul(1024),
        room_quota_bytes: config.files.room_quota_mb.saturating_mul(1024 * 1024),
        max_chunk_bytes: usize::try_from(config.files.max_chunk_kb * 1024)
            .expect("validated: at most 16 MiB"),
        max_tokens_per_user: config.files.max_tokens_per_user,
        max_files_per_room: config.files.max_files_per_room,
    };
    let file_store = open_file_store(config, key).await?;
    let transfers = Transfers::new(
        store.clone(),
        clock,
        config.domain.clone(),
        file_settings.clone(),
    );
    if discard {
        discard_unfinished(&file_store, &transfers).await?;
    }
    Ok(Some(Web {
        listener,
        tls: certificate.server_config(parlance_web::ALPN)?,
        files: Files::new(
            transfers,
            // Servers start on the chat's runtime.
            tokio::runtime::Handle::current(),
            file_store,
            config.files.max_uploads_per_user,
            chat_first,
        ),
        file_settings,
    }))
}

/// The HTTPS listener at work: where, the file service it serves, the runtime it runs on
/// (dropped once its task has ended) and its task.
pub(crate) struct Https {
    pub(crate) addr: SocketAddr,
    pub(crate) files: Files,
    pub(crate) runtime: LowPriorityRuntime,
    pub(crate) task: JoinHandle<()>,
}

impl Web {
    /// Serves the file service, and the room-management application when there is one, on
    /// a runtime of the HTTPS listener's own, at the priority `[web]` gives it, until
    /// `shutdown`.
    pub(crate) fn serve(
        self,
        manage: Option<&Manage>,
        config: &Config,
        clock: Clock,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Https, StartError> {
        let addr = self.listener.local_addr().map_err(StartError::Serve)?;
        let runtime =
            LowPriorityRuntime::new("parlance-https", config.web.threads, config.web.priority)
                .map_err(StartError::Runtime)?;
        // The listening socket was bound here; it is registered with the runtime that polls
        // it.
        let listener = self.listener.into_std().map_err(StartError::Serve)?;
        let routes = match manage {
            Some(manage) => self.files.routes().merge(manage.routes()),
            None => self.files.routes(),
        };
        let (tls, settings) = (self.tls, web_settings(config));
        let task = runtime.spawn(async move {
            match TcpListener::from_std(listener) {
                Ok(listener) => {
                    parlance_web::serve(listener, tls, routes, settings, clock, shutdown).await
                }
                Err(e) => tracing::error!(error = %e, "the HTTPS listener cannot start"),
            }
        });
        Ok(Https {
            addr,
            files: self.files,
            runtime,
            task,
        })
    }
}

/// Forgets the uploads an earlier run left in progress: their partial files, then rows.
async fn discard_unfinished(
    file_store: &FileStore,
    transfers: &Transfers,
) -> Result<(), StartError> {
    file_store.discard_unfinished().await?;
    let discarded = transfers.discard_unfinished_uploads().await?;
    if discarded > 0 {
        tracing::info!(
            discarded,
            "uploads left unfinished by the last run were discarded"
        );
    }
    Ok(())
}

/// The HTTPS listener's connection policy, from `[web]`.
fn web_settings(config: &Config) -> WebSettings {
    let web = &config.web;
    WebSettings {
        max_connections: web.max_connections,
        header_timeout: Duration::from_secs(web.header_timeout_secs),
        idle_timeout: Duration::from_secs(web.idle_timeout_secs),
        body_pace: BodyPace {
            timeout: Duration::from_secs(web.body_timeout_secs),
            min_bytes_per_sec: web.min_body_kb_per_sec.saturating_mul(1024),
        },
    }
}
