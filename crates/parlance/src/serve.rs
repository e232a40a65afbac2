//! `parlance serve`.

use std::net::SocketAddr;

use clap::Args;
use parlance_server::config::Config;
use parlance_server::{Options, Server};

use crate::cli::Common;
use crate::logging::Logging;
use crate::notify::notify;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// SIP over TCP listen address, or "off".
    #[arg(long, value_parser = parse_listen)]
    sip_tcp: Option<Listen>,
    /// SIP over TLS listen address, or "off".
    #[arg(long, value_parser = parse_listen)]
    sip_tls: Option<Listen>,
    /// HTTPS (file posting) listen address, or "off".
    #[arg(long, value_parser = parse_listen)]
    https: Option<Listen>,
    /// Admin HTTP (health and metrics) listen address, or "off".
    #[arg(long, value_parser = parse_listen)]
    admin: Option<Listen>,
    /// The pool's NATS server (`nats://host:4222`): run as a node of a pool; overrides the
    /// file's `bus.url`.
    #[arg(long, value_name = "URL", env = "PARLANCE_BUS")]
    bus: Option<String>,
    /// Accept REGISTER without authentication from this network (CIDR); repeatable.
    #[arg(long = "trusted-network", value_name = "CIDR")]
    trusted_networks: Vec<String>,
}

/// A listen address given on the command line, or "off".
#[derive(Debug, Clone, Copy)]
struct Listen(Option<SocketAddr>);

fn parse_listen(s: &str) -> Result<Listen, String> {
    if s.is_empty() || s == "off" {
        return Ok(Listen(None));
    }
    s.parse()
        .map(|a| Listen(Some(a)))
        .map_err(|e| format!("{s:?}: {e} (use e.g. 0.0.0.0:5060, or \"off\")"))
}

pub async fn run(common: &Common, args: ServeArgs, logging: &Logging) -> anyhow::Result<()> {
    let config = configure(common, &args)?;
    logging.apply(&config.log.level);
    // Before anything starts: from here on SIGHUP reloads instead of ending the process.
    let mut signals = Signals::new()?;
    let mut server = Server::start(config.clone(), Options::default()).await?;
    banner(&config, &server).await;
    notify("READY=1");
    while signals.next().await == Signal::Reload {
        reload(common, &args, &mut server, logging);
    }
    notify("STOPPING=1");
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// The configuration file with the command line's overrides.
fn configure(common: &Common, args: &ServeArgs) -> anyhow::Result<Config> {
    let mut config = common.config()?;
    if let Some(tcp) = args.sip_tcp {
        config.sip.tcp_listen = tcp.0;
    }
    if let Some(tls) = args.sip_tls {
        config.sip.tls_listen = tls.0;
    }
    if let Some(https) = args.https {
        config.web.listen = https.0;
    }
    if let Some(admin) = args.admin {
        config.admin.listen = admin.0;
    }
    if let Some(bus) = &args.bus {
        config.bus.url = Some(bus.clone());
    }
    config
        .auth
        .trusted_networks
        .extend(args.trusted_networks.iter().cloned());
    config.validate()?;
    Ok(config)
}

/// SIGHUP: reads the configuration again and applies what can change live; a refused one
/// leaves everything as it was.
fn reload(common: &Common, args: &ServeArgs, server: &mut Server, logging: &Logging) {
    tracing::info!("SIGHUP: reloading the configuration");
    let config = match configure(common, args) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "reload refused, nothing changed");
            return;
        }
    };
    let level = config.log.level.clone();
    match server.reload(config) {
        Ok(reloaded) => {
            if let Some(cert) = &reloaded.certificate {
                tracing::info!(certificate = %cert, "new TLS handshakes present the certificate read now");
            }
            if logging.apply(&level) {
                tracing::info!(level = %level, "log level changed");
            }
            if !reloaded.need_restart.is_empty() {
                tracing::warn!(
                    sections = ?reloaded.need_restart,
                    "these settings changed and apply at the next restart"
                );
            }
        }
        Err(e) => tracing::error!(error = %e, "reload refused, nothing changed"),
    }
}

async fn banner(config: &Config, server: &Server) {
    let users = server.store.users().await.map(|u| u.len()).unwrap_or(0);
    println!("Parlance {} is running.", env!("CARGO_PKG_VERSION"));
    println!("  domain        {}", config.domain);
    println!("  data          {}", config.data_dir.display());
    if let Some(addr) = server.tcp_addr {
        println!("  SIP over TCP  {addr}");
    }
    if let Some(addr) = server.tls_addr {
        println!("  SIP over TLS  {addr}");
    }
    if let Some(addr) = server.https_addr {
        println!("  HTTPS         {addr}");
        println!("  public URL    {}", config.public_url(addr.port()));
    }
    if let Some(addr) = server.admin_addr {
        println!("  health        http://{addr}/healthz, /readyz, /metrics");
    }
    if let Some(cert) = &server.certificate {
        let kind = if cert.self_signed {
            "self-signed"
        } else {
            "configured"
        };
        println!("  certificate   {} ({kind})", cert.cert_path.display());
    }
    println!("  chat pool     {}", config.pool_uri());
    if config.compliance.enabled {
        println!(
            "  compliance    {} (every {} s and at shutdown)",
            config.compliance_dir().display(),
            config.compliance.interval_secs
        );
    }
    if users == 0 {
        println!();
        println!("Next steps:");
        println!(
            "  1. Add a user:     parlance user add alice@{}",
            config.domain
        );
        println!("  2. Create a room:  parlance category add General");
        println!("                     parlance room add Lobby --category General");
        // The configuration keeps one SIP listener at least.
        let (port, transport, how) = match (server.tls_addr, &server.certificate, server.tcp_addr) {
            (Some(tls), Some(cert), _) => (
                tls.port(),
                "TLS",
                format!("--ca {}", cert.cert_path.display()),
            ),
            (_, _, Some(tcp)) => (tcp.port(), "TCP", "--tcp".into()),
            _ => (0, "none", String::new()),
        };
        println!(
            "  3. Chat:           parlance chat --server localhost:{port} --user alice@{} {how}",
            config.domain
        );
        println!(
            "     Or connect a SIP client as alice@{} to this host, port {port} ({transport}).",
            config.domain
        );
        println!("     pidgin-sipe: see README.md, \"Connecting pidgin-sipe\".");
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Signal {
    Stop,
    Reload,
}

/// SIGINT and SIGTERM stop the server; SIGHUP reloads.
struct Signals {
    term: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => Signal::Stop,
            _ = self.term.recv() => Signal::Stop,
            _ = self.hangup.recv() => Signal::Reload,
        }
    }
}
