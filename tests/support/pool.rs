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
}

impl Pool {
    pub async fn start(nodes: usize) -> Pool {
        Pool::start_each(nodes, |_, _| {}).await
    }

    /// Like [`Pool::start`], with `tweak(i, config)` applied to node `i`'s configuration.
    /// Every node has a channel URI of its own ([`channel_uri`]), as in a real pool.
    pub async fn start_each(nodes: usize, tweak: impl Fn(usize, &mut Config)) -> Pool {
        let nats = Nats::start();
        let database = postgres::fresh_database().await;
        // The pool's file share, as every node of a pool must have.
        let files = crate::temp_dir();
        let pooled = |i: usize, c: &mut Config| {
            c.files.dir = Some(files.clone());
            c.store.url = Some(database.clone());
            c.bus.url = Some(nats.url());
            c.bus.repair_interval_ms = REPAIR_INTERVAL_MS;
            c.chat.channel_uri = Some(channel_uri(i));
            tweak(i, c);
        };
        let first = TestServer::start_with(|c| pooled(0, c)).await;
        let mut started = vec![first];
        for i in 1..nodes {
            let node = TestServer::start_beside(&started[0], |c| pooled(i, c)).await;
            started.push(node);
        }
        Pool {
            nats,
            database,
            nodes: started,
        }
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
