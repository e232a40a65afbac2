//! What a scenario measures: one server on SQLite (every scenario's default), one on
//! PostgreSQL and NATS, or a pool of three nodes sharing them. The scenario fills the store
//! through [`Prepared::store`] before any node starts, then drives the running nodes: its
//! `i`-th member connects to node `i mod nodes` ([`Running::addrs`]), so that in a pool
//! most of a room's members are on another node than the poster's.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use parlance_store::Store;

use crate::Env;
use crate::engines::Engines;
use crate::error::BenchError;
use crate::measure::{ProcSample, Sample};
use crate::population;
use crate::target::{DOMAIN, Placement, Target, Tuning};

/// Nodes of the pool deployment, on 127.0.0.1–3.
pub const POOL_NODES: u8 = 3;

/// The files every node of a pool holds alike: the installation's key, and here one
/// self-signed certificate made out to every node's address.
const SHARED_FILES: [&str; 3] = ["server.key", "tls-cert.pem", "tls-key.pem"];

/// How the server under test is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Deployment {
    /// One server, SQLite in its data directory.
    Sqlite,
    /// One server on PostgreSQL, a node of a pool of one on NATS.
    PostgresNats,
    /// Three nodes on 127.0.0.1–3 sharing PostgreSQL and NATS.
    ThreeNodes,
}

impl Deployment {
    pub fn describe(self) -> &'static str {
        match self {
            Deployment::Sqlite => "one node, SQLite",
            Deployment::PostgresNats => "one node, PostgreSQL + NATS",
            Deployment::ThreeNodes => "three nodes, PostgreSQL + NATS",
        }
    }

    pub fn nodes(self) -> u8 {
        match self {
            Deployment::Sqlite | Deployment::PostgresNats => 1,
            Deployment::ThreeNodes => POOL_NODES,
        }
    }
}

/// A deployment and the engines it runs on.
#[derive(Debug, Clone, Copy)]
pub struct System<'a> {
    pub deployment: Deployment,
    engines: Option<&'a Engines>,
}

impl<'a> System<'a> {
    /// One server on SQLite: what every scenario measures unless told otherwise.
    pub fn single() -> System<'static> {
        System {
            deployment: Deployment::Sqlite,
            engines: None,
        }
    }

    pub fn new(deployment: Deployment, engines: &'a Engines) -> System<'a> {
        System {
            deployment,
            engines: Some(engines),
        }
    }

    /// Makes the nodes' data directories (`what` names them) and the installation, in a
    /// fresh database where the store is PostgreSQL; the store stays open for the
    /// scenario's accounts and rooms.
    pub async fn prepare(self, env: &Env, what: &str) -> Result<Prepared<'a>, BenchError> {
        let engines = match (self.deployment, self.engines) {
            (Deployment::Sqlite, _) => None,
            (_, Some(engines)) => Some(engines),
            (_, None) => {
                return Err(BenchError::Failed(format!(
                    "{} needs PostgreSQL and NATS",
                    self.deployment.describe()
                )));
            }
        };
        let root = env.scratch(what)?;
        let database = match engines {
            Some(e) => Some(e.database().await?),
            None => None,
        };
        let nodes = self.deployment.nodes();
        let placements = (0..nodes)
            .map(|n| match engines {
                None => Placement::default(),
                Some(e) => Placement {
                    listen_ip: Some(Ipv4Addr::new(127, 0, 0, n + 1)),
                    store_url: database.clone(),
                    bus_url: Some(e.nats_url().to_owned()),
                    // Every node its own channel URI, as in a real pool.
                    channel_uri: (nodes > 1).then(|| format!("sip:chatsrv-{n}@{DOMAIN}")),
                    files_dir: Some(root.join("files")),
                },
            })
            .collect::<Vec<_>>();
        let dirs = (0..nodes)
            .map(|n| root.join(format!("node{n}")))
            .collect::<Vec<_>>();
        let store = population::open_installation(&placements[0].config(&dirs[0])).await?;
        Ok(Prepared {
            store,
            engines,
            root,
            dirs,
            placements,
            database,
        })
    }
}

/// Nodes ready to start, their store open for the scenario to fill.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub store: Store,
    engines: Option<&'a Engines>,
    /// Every node's data directory, and the pool's file share, are under it.
    root: PathBuf,
    dirs: Vec<PathBuf>,
    placements: Vec<Placement>,
    database: Option<String>,
}

impl<'a> Prepared<'a> {
    /// Closes the store and starts the nodes one after the other.
    pub async fn start(self, env: &Env) -> Result<Running<'a>, BenchError> {
        self.store.close().await;
        let first = &self.dirs[0];
        if self.dirs.len() > 1 {
            // Made now, in the first node's directory, and copied to the others.
            let config = self.placements[0].config(first);
            parlance_server::tls::Certificate::load(None, None, first, &config.tls.hostnames)
                .map_err(|e| BenchError::Tls(e.to_string()))?;
        }
        for dir in &self.dirs[1..] {
            std::fs::create_dir_all(dir)
                .map_err(BenchError::io(format!("creating {}", dir.display())))?;
            for file in SHARED_FILES {
                std::fs::copy(first.join(file), dir.join(file)).map_err(BenchError::io(
                    format!("copying {file} to {}", dir.display()),
                ))?;
            }
        }
        let mut nodes = Vec::with_capacity(self.dirs.len());
        for (dir, placement) in self.dirs.iter().zip(&self.placements) {
            let tuning = Tuning::default();
            nodes.push(
                Target::start_placed(dir, env.in_process, env.lifetime, tuning, placement).await?,
            );
        }
        Ok(Running {
            nodes,
            engines: self.engines,
            root: self.root,
            database: self.database,
        })
    }
}

/// The nodes of a deployment, running.
#[derive(Debug)]
pub struct Running<'a> {
    nodes: Vec<Target>,
    engines: Option<&'a Engines>,
    root: PathBuf,
    database: Option<String>,
}

impl Running<'_> {
    /// Where SIP clients connect, node by node: the `i`-th member goes to the
    /// `i mod len`-th.
    pub fn addrs(&self, tcp: bool) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.sip_addr(tcp)).collect()
    }

    /// The certificate every node presents.
    pub fn cert_path(&self) -> PathBuf {
        self.nodes[0].cert_path()
    }

    /// The only node, where the scenario drives a single server.
    pub fn single(&self) -> Result<&Target, BenchError> {
        match self.nodes.as_slice() {
            [one] => Ok(one),
            _ => Err(BenchError::Failed(
                "full members (the client library) are driven against one node only; \
                 use lean members for a pool"
                    .into(),
            )),
        }
    }

    /// The nodes' processes (each once: in-process nodes are all this process) and the
    /// engines', now.
    pub fn sample(&self) -> Sample {
        let pids: BTreeSet<u32> = self.nodes.iter().map(Target::pid).collect();
        let (postgres, nats) = self.engines.map_or((None, None), Engines::sample);
        Sample {
            server: ProcSample::sum(pids.into_iter().map(ProcSample::read)),
            postgres,
            nats,
        }
    }

    /// Stops the nodes, drops the database and removes the directories. The nodes stop
    /// together: one stopped before the others would be declared dead by them, and its
    /// sessions parted, while they are stopping themselves.
    pub async fn stop(self, env: &Env) {
        futures_util::future::join_all(self.nodes.into_iter().map(Target::stop)).await;
        if let (Some(engines), Some(database)) = (self.engines, &self.database) {
            engines.drop_database(database).await;
        }
        env.remove(&self.root);
    }
}
