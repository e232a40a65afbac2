//! A pool for tests: nodes in one process, each with its own data directory and listeners
//! on 127.0.0.1, sharing a private PostgreSQL database and a private NATS server
//! (crates/testkit).

use parlance_testkit::nats::Nats;
use parlance_testkit::postgres;

use parlance_server::config::Config;

use crate::{DOMAIN, TestServer};

/// Node `i`'s own channel URI.
pub fn channel_uri(i: usize) -> String {
    format!("sip:chatsrv-{i}@{DOMAIN}")
}

/// How often the nodes look for gaps the relay left: short, so that a test converges fast.
const REPAIR_INTERVAL_MS: u64 = 300;

#[allow(missing_debug_implementations)]
pub struct Pool {
    pub nats: Nats,
    pub database: String,
    pub nodes: Vec<TestServer>,
    /// The pool's file share, as every node of a pool must have.
    files: std::path::PathBuf,
}

impl Pool {
    pub async fn start(nodes: usize) -> Pool {
        Pool::start_each(nodes, |_, _| {}).await
    }

    /// Like [`Pool::start`], with `tweak(i, config)` applied to node `i`'s configuration.
    /// Every node has a channel URI of its own ([`channel_uri`]), as in a real pool.
    pub async fn start_each(nodes: usize, tweak: impl Fn(usize, &mut Config)) -> Pool {
        let mut pool = Pool {
            nats: Nats::start(),
            database: postgres::fresh_database().await,
            nodes: Vec::new(),
            files: crate::temp_dir(),
        };
        for _ in 0..nodes {
            pool.add_node(&tweak).await;
        }
        pool
    }

    /// Starts one more node (node `i`, the next number), with `tweak(i, config)` applied.
    pub async fn add_node(&mut self, tweak: impl Fn(usize, &mut Config)) -> &TestServer {
        let i = self.nodes.len();
        let pooled = |c: &mut Config| {
            c.files.dir = Some(self.files.clone());
            c.store.url = Some(self.database.clone());
            c.bus.url = Some(self.nats.url());
            c.bus.repair_interval_ms = REPAIR_INTERVAL_MS;
            c.chat.channel_uri = Some(channel_uri(i));
            tweak(i, c);
        };
        let node = match self.nodes.first() {
            None => TestServer::start_with(pooled).await,
            Some(first) => TestServer::start_beside(first, pooled).await,
        };
        self.nodes.push(node);
        &self.nodes[i]
    }

    pub fn node(&self, i: usize) -> &TestServer {
        &self.nodes[i]
    }

    /// Stops every node, then drops the database.
    pub async fn shutdown(mut self) {
        for node in &mut self.nodes {
            node.shutdown().await;
        }
        postgres::drop_database(&self.database).await;
    }
}
