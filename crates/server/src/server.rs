//! A server: what [`Server::start`] sets up from the configuration, in the order each part
//! needs the others, what a running server answers about itself, and its orderly shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parlance_bus::Bus;
use parlance_chat::backlog::OutputBacklog;
use parlance_chat::manage::{WEB_TICKET_PURPOSE, WebTicketKey};
use parlance_clock::Clock;
use parlance_compliance::Exporter;
use parlance_metrics::Metrics;
use parlance_store::nodes::{Load, Node};
use parlance_store::{LockFile, Store};
use parlance_web::files::Files;
use parlance_web::manage::{Manage, SessionLimits};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::forward::Forwarder;
use crate::frontend::networks::Networks;
use crate::frontend::provisioning::Provisioning;
use crate::frontend::proxy::Proxy;
use crate::frontend::registrar::Registrar;
use crate::frontend::{FrontEnd, FrontEndSettings};
use crate::groupchat::GroupChat;
use crate::installation::Access;
use crate::observe::Observer;
use crate::runtime::LowPriorityRuntime;
use crate::tls::{CertificateInfo, CertificateSlot};
use crate::transport::{self, Connections, listen};
use crate::web::{self, Web};
use crate::{
    StartError, access, auth, chat_setup, compliance, housekeeping, installation, open_file_store,
    pool, relay, retention, signed_in, tls,
};

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
    pub(crate) certificate_slot: Option<Arc<CertificateSlot>>,
    /// The configuration the server runs with: a reload says what differs from it. Boxed,
    /// like the exporter: it is large, and a `Server` is moved whole.
    pub(crate) config: Box<Config>,
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
                let chat_first =
                    web::chat_first(&config, &output_backlog, options.clock.clone(), &metrics);
                let clock = options.clock.clone();
                web::prepare_web(&config, slot, &store, &key, discard, clock, chat_first).await?
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
        let auth = auth::digest(&config, options.clock.clone())?;
        let throttle = auth::throttle(&config, options.clock.clone(), &metrics);
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
        let chat_settings = chat_setup::chat_settings(
            &config,
            web.as_ref().map(|w| w.file_settings.clone()),
            WebTicketKey::new(&key.derive_key(WEB_TICKET_PURPOSE)),
            &provisioning,
            metrics.clone(),
        );
        let groupchat = chat_setup::start_groupchat(
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
        let ntlm = auth::ntlm(&config, &store, &key)?;
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
                let https = web.serve(
                    manage.as_ref(),
                    &config,
                    options.clock.clone(),
                    shutdown_rx.clone(),
                )?;
                listening.push(("HTTPS", https.task.abort_handle()));
                tasks.push(https.task);
                (Some(https.addr), Some(https.files), Some(https.runtime))
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
        tasks.push(tokio::spawn(housekeeping::sweep(
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
        housekeeping::housekeeping(
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
