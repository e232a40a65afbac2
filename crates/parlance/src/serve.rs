//! `parlance serve`.

use std::net::SocketAddr;

use clap::Args;
use parlance_server::config::Config;
use parlance_server::{Options, Server};

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

pub async fn run(mut config: Config, args: ServeArgs) -> anyhow::Result<()> {
    if let Some(tcp) = args.sip_tcp {
        config.sip.tcp_listen = tcp.0;
    }
    if let Some(tls) = args.sip_tls {
        config.sip.tls_listen = tls.0;
    }
    if let Some(https) = args.https {
        config.web.listen = https.0;
    }
    config.auth.trusted_networks.extend(args.trusted_networks);
    let server = Server::start(config.clone(), Options::default()).await?;
    banner(&config, &server).await;
    wait_for_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
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
            "  1. Add a user:   parlance user add alice@{}",
            config.domain
        );
        println!(
            "  2. Connect a SIP client as alice@{} to this host, port 5061 (TLS) or 5060 (TCP).",
            config.domain
        );
        println!("     pidgin-sipe: see README.md, \"Connecting pidgin-sipe\".");
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
