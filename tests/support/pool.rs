//! A pool for tests: nodes in one process, each with its own data directory and listeners
//! on 127.0.0.1, sharing a private PostgreSQL database and a private NATS server
//! (crates/testkit).

use parlance_testkit::nats::Nats;
use parlance_testkit::postgres;

use crate::TestServer;

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
        let nats = Nats::start();
        let database = postgres::fresh_database().await;
        let (store, bus) = (database.clone(), nats.url());
        let pooled = move |c: &mut parlance_server::config::Config| {
            c.store.url = Some(store.clone());
            c.bus.url = Some(bus.clone());
            c.bus.repair_interval_ms = REPAIR_INTERVAL_MS;
        };
        let first = TestServer::start_with(pooled.clone()).await;
        let mut started = vec![first];
        for _ in 1..nodes {
            let node = TestServer::start_beside(&started[0], pooled.clone()).await;
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
