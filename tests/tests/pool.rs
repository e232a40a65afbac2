//! Servers sharing one private PostgreSQL as a pool (docs/operations.md, "Pool nodes"): the
//! lookup hands out the less loaded node's channel URI, never one that missed its
//! heartbeat, and spreads a burst of clients between two heartbeats; a node whose
//! heartbeats stop (its runtime gone at once, as in a crash) is found dead, removed once
//! with its sessions' joins closed, and every live node hears of it; a node starting or
//! stopping leaves the other nodes' signed-in connections alone; and a server outlives a
//! PostgreSQL restart, refusing posts cleanly while it is down.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parlance_server::config::Config;
use parlance_server::pool::{NodeGone, PoolError};
use parlance_server::{Options, Server, StartError};
use parlance_store::Store;
use parlance_store::rooms::{Behavior, Privacy};
use parlance_tests::chat::ChatClient;
use parlance_tests::postgres::Postgres;
use parlance_tests::{DOMAIN, SipConn, TestServer, WAIT, logs};
use xccos::ReplyData;

/// The settings of node `name` of a pool on `store_url`: its own channel URI, the shared
/// file directory, heartbeats quick enough for a test; `data_dir`, when given, must hold
/// the pool's server key.
fn pool_node(
    store_url: String,
    name: &str,
    files: &Path,
    data_dir: Option<PathBuf>,
) -> impl FnOnce(&mut Config) + Send + 'static {
    let (channel, files) = (format!("sip:chat-{name}@{DOMAIN}"), files.to_owned());
    move |c| {
        c.store.url = Some(store_url);
        c.chat.channel_uri = Some(channel);
        c.files.dir = Some(files);
        c.pool.heartbeat_ms = 100;
        c.pool.node_timeout_ms = 600;
        if let Some(dir) = data_dir {
            c.data_dir = dir;
        }
    }
}

/// A directory no other test uses.
fn scratch(what: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("parlance-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A data directory for another node of `first`'s pool: it holds the pool's server key.
fn data_dir_beside(first: &TestServer) -> PathBuf {
    let dir = scratch("node");
    std::fs::copy(first.config.server_key_path(), dir.join("server.key")).unwrap();
    dir
}

/// The channel URI the lookup at `addr` hands `user` out now.
async fn requri(addr: SocketAddr, user: &str) -> String {
    let mut conn = SipConn::tcp(addr).await;
    assert_eq!(conn.register(user, "pw").await.status, 200);
    let mut lookup = ChatClient::direct(conn, user, &format!("sip:ocschat@{DOMAIN}")).await;
    let reply = lookup
        .command("<cmd id=\"cmd:requri\" seqid=\"1\"><data/></cmd>")
        .await;
    lookup.bye().await;
    match reply.data {
        ReplyData::ReqUri(Some(uib)) => uib.uri,
        other => panic!("rpl:requri without uib: {other:?}"),
    }
}

/// Waits until `check` gives `want` (heartbeats carry what it reads), failing after a
/// generous while with the last value seen.
async fn until<T, F, Fut>(want: T, mut check: F)
where
    T: PartialEq + std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    loop {
        let got = check().await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {got:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Records the nodes a server is told are gone.
#[derive(Debug, Default)]
struct Gone(Mutex<Vec<String>>);

impl NodeGone for Gone {
    fn node_gone(&self, node_id: &str) {
        self.0.lock().unwrap().push(node_id.to_owned());
    }
}

impl Gone {
    fn told(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn told_of(gone: &Arc<Gone>) -> Options {
    Options {
        node_gone: Some(gone.clone()),
        ..Options::default()
    }
}

/// Node a of a pool on `pg`, telling `gone` of the nodes gone, with alice and bob and an
/// open room (returned) in the store.
async fn first_node(pg: &Postgres, files: &Path, gone: &Arc<Gone>) -> (TestServer, String) {
    let a =
        TestServer::start_with_options(pool_node(pg.url(), "a", files, None), told_of(gone)).await;
    for user in ["alice", "bob"] {
        a.add_user(user, "pw").await;
    }
    let lobby = a
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    (a, lobby)
}

/// The ids of the registered nodes.
async fn node_ids(store: &Store) -> Vec<String> {
    let mut ids: Vec<String> = store
        .nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_lookup_hands_out_the_less_loaded_node() {
    let pg = Postgres::start();
    let files = scratch("files");
    let gone = Arc::new(Gone::default());
    let (a, lobby) = first_node(&pg, &files, &gone).await;
    let hall = a
        .add_room("Hall", Privacy::Open, Behavior::Normal, &[])
        .await;
    // Alone, a node hands out its own channel.
    let mut alice = ChatClient::connect(&a, "alice", "pw").await;
    assert_eq!(alice.channel_uri, format!("sip:chat-a@{DOMAIN}"));
    alice.join(&lobby).await;

    let b =
        TestServer::start_with(pool_node(pg.url(), "b", &files, Some(data_dir_beside(&a)))).await;
    // a has a joined endpoint and b none: either lookup hands out b.
    let chat_b = format!("sip:chat-b@{DOMAIN}");
    for node in [&a, &b] {
        until(chat_b.clone(), || requri(node.tcp_addr(), "bob")).await;
    }
    // Bob joins two rooms on b: now a is the less loaded.
    let mut bob = ChatClient::connect(&b, "bob", "pw").await;
    assert_eq!(bob.channel_uri, chat_b);
    bob.join(&lobby).await;
    bob.join(&hall).await;
    let chat_a = format!("sip:chat-a@{DOMAIN}");
    for node in [&a, &b] {
        until(chat_a.clone(), || requri(node.tcp_addr(), "alice")).await;
    }

    // A third server with a's channel URI, or keeping files in its own data directory, is
    // refused: the lookup could not tell it from a, a file posted there would be nowhere
    // else.
    let refused = |tweak: fn(&mut Config)| {
        let mut config = a.config.clone();
        config.data_dir = data_dir_beside(&a);
        tweak(&mut config);
        Server::start(config, Options::default())
    };
    let taken = refused(|_| {}).await;
    assert!(
        matches!(taken, Err(StartError::Pool(PoolError::ChannelTaken { .. }))),
        "{taken:?}"
    );
    let own_files = refused(|c| {
        c.chat.channel_uri = Some(format!("sip:chat-x@{DOMAIN}"));
        c.files.dir = None;
    })
    .await;
    assert!(
        matches!(
            own_files,
            Err(StartError::Pool(PoolError::FilesNotShared { .. }))
        ),
        "{own_files:?}"
    );

    // A clean shutdown takes b off the registry at once, and a hears it is gone.
    let b_id = b.server().node_id().to_owned();
    let mut b = b;
    b.shutdown().await;
    assert_eq!(node_ids(&a.server().store).await, [a.server().node_id()]);
    until(vec![b_id], || async { gone.told() }).await;
    let _ = std::fs::remove_dir_all(&files);
}

/// Starts a node on a runtime of its own; sending on the returned channel drops that
/// runtime's tasks where they stand, with no shutdown: the node stops beating and its
/// sessions vanish without their parts, as when its process is killed.
fn crashable_node(
    tweak: impl FnOnce(&mut Config) + Send + 'static,
) -> (SocketAddr, String, std::sync::mpsc::Sender<()>) {
    let (ready, started) = std::sync::mpsc::channel();
    let (crash, crashed) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let node = runtime.block_on(TestServer::start_with(tweak));
        let id = node.server().node_id().to_owned();
        ready.send((node.tcp_addr(), id)).unwrap();
        let _ = crashed.recv();
        runtime.shutdown_background();
        // Nothing of the node runs its clean-up: a killed process runs none.
        std::mem::forget(node);
    });
    let (addr, id) = started.recv().unwrap();
    (addr, id, crash)
}

/// `user` signed in at `addr` and in a dialog with node `node`'s channel.
async fn on_channel(addr: SocketAddr, user: &str, node: &str) -> ChatClient {
    let mut conn = SipConn::tcp(addr).await;
    assert_eq!(conn.register(user, "pw").await.status, 200);
    ChatClient::direct(conn, user, &format!("sip:chat-{node}@{DOMAIN}")).await
}

/// Joins less parts per principal in a room, as the compliance outbox records them.
async fn open_joins(store: &Store) -> BTreeMap<i64, i64> {
    let mut open = BTreeMap::new();
    for e in store.compliance_events(0, 10_000).await.unwrap() {
        let delta = match e.kind.as_str() {
            "join" => 1,
            "part" => -1,
            _ => continue,
        };
        *open.entry(e.principal_id).or_insert(0) += delta;
    }
    open.retain(|_, n| *n != 0);
    open
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_beating_is_removed_once_with_its_joins_closed() {
    let pg = Postgres::start();
    let files = scratch("files");
    let (gone_a, gone_c) = (Arc::new(Gone::default()), Arc::new(Gone::default()));
    let (a, lobby) = first_node(&pg, &files, &gone_a).await;
    let _c = TestServer::start_with_options(
        pool_node(pg.url(), "c", &files, Some(data_dir_beside(&a))),
        told_of(&gone_c),
    )
    .await;
    let (b_addr, b_id, crash) =
        crashable_node(pool_node(pg.url(), "b", &files, Some(data_dir_beside(&a))));
    // Alice on b (the dead-to-be) and bob on a, both in the lobby. (Each invites its node's
    // channel: forwarding to another node's is the pool's SIP routing, not tested here.)
    let mut alice = on_channel(b_addr, "alice", "b").await;
    alice.join(&lobby).await;
    let mut bob = on_channel(a.tcp_addr(), "bob", "a").await;
    bob.join(&lobby).await;
    let store = &a.server().store;
    let (alice_id, bob_id) = (
        store
            .user(&format!("alice@{DOMAIN}"))
            .await
            .unwrap()
            .unwrap()
            .id,
        store
            .user(&format!("bob@{DOMAIN}"))
            .await
            .unwrap()
            .unwrap()
            .id,
    );
    assert_eq!(
        open_joins(store).await,
        BTreeMap::from([(alice_id, 1), (bob_id, 1)])
    );
    assert_eq!(node_ids(store).await.len(), 3);

    crash.send(()).unwrap();
    // Within the node timeout and a heartbeat or two, a or c removes b: alice's join is
    // closed by exactly one part, bob's (on a live node) stays open.
    until(false, || async { node_ids(store).await.contains(&b_id) }).await;
    assert_eq!(open_joins(store).await, BTreeMap::from([(bob_id, 1)]));
    let parts: Vec<_> = store
        .compliance_events(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "part")
        .collect();
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert_eq!(parts[0].principal_id, alice_id);
    // Both live nodes are told, once each.
    until(vec![b_id.clone()], || async { gone_a.told() }).await;
    until(vec![b_id.clone()], || async { gone_c.told() }).await;
    // Later rounds change nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(open_joins(store).await, BTreeMap::from([(bob_id, 1)]));
    assert_eq!((gone_a.told().len(), gone_c.told().len()), (1, 1));
    let _ = std::fs::remove_dir_all(&files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_its_heartbeat_is_not_handed_out() {
    let pg = Postgres::start();
    let files = scratch("files");
    let gone = Arc::new(Gone::default());
    // Nodes are judged dead only after a minute: the lookup must not wait for that.
    let slow_death = |c: &mut Config| c.pool.node_timeout_ms = 60_000;
    let a = TestServer::start_with_options(
        {
            let node = pool_node(pg.url(), "a", &files, None);
            move |c| {
                node(c);
                slow_death(c);
            }
        },
        told_of(&gone),
    )
    .await;
    for user in ["alice", "bob"] {
        a.add_user(user, "pw").await;
    }
    let lobby = a
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = on_channel(a.tcp_addr(), "alice", "a").await;
    alice.join(&lobby).await;
    let (_, _, crash) = crashable_node({
        let node = pool_node(pg.url(), "b", &files, Some(data_dir_beside(&a)));
        move |c| {
            node(c);
            slow_death(c);
        }
    });
    // b, with nobody joined, is the less loaded.
    until(format!("sip:chat-b@{DOMAIN}"), || {
        requri(a.tcp_addr(), "bob")
    })
    .await;
    crash.send(()).unwrap();
    // Its heartbeat stops: a few heartbeats later a hands out itself, long before b could
    // be judged dead.
    until(format!("sip:chat-a@{DOMAIN}"), || {
        requri(a.tcp_addr(), "bob")
    })
    .await;
    assert!(gone.told().is_empty(), "b is not judged dead yet");
    let _ = std::fs::remove_dir_all(&files);
}

#[tokio::test]
async fn a_burst_of_clients_between_two_heartbeats_is_spread() {
    let pg = Postgres::start();
    let files = scratch("files");
    // One heartbeat a minute: every requri below falls between the same two rounds.
    let slow_beat = |c: &mut Config| {
        c.pool.heartbeat_ms = 60_000;
        c.pool.node_timeout_ms = 180_000;
    };
    let gone = Arc::new(Gone::default());
    let (a, _) = first_node(&pg, &files, &gone).await;
    let b = TestServer::start_with({
        let node = pool_node(pg.url(), "b", &files, Some(data_dir_beside(&a)));
        move |c| {
            node(c);
            slow_beat(c);
        }
    })
    .await;
    // b's first round, at its start, saw a and b equally idle.
    let mut handed = BTreeMap::new();
    for _ in 0..4 {
        *handed.entry(requri(b.tcp_addr(), "bob").await).or_insert(0) += 1;
    }
    assert_eq!(
        handed,
        BTreeMap::from([
            (format!("sip:chat-a@{DOMAIN}"), 2),
            (format!("sip:chat-b@{DOMAIN}"), 2)
        ]),
        "one client each in turn, not all to one node"
    );
    let _ = std::fs::remove_dir_all(&files);
}

/// The accounts on the signed-in table, sorted.
async fn signed_in(store: &Store) -> Vec<String> {
    let mut accounts: Vec<String> = store
        .signed_in()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.account)
        .collect();
    accounts.sort();
    accounts
}

#[tokio::test]
async fn a_node_starting_or_stopping_leaves_the_others_signed_in() {
    let pg = Postgres::start();
    let files = scratch("files");
    let gone = Arc::new(Gone::default());
    let (a, _) = first_node(&pg, &files, &gone).await;
    a.add_user("carol", "pw").await;
    let b =
        TestServer::start_with(pool_node(pg.url(), "b", &files, Some(data_dir_beside(&a)))).await;
    let account = |user: &str| format!("sip:{user}@{DOMAIN}");
    let mut alice = SipConn::tcp(a.tcp_addr()).await;
    assert_eq!(alice.register("alice", "pw").await.status, 200);
    let mut bob = SipConn::tcp(b.tcp_addr()).await;
    assert_eq!(bob.register("bob", "pw").await.status, 200);
    let store = &a.server().store;
    until(vec![account("alice"), account("bob")], || signed_in(store)).await;

    // c starts: once its own client is on the table, c has cleared what it clears at start.
    let mut c =
        TestServer::start_with(pool_node(pg.url(), "c", &files, Some(data_dir_beside(&a)))).await;
    let mut carol = SipConn::tcp(c.tcp_addr()).await;
    assert_eq!(carol.register("carol", "pw").await.status, 200);
    until(
        vec![account("alice"), account("bob"), account("carol")],
        || signed_in(store),
    )
    .await;
    // c stops: its own client goes, the others' stay.
    c.shutdown().await;
    assert_eq!(signed_in(store).await, [account("alice"), account("bob")]);
    drop((alice, bob, carol, b));
    let _ = std::fs::remove_dir_all(&files);
}

#[tokio::test]
async fn posts_fail_cleanly_while_postgres_is_down_and_work_again_after() {
    logs::capture();
    let pg = Postgres::start();
    let s = TestServer::start_with(|c| c.store.url = Some(pg.url())).await;
    for user in ["alice", "bob"] {
        s.add_user(user, "pw").await;
    }
    let room = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    alice.join(&room).await;
    bob.join(&room).await;
    assert_eq!(alice.post(&room, "before").await, 200);
    assert_eq!(bob.next_chat().await.text, "before");

    pg.stop();
    // The log is the whole test binary's: another test's nodes (their relay's gap checks,
    // when their own PostgreSQL stops) log errors of the chat service too, so only the
    // commands' lines are counted.
    let refused_before = logs::lines_with(&["ERROR", "parlance_chat::commands"]).len();
    assert_eq!(alice.post(&room, "while down").await, 500);
    assert_eq!(
        logs::lines_with(&["ERROR", "parlance_chat::commands"]).len(),
        refused_before + 1,
        "one log line for the refused post"
    );

    pg.start_again();
    // The same server, its connections to PostgreSQL replaced as they are used.
    assert_eq!(alice.post(&room, "after").await, 200);
    assert_eq!(bob.next_chat().await.text, "after");
    let mut history: Vec<String> = bob
        .history(&room, "<last cnt=\"10\"/>")
        .await
        .into_iter()
        .map(|m| m.text)
        .collect();
    history.sort();
    assert_eq!(history, ["after", "before"], "nothing half-written");
}
