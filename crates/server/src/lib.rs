//! The Parlance server runtime: SIP listeners over TCP and TLS, the front end (registrar,
//! Digest authentication, in-band provisioning, routing) and the seam where local services
//! such as persistent chat plug in ([`endpoint::Endpoint`]).

mod access;
pub mod compliance;
pub mod config;
pub mod endpoint;
pub mod forward;
pub mod frontend;
pub mod groupchat;
mod ids;
pub mod installation;
mod observe;
mod periodic;
pub mod pool;
mod relay;
pub mod reload;
pub mod retention;
mod runtime;
mod signed_in;
pub mod tls;
pub mod transport;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parlance_bus::{Bus, BusError};
use parlance_chat::backlog::OutputBacklog;
use parlance_chat::files::{FileRefusal, FileSettings, Transfers};
use parlance_chat::manage::{WEB_TICKET_PURPOSE, WebTicketKey};
use parlance_chat::throttle::{Throttle, ThrottleLimits};
use parlance_compliance::Exporter;
use parlance_files::{FileError, FileStore};
use parlance_metrics::Metrics;
use parlance_store::nodes::{Load, Node};
use parlance_store::{LockFile, ServerKey, Store, StoreError};
use parlance_web::files::{ChatFirst, Files};
use parlance_web::manage::{Manage, SessionLimits};
use parlance_web::{BodyPace, WebSettings};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::forward::Forwarder;
use crate::frontend::auth::DigestAuth;
use crate::frontend::networks::Networks;
use crate::frontend::ntlm::Ntlm;
use crate::frontend::provisioning::Provisioning;
use crate::frontend::proxy::Proxy;
use crate::frontend::registrar::Registrar;
use crate::frontend::{FrontEnd, FrontEndSettings};
use crate::groupchat::{Dialogs, GroupChat};
use crate::installation::Access;
use crate::observe::Observer;
pub use crate::runtime::{LowPriorityRuntime, Priority};
use crate::tls::{CertificateInfo, CertificateSlot};
use crate::transport::{Connections, ListenError, listen};
use parlance_chat::{ChatService, ChatSettings, SearchLimits};
use parlance_clock::Clock;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Installation(#[from] installation::InstallationError),
    #[error("cannot create the directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// A bound listener that could not be handed to what serves it.
    #[error("cannot start serving: {0}")]
    Serve(std::io::Error),
    #[error("cannot start background threads: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Chat(#[from] parlance_chat::ChatError),
    #[error("file store: {0}")]
    Files(#[from] FileError),
    #[error("file records: {0}")]
    FileRecords(#[from] FileRefusal),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Forward(#[from] forward::ForwardError),
    #[error("pool: {0}")]
    Pool(#[from] pool::PoolError),
}

/// What to start, beyond the configuration.
#[derive(Debug, Default)]
pub struct Options {
    pub clock: Clock,
    /// Told when another node of the pool is gone ([`pool::NodeGone`]).
    pub node_gone: Option<Arc<dyn pool::NodeGone>>,
}

/// A started server.
#[derive(Debug)]
pub struct Server {
    pub tcp_addr: Option<SocketAddr>,
    pub tls_addr: Option<SocketAddr>,
    /// The HTTPS listener's address, when it is on.
    pub https_addr: Option<SocketAddr>,
    /// The admin listener's address (health and metrics), when it is on.
    pub admin_addr: Option<SocketAddr>,
    pub certificate: Option<CertificateInfo>,
    /// What the TLS listeners present; a reload replaces it.
    certificate_slot: Option<Arc<CertificateSlot>>,
    /// The configuration the server runs with: a reload says what differs from it. Boxed,
    /// like the exporter: it is large, and a `Server` is moved whole.
    config: Box<Config>,
    pub front_end: Arc<FrontEnd>,
    pub groupchat: Arc<GroupChat>,
    pub store: Store,
    /// This node's part in forwarding between pool nodes, when it is one.
    forwarder: Option<Arc<Forwarder>>,
    /// The file service, when the HTTPS listener is on.
    files: Option<Files>,
    /// The room-management application, when the HTTPS listener is on.
    manage: Option<Manage>,
    connections: Arc<Connections>,
    output_backlog: OutputBacklog,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// Where the HTTPS listener runs; dropped after its task has ended.
    web_runtime: Option<LowPriorityRuntime>,
    /// The compliance exporter, when `compliance.enabled`: it runs once more at shutdown.
    /// Boxed: a `Server` is moved around whole (a benchmark keeps one in an enum).
    exporter: Option<Box<compliance::Background>>,
    /// The data directory's lock, held until the server is shut down and dropped.
    lock: LockFile,
    /// This server's row in the pool's node registry, removed at shutdown.
    membership: Arc<pool::Membership>,
}

impl Server {
    pub async fn start(config: Config, options: Options) -> Result<Server, StartError> {
        config.validate()?;
        installation::create_dir(&config)?;
        // Before the database is opened: a second server must not migrate it, nor record
        // an identity, under the first.
        let lock = installation::lock(&config)?;
        let (mut store, key) = installation::open(&config, Access::Create).await?;
        // Before the store is handed out: every join and part is recorded as this node's.
        let node_id = parlance_store::new_guid();
        store.set_node(&node_id);
        // A SQLite file is this server's alone (the data directory's lock).
        let exclusive = matches!(store, Store::Sqlite(_));
        let others = pool::admit(&store, &config, exclusive).await?;
        let exporter = match config.compliance.enabled {
            true => Some(Box::new(
                compliance::Background::start(&config, &key, options.clock.clone()).await?,
            )),
            false => None,
        };
        store.set_search_time_limit(Duration::from_millis(config.chat.search_time_limit_ms));
        // SIP over TLS and HTTPS present the same certificate.
        let certificate = match config.sip.tls_listen.is_some() || config.web.listen.is_some() {
            true => Some(tls::Certificate::for_config(&config)?),
            false => None,
        };
        let slot = certificate.as_ref().map(CertificateSlot::new);
        let sip_tls = match (&slot, config.sip.tls_listen) {
            (Some(slot), Some(_)) => Some(slot.server_config(&[])?),
            _ => None,
        };
        let metrics = Metrics::new();
        // The connections count themselves in it while they have output queued, and the
        // chat dialogs while their deliveries await answers; file transfers wait for it to
        // empty.
        let output_backlog = OutputBacklog::new();
        // Bound early: the file service's URL names the port.
        let web = match &slot {
            Some(slot) => {
                // Uploads in progress on live nodes are theirs to finish.
                let discard = others.is_empty();
                let chat_first = ChatFirst::new(
                    output_backlog.clone(),
                    options.clock.clone(),
                    Duration::from_millis(config.files.yield_to_chat_ms),
                    metrics.file_transfer_waits.clone(),
                    metrics.file_transfer_waits_at_limit.clone(),
                );
                let clock = options.clock.clone();
                prepare_web(&config, slot, &store, &key, discard, clock, chat_first).await?
            }
            None => None,
        };
        let purger = retention::Purger::new(
            store.clone(),
            open_file_store(&config, &key).await?,
            options.clock.clone(),
            config.retention.step,
        );
        // Before anyone can connect: every later admin change may concern a live session.
        let changes_seen = store.last_access_change().await?;
        let listeners = transport::bind_listeners(&config.sip, sip_tls).await?;
        let admin = match config.admin.listen {
            Some(addr) => Some(listen("admin (HTTP)", addr).await?),
            None => None,
        };
        let membership = Arc::new(
            pool::Membership::join(
                store.clone(),
                node_row(&config, node_id.clone(), &listeners, web.as_ref())?,
                config.pool.clone(),
            )
            .await?,
        );
        let singletons = membership.singletons();
        let (bus, incoming) = match &config.bus.url {
            Some(url) => {
                let (bus, incoming) = Bus::connect(url, &config.domain, &node_id).await?;
                tracing::info!(node = %node_id, bus = %url, "a node of a pool");
                (bus, Some(incoming))
            }
            None => (Bus::Local, None),
        };
        let trusted = Networks::new(config.trusted_networks()?);
        let external = Networks::new(config.external_networks()?);
        if !trusted.is_empty() {
            tracing::warn!(
                networks = ?config.auth.trusted_networks,
                "trusted_networks is on: REGISTERs from these networks are accepted WITHOUT authentication"
            );
        }
        let auth = DigestAuth::new(
            config.realm(),
            config.digest_algorithms()?,
            config.auth.nonce_lifetime_secs,
            options.clock.clone(),
        );
        let throttle = Arc::new(Throttle::new(
            ThrottleLimits {
                per_account_address: config.auth.max_failures_per_account_address,
                per_address: config.auth.max_failures_per_address,
                first_delay_secs: config.auth.failure_delay_secs,
                max_delay_secs: config.auth.max_failure_delay_secs,
                window_secs: config.auth.failure_window_secs,
            },
            options.clock.clone(),
            metrics.auth_failures.clone(),
        ));
        // The room-management application's URL names the HTTPS port, known once bound.
        let https_port = match &web {
            Some(web) => Some(web.listener.local_addr().map_err(StartError::Serve)?.port()),
            None => None,
        };
        let provisioning = Provisioning {
            pool_uri: config.pool_uri(),
            web_manager_internal: config.web_manager_url(https_port),
            web_manager_external: config.chat.web_manager_url_external.clone(),
        };
        let connections = Arc::new(Connections::new(
            metrics.write_queue_drops.clone(),
            output_backlog.clone(),
        ));
        // A node of a pool forwards requests for what other nodes reach over the bus's NATS.
        let forwarder = match bus.client().cloned() {
            Some(nats) => Some(
                Forwarder::join(
                    nats,
                    node_id.clone(),
                    connections.clone(),
                    config.sip.message_limits(),
                    config.sip.write_queue_bytes,
                )
                .await?,
            ),
            None => None,
        };
        let proxy = Arc::new(Proxy::new(
            connections.clone(),
            options.clock.clone(),
            forwarder.as_ref().map(|_| node_id.clone()),
        ));
        let chat_settings = chat_settings(
            &config,
            web.as_ref().map(|w| w.file_settings.clone()),
            WebTicketKey::new(&key.derive_key(WEB_TICKET_PURPOSE)),
            &provisioning,
            metrics.clone(),
        );
        let groupchat = start_groupchat(
            &config,
            store.clone(),
            options.clock.clone(),
            chat_settings,
            bus,
            membership.lookup(),
            output_backlog.clone(),
        )
        .await?;
        let settings = FrontEndSettings {
            domain: config.domain.clone(),
            keep_alive_secs: config.sip.keep_alive_secs,
            provisioning,
            trusted,
            external,
            max_pending_per_connection: config.sip.max_pending_per_connection,
        };
        let chat_uris = vec![config.pool_uri(), config.channel_uri()];
        let ntlm = match config.auth.ntlm {
            true => {
                let targetname = config
                    .auth
                    .ntlm_targetname
                    .clone()
                    .unwrap_or_else(|| config.domain.clone());
                let ntlm_config = sipae::ServerConfig::new(&targetname, &config.domain);
                Some(
                    Ntlm::new(ntlm_config, store.clone(), key.clone(), &config.domain)
                        .map_err(|e| config::ConfigError::Invalid(format!("NTLM: {e}")))?,
                )
            }
            false => None,
        };
        let mut registrar = Registrar::new(config.registrar.clone(), options.clock.clone());
        if let Some(forwarder) = &forwarder {
            registrar = registrar.announce_to(forwarder.clone());
        }
        let mut front_end = FrontEnd::new(
            settings,
            store.clone(),
            key,
            (auth, ntlm, throttle.clone()),
            registrar,
            proxy,
            vec![(chat_uris, groupchat.clone() as Arc<dyn Endpoint>)],
        );
        if let Some(forwarder) = &forwarder {
            front_end = front_end.in_pool(forwarder.clone());
            // This node's services are reachable from the others before anyone connects.
            forwarder.announce().await;
        }
        let front_end = Arc::new(front_end);
        let manage = web.as_ref().map(|_| {
            Manage::new(
                groupchat.chat().clone(),
                store.clone(),
                throttle,
                &config.domain,
                SessionLimits {
                    idle: Duration::from_secs(config.manage.session_idle_secs),
                    absolute: Duration::from_secs(config.manage.session_max_secs),
                    max_sessions: config.manage.max_sessions,
                },
                options.clock.clone(),
            )
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (tcp_addr, tls_addr) = (listeners.tcp_addr(), listeners.tls_addr());
        let serve = tokio::spawn(listeners.serve(
            config.sip.clone(),
            connections.clone(),
            front_end.clone(),
            options.clock.clone(),
            shutdown_rx.clone(),
        ));
        let changes = tokio::spawn(access::follow(
            store.clone(),
            front_end.clone(),
            groupchat.clone(),
            manage.clone(),
            changes_seen,
            Duration::from_millis(config.admin_changes_poll_ms),
            shutdown_rx.clone(),
        ));
        let retention = tokio::spawn(retention::follow(
            purger,
            Duration::from_secs(config.retention.interval_secs),
            shutdown_rx.clone(),
        ));
        let signed_in = tokio::spawn(signed_in::follow(
            store.clone(),
            connections.clone(),
            Duration::from_millis(config.admin_changes_poll_ms),
            shutdown_rx.clone(),
        ));
        let heartbeat = tokio::spawn(membership.clone().run(
            pool::Watchers {
                connections: connections.clone(),
                groupchat: groupchat.clone(),
                forwarder: forwarder.clone(),
                node_gone: options.node_gone,
            },
            shutdown_rx.clone(),
        ));
        let mut listening = vec![("SIP", serve.abort_handle())];
        let mut tasks = vec![serve, changes, retention, signed_in, heartbeat];
        if let Some(incoming) = incoming {
            tasks.push(tokio::spawn(relay::follow(
                groupchat.chat().clone(),
                incoming,
                Duration::from_millis(config.bus.repair_interval_ms),
                shutdown_rx.clone(),
            )));
        }
        if let Some(forwarder) = &forwarder {
            tasks.push(tokio::spawn(
                forwarder
                    .clone()
                    .serve(front_end.clone(), shutdown_rx.clone()),
            ));
        }
        let (https_addr, files, web_runtime) = match web {
            Some(web) => {
                let addr = web.listener.local_addr().map_err(StartError::Serve)?;
                let runtime = LowPriorityRuntime::new(
                    "parlance-https",
                    config.web.threads,
                    config.web.priority,
                )
                .map_err(StartError::Runtime)?;
                // The listening socket was bound here; it is registered with the runtime
                // that polls it.
                let listener = web.listener.into_std().map_err(StartError::Serve)?;
                let routes = match &manage {
                    Some(manage) => web.files.routes().merge(manage.routes()),
                    None => web.files.routes(),
                };
                let (tls, routes, settings, clock, shutdown) = (
                    web.tls,
                    routes,
                    web_settings(&config),
                    options.clock.clone(),
                    shutdown_rx.clone(),
                );
                let task = runtime.spawn(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => {
                            parlance_web::serve(listener, tls, routes, settings, clock, shutdown)
                                .await
                        }
                        Err(e) => tracing::error!(error = %e, "the HTTPS listener cannot start"),
                    }
                });
                listening.push(("HTTPS", task.abort_handle()));
                tasks.push(task);
                (Some(addr), Some(web.files), Some(runtime))
            }
            None => (None, None, None),
        };
        if let Some(background) = &exporter {
            tasks.push(background.spawn(compliance::run_periodically(
                Exporter::clone(background.exporter()),
                singletons.clone(),
                Duration::from_secs(config.compliance.interval_secs),
                shutdown_rx.clone(),
            )));
        }
        let admin_addr = match admin {
            Some(listener) => {
                let addr = listener.local_addr().map_err(StartError::Serve)?;
                let observer = Arc::new(Observer {
                    metrics: metrics.clone(),
                    store: store.clone(),
                    connections: connections.clone(),
                    front_end: front_end.clone(),
                    groupchat: groupchat.clone(),
                    listeners: listening,
                });
                tasks.push(tokio::spawn(parlance_web::admin::serve_admin(
                    listener,
                    observer,
                    config.admin.max_connections,
                    shutdown_rx.clone(),
                )));
                Some(addr)
            }
            None => None,
        };
        tasks.push(tokio::spawn(sweep(
            front_end.clone(),
            groupchat.clone(),
            files.clone().map(|files| (files, singletons.clone())),
            manage.clone(),
            shutdown_rx,
        )));
        Ok(Server {
            forwarder,
            tcp_addr,
            tls_addr,
            https_addr,
            admin_addr,
            certificate: certificate.map(|c| c.info),
            certificate_slot: slot,
            config: Box::new(config),
            files,
            manage,
            front_end,
            groupchat,
            store,
            connections,
            output_backlog,
            shutdown,
            tasks,
            web_runtime,
            exporter,
            lock,
            membership,
        })
    }

    /// This server's node id in the pool's registry: a UUID made at each start.
    pub fn node_id(&self) -> &str {
        self.membership.node_id()
    }

    /// Runs the periodic housekeeping now, rather than at the next tick: a test that has
    /// advanced the [`Clock`] sees at once what expired.
    pub async fn sweep(&self) {
        let singletons = self.membership.singletons();
        housekeeping(
            &self.front_end,
            &self.groupchat,
            self.files.as_ref().map(|files| (files, &singletons)),
            self.manage.as_ref(),
        )
        .await;
    }

    /// Signed-in sessions of the room-management application.
    pub fn manage_sessions(&self) -> usize {
        self.manage.as_ref().map_or(0, Manage::sessions)
    }

    pub fn open_connections(&self) -> usize {
        self.connections.len()
    }

    /// The connections with output queued and not yet written, which file transfers give
    /// way to.
    pub fn output_backlog(&self) -> &OutputBacklog {
        &self.output_backlog
    }

    /// Another node of the pool was declared dead: the sessions of its clients that this
    /// node served end here, as if their connections had closed. Returns how many flows
    /// were closed (none on a single server).
    pub fn node_dead(&self, node_id: &str) -> usize {
        self.forwarder
            .as_ref()
            .map_or(0, |forwarder| forwarder.node_dead(node_id))
    }

    /// Stops accepting, closes every SIP connection after its queued answers, lets HTTPS
    /// requests in progress finish, and waits.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        drop(self.web_runtime);
        // Sessions whose connections did not finish closing in time end here, so that their
        // departures reach the compliance outbox before the store closes.
        self.groupchat.close_all().await;
        // In a pool the other nodes hear of those departures now, rather than when they
        // find this node gone from the registry: its members leave their rosters with
        // part notices. Past a node timeout they would find it dead anyway.
        if tokio::time::timeout(
            self.config.pool.node_timeout(),
            self.groupchat.chat().flush_relay(),
        )
        .await
        .is_err()
        {
            tracing::warn!("the last parts were not all relayed to the pool: NATS is away");
        }
        // The last run archives those departures too (unless another node's export runs:
        // its next run does).
        if let Some(background) = &self.exporter {
            compliance::run_once(background.exporter(), &self.membership.singletons()).await;
            background.close().await;
        }
        self.membership.leave().await;
        self.store.close().await;
        // Only once the database is closed may another server take the data directory.
        drop(self.lock);
    }
}

/// The persistent chat service: the core, and the SIP dialogs through which it is reached.
async fn start_groupchat(
    config: &Config,
    store: Store,
    clock: Clock,
    settings: ChatSettings,
    bus: Bus,
    lookup: Arc<pool::Lookup>,
    backlog: OutputBacklog,
) -> Result<Arc<GroupChat>, StartError> {
    let (dialogs, failures) = Dialogs::new(
        clock.clone(),
        Duration::from_secs(config.chat.session_expires_secs),
        config.chat.max_sessions_per_user,
        backlog,
    );
    let chat = ChatService::new(store, settings, dialogs.clone(), clock).await?;
    let chat = Arc::new(chat.with_bus(bus).with_lookup(lookup));
    let external = Networks::new(config.external_networks()?);
    Ok(GroupChat::start(chat, dialogs, failures, external))
}

/// The chat core's settings, from `[chat]` and `[sip]`, and what the HTTPS side lends it.
fn chat_settings(
    config: &Config,
    files: Option<FileSettings>,
    web_ticket_key: WebTicketKey,
    provisioning: &Provisioning,
    metrics: Metrics,
) -> ChatSettings {
    ChatSettings {
        domain: config.domain.clone(),
        channel_uri: config.channel_uri(),
        search_limit: config.chat.search_limit,
        chat_limits: xccos::ChatSizeLimits {
            message_bytes: config.chat.message_size_limit as usize,
            story_bytes: config.chat.story_size_limit as usize,
        },
        history_default: config.chat.history_default,
        history_max: config.chat.history_max,
        participant_update_limit: config.chat.participant_update_limit as usize,
        room_management_url: provisioning.web_manager_url(false).map(str::to_owned),
        room_management_url_external: provisioning.web_manager_url(true).map(str::to_owned),
        xccos_limits: xccos::Limits {
            max_body_bytes: config.sip.max_body_bytes,
            ..xccos::Limits::default()
        },
        preference_quota_bytes: config.chat.preference_quota_bytes,
        // Parlance's client accepts bodies up to the XCCOS default; a server that accepts
        // larger ones still sends none.
        max_output_body_bytes: config
            .sip
            .max_body_bytes
            .min(xccos::Limits::default().max_body_bytes),
        search: SearchLimits {
            max_bytes: config.chat.search_max_bytes,
            max_terms: config.chat.search_max_terms,
            burst: config.chat.search_burst,
            per_minute: config.chat.searches_per_minute,
        },
        files,
        web_ticket_key,
        metrics,
    }
}

/// The HTTPS listener, bound, and the file service it is to serve.
struct Web {
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    files: Files,
    file_settings: FileSettings,
}

/// Binds the HTTPS listener and opens the file store, unless `[web]` says the listener is
/// off. With `discard`, uploads an earlier run left in progress are forgotten here, their
/// partial files and their rows, before any new upload can start. Transfers give way to
/// the chat through `chat_first`.
async fn prepare_web(
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

/// This node's row as it joins the pool: its channel URI and listeners' addresses.
fn node_row(
    config: &Config,
    id: String,
    listeners: &transport::Listeners,
    web: Option<&Web>,
) -> Result<Node, StartError> {
    let now = pool::unix_ms();
    let sip = [listeners.tls_addr(), listeners.tcp_addr()];
    let https = match web {
        Some(web) => Some(web.listener.local_addr().map_err(StartError::Serve)?),
        None => None,
    };
    Ok(Node {
        id,
        channel_uri: config.channel_uri(),
        sip_address: sip
            .iter()
            .flatten()
            .map(SocketAddr::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        https_address: https.map(|a| a.to_string()).unwrap_or_default(),
        started_at: now,
        heartbeat_at: now,
        load: Load::default(),
    })
}

/// What the file store's key is derived for from the server key: changing it makes every
/// stored file unreadable.
const FILE_STORE_KEY: &str = "parlance files v1";

/// Opens the file store as `config` says, with its key derived from the server key. Opening
/// touches no upload in progress, so administration commands use it while the server runs.
pub async fn open_file_store(config: &Config, key: &ServerKey) -> Result<FileStore, StartError> {
    Ok(FileStore::open_local(&config.files_dir(), key.derive_key(FILE_STORE_KEY)).await?)
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

/// Runs [`housekeeping`] every few seconds until shutdown.
async fn sweep(
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
async fn housekeeping(
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
