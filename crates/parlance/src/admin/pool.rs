//! `parlance pool status`: the servers of the pool as the store's node registry shows them,
//! with their load and how long ago each last beat; a node silent longer than
//! `pool.node_timeout_ms` is marked dead (a live node removes it within a heartbeat or
//! two). Also the singleton leases held now.

use clap::Subcommand;
use parlance_server::config::Config;
use parlance_server::pool::unix_ms;
use parlance_store::nodes::Node;

#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// List the nodes: id, live or DEAD, channel URI, SIP and HTTPS addresses, load
    /// (joined endpoints, connections, CPU, bytes queued), heartbeat age, start (UTC);
    /// then the leases held.
    Status,
}

pub async fn run(config: Config, cmd: PoolCommand) -> anyhow::Result<()> {
    let (store, _) = super::open(&config).await?;
    match cmd {
        PoolCommand::Status => {
            let now = unix_ms();
            let stale_before = now - config.pool.node_timeout_ms as i64;
            let nodes = store.nodes().await?;
            if nodes.is_empty() {
                println!("no server is running on this store");
            }
            for node in &nodes {
                println!("{}", node_line(node, now, stale_before));
            }
            for lease in store.leases().await?.iter().filter(|l| l.expires_at > now) {
                println!(
                    "lease {}\theld by {}\tfor {:.1} s more",
                    lease.name,
                    lease.holder,
                    (lease.expires_at - now) as f64 / 1000.0
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

fn node_line(node: &Node, now: i64, stale_before: i64) -> String {
    let load = &node.load;
    format!(
        "{}\t{}\t{}\tsip {}\thttps {}\t{} joined, {} connections, cpu {}.{}%, {} bytes queued\theartbeat {:.1} s ago\tsince {}",
        node.id,
        if node.is_live(stale_before) {
            "live"
        } else {
            "DEAD"
        },
        node.channel_uri,
        or_dash(&node.sip_address),
        or_dash(&node.https_address),
        load.joined,
        load.connections,
        load.cpu_permille / 10,
        load.cpu_permille % 10,
        load.queued_bytes,
        (now - node.heartbeat_at).max(0) as f64 / 1000.0,
        super::utc(node.started_at / 1000),
    )
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}
