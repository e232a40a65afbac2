//! Who takes part: accounts and rooms written straight into the server's store before it
//! starts, and clients of the client library signed in and joined, many at a time.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parlance_client::{Client, ClientConfig, Events, Reconnect, Transport, Trust};
use parlance_server::config::Config;
use parlance_server::installation::{self, Access};
use parlance_store::Store;
use parlance_store::rooms::{Behavior, NewCategory, NewRoom, Privacy, Room};
use tokio::sync::Semaphore;

use crate::error::BenchError;
use crate::target::{DOMAIN, Target, bench_config};
use crate::{Env, wire};

/// Accounts created per transaction.
const USERS_PER_BATCH: usize = 5000;
/// Clients signing in at the same time.
const CONNECTING_AT_ONCE: usize = 64;

/// Opens the store of the data directory the server will use, creating the installation as
/// `parlance init` does: the accounts go in before the server starts.
pub async fn open_store(data_dir: &Path) -> Result<Store, BenchError> {
    open_installation(&bench_config(data_dir)).await
}

/// [`open_store`] for a server configured as `config` says (its store may be PostgreSQL).
pub async fn open_installation(config: &Config) -> Result<Store, BenchError> {
    let (store, _key) = installation::open(config, Access::Create)
        .await
        .map_err(parlance_server::StartError::from)?;
    Ok(store)
}

/// `prefix0@DOMAIN` … as passwordless accounts (they sign in from loopback only).
pub async fn add_users(
    store: &Store,
    prefix: &str,
    count: usize,
) -> Result<Vec<String>, BenchError> {
    let accounts: Vec<String> = (0..count)
        .map(|i| format!("{prefix}{i}@{DOMAIN}"))
        .collect();
    for chunk in accounts.chunks(USERS_PER_BATCH) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        store.add_users_without_password(&refs).await?;
    }
    Ok(accounts)
}

/// An open room in the `Bench` category; returns it and its `ma-chan:` URI.
pub async fn add_room(store: &Store, name: &str) -> Result<(Room, String), BenchError> {
    let category = match store.find_category("Bench").await? {
        Some(c) => c,
        None => {
            let root = store.root_category().await?;
            let new = NewCategory {
                parent_id: root.id,
                name: "Bench",
                description: "parlance bench",
                file_post: true,
                invitations: true,
                logged: true,
            };
            store.add_category(&new).await?
        }
    };
    let new = NewRoom {
        category_id: category.id,
        name,
        description: "parlance bench",
        topic: "",
        privacy: Privacy::Open,
        behavior: Behavior::Normal,
        invitations: true,
    };
    let room = store.add_room(&new).await?;
    let uri = format!("ma-chan://{DOMAIN}/{}", room.guid);
    Ok((room, uri))
}

/// Client settings for `account` against `target`, connecting from `from`: no password
/// (trusted network), the least join history, and no reconnecting (a lost client is a
/// failed run, not a retry).
pub fn client_config(
    target: &Target,
    tcp: bool,
    account: &str,
    from: IpAddr,
) -> Result<ClientConfig, BenchError> {
    let (server, transport) = match tcp {
        true => (target.tcp_addr, Transport::Tcp),
        false => (
            target.tls_addr,
            Transport::Tls(Trust::ca_file(&target.cert_path())?),
        ),
    };
    let mut config = ClientConfig::new(server.to_string(), account, "", transport);
    config.join_history = 1;
    config.local_address = Some(from);
    // Every join sends a roster notice to every member already in the room, so the joins
    // of a large room queue behind each other: setup may be slow, and must not fail for it.
    config.request_timeout = Duration::from_secs(300);
    // For the same reason a keep-alive OPTIONS may wait behind those joins: only an
    // unanswered request, never a slow ping, counts as a lost server here.
    config.ping_timeout = config.request_timeout;
    config.reconnect = Reconnect {
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(1),
        max_attempts: Some(0),
    };
    Ok(config)
}

/// Signs in every account (the `i`-th from the `i`-th of `env.sources` loopback
/// addresses) and joins it to the rooms `rooms(i)` names; returns the clients in account
/// order and how long it took.
pub async fn connect_and_join(
    target: &Target,
    env: &Env,
    accounts: &[String],
    rooms: impl Fn(usize) -> Vec<String>,
) -> Result<(Vec<(Client, Events)>, Duration), BenchError> {
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let mut tasks = Vec::with_capacity(accounts.len());
    for (i, account) in accounts.iter().enumerate() {
        let config = client_config(target, env.tcp, account, wire::source(i, env.sources))?;
        let (permits, rooms) = (permits.clone(), rooms(i));
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            let (client, events) = Client::connect(config).await?;
            match rooms.as_slice() {
                [] => {}
                [one] => drop(client.join(one).await?),
                many => {
                    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
                    let joined = client.join_many(&refs).await?;
                    if !joined.failed.is_empty() {
                        return Err(BenchError::Failed(format!(
                            "{} could not join {:?}",
                            client.user(),
                            joined.failed
                        )));
                    }
                }
            }
            Ok::<_, BenchError>((client, events))
        }));
    }
    let mut clients = Vec::with_capacity(tasks.len());
    for t in tasks {
        clients.push(
            t.await
                .map_err(|e| BenchError::Failed(format!("a client task failed: {e}")))??,
        );
    }
    Ok((clients, started.elapsed()))
}
