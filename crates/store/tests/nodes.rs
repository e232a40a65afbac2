//! The node registry and the singleton leases every engine must show: heartbeats, a dead
//! node removed with its open joins closed exactly once however many nodes try, joins of
//! live nodes left alone, each node's own rows on the signed-in table, and a lease that
//! exactly one of many concurrent takers holds.

mod common;

use common::{engines, room, user};
use parlance_store::Store;
use parlance_store::history::ComplianceKind;
use parlance_store::nodes::{Load, Node};
use parlance_store::signed_in::SignedIn;

fn node(id: &str, heartbeat_at: i64) -> Node {
    Node {
        id: id.into(),
        channel_uri: format!("sip:chat-{id}@example.test"),
        sip_address: "127.0.0.1:5061".into(),
        https_address: String::new(),
        started_at: heartbeat_at,
        heartbeat_at,
        load: Load::default(),
    }
}

/// A handle recording the joins and parts of node `id`'s sessions, as its server's is.
async fn node_store(url: &str, id: &str) -> Store {
    let mut handle = Store::open(url).await.unwrap();
    handle.set_node(id);
    handle
}

/// The open joins per (principal, node) the outbox shows: joins less parts.
async fn open_joins(store: &Store, room_id: i64) -> Vec<(i64, i64)> {
    let mut open = std::collections::BTreeMap::new();
    for e in store.compliance_events(0, 10_000).await.unwrap() {
        if e.room_id != room_id {
            continue;
        }
        let delta = match e.kind.as_str() {
            "join" => 1,
            "part" => -1,
            _ => 0,
        };
        *open.entry(e.principal_id).or_insert(0) += delta;
    }
    open.into_iter().filter(|(_, n)| *n != 0).collect()
}

#[tokio::test]
async fn heartbeats_move_and_a_removed_node_is_told() {
    for engine in engines().await {
        let store = &engine.store;
        store.register_node(&node("a", 1_000)).await.unwrap();
        store.register_node(&node("b", 1_500)).await.unwrap();
        let load = Load {
            connections: 7,
            joined: 3,
            cpu_permille: 250,
            queued_bytes: 4096,
        };
        assert!(store.node_heartbeat("a", 2_000, &load).await.unwrap());
        let nodes = store.nodes().await.unwrap();
        assert_eq!(
            nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!((nodes[0].heartbeat_at, nodes[0].load), (2_000, load));
        assert_eq!(nodes[0].channel_uri, "sip:chat-a@example.test");
        assert!(nodes[0].is_live(2_000) && !nodes[1].is_live(2_000));
        assert!(store.remove_node("a").await.unwrap());
        assert!(!store.remove_node("a").await.unwrap());
        assert!(
            !store.node_heartbeat("a", 3_000, &load).await.unwrap(),
            "a node whose row is gone hears of it"
        );
        assert_eq!(store.nodes().await.unwrap().len(), 1);
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_dead_node_goes_once_with_its_joins_and_the_live_keep_theirs() {
    for engine in engines().await {
        let url = engine.location.url();
        let store = &engine.store;
        let (alice, bob) = (user(store, "alice").await, user(store, "bob").await);
        let lobby = room(store, "Lobby").await;
        store.register_node(&node("dead", 1_000)).await.unwrap();
        store.register_node(&node("live", 5_000)).await.unwrap();
        let dead = node_store(&url, "dead").await;
        let live = node_store(&url, "live").await;
        dead.record_event(ComplianceKind::Join, lobby.id, alice, "", 1)
            .await
            .unwrap();
        dead.record_event(ComplianceKind::Join, lobby.id, alice, "", 2)
            .await
            .unwrap();
        live.record_event(ComplianceKind::Join, lobby.id, bob, "", 3)
            .await
            .unwrap();
        // A node starting closes only what no registered node holds.
        assert_eq!(store.close_open_joins("restart", 4).await.unwrap(), 0);
        assert!(
            store
                .reap_node("live", 5_000, "gone", 5)
                .await
                .unwrap()
                .is_none(),
            "a live heartbeat is no death"
        );
        // Eight nodes notice the death at once: one removes it, with both parts.
        let reapers: Vec<Store> = stores_on(&url, 8).await;
        let mut tries = tokio::task::JoinSet::new();
        for s in reapers.clone() {
            tries.spawn(async move { s.reap_node("dead", 5_000, "node gone", 6).await });
        }
        let won: Vec<u64> = tries
            .join_all()
            .await
            .into_iter()
            .filter_map(|r| r.unwrap())
            .collect();
        assert_eq!(
            won,
            [2],
            "exactly one reaper, closing both of alice's joins"
        );
        assert_eq!(open_joins(store, lobby.id).await, [(bob, 1)]);
        let nodes = store.nodes().await.unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].id, "live");
        let parts: Vec<_> = store
            .compliance_events(0, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "part")
            .collect();
        assert!(parts.iter().all(|e| e.content == "node gone" && e.at == 6));
        // The live node's own part pairs with its join; the exporter's pruning keeps pairs.
        live.record_event(ComplianceKind::Part, lobby.id, bob, "", 7)
            .await
            .unwrap();
        assert_eq!(open_joins(store, lobby.id).await, []);
        for s in reapers.iter().chain([&dead, &live]) {
            s.close().await;
        }
        engine.finish().await;
    }
}

/// Stores on one database, as `n` nodes of a pool (or processes beside a server) open it.
async fn stores_on(url: &str, n: usize) -> Vec<Store> {
    let mut stores = Vec::new();
    for _ in 0..n {
        stores.push(Store::open(url).await.unwrap());
    }
    stores
}

#[tokio::test]
async fn joins_of_nodes_without_a_row_close_at_start() {
    for engine in engines().await {
        let url = engine.location.url();
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        // A node that crashed and was removed without its parts (or never registered),
        // and a join recorded before joins named their node.
        let gone = node_store(&url, "gone").await;
        gone.record_event(ComplianceKind::Join, lobby.id, alice, "", 1)
            .await
            .unwrap();
        store
            .record_event(ComplianceKind::Join, lobby.id, alice, "", 2)
            .await
            .unwrap();
        assert_eq!(store.close_open_joins("restart", 3).await.unwrap(), 2);
        assert_eq!(open_joins(store, lobby.id).await, []);
        assert_eq!(store.close_open_joins("restart", 4).await.unwrap(), 0);
        gone.close().await;
        engine.finish().await;
    }
}

/// Connection `connection` of `account`, signed in.
fn connection(connection: u64, account: &str) -> SignedIn {
    SignedIn {
        connection,
        account: format!("sip:{account}@example.test"),
        transport: "tls".into(),
        remote: format!("192.0.2.1:{}", 40000 + connection),
        since: 1_000,
    }
}

/// The accounts on the signed-in table, sorted.
async fn signed_in_accounts(store: &Store) -> Vec<String> {
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
async fn each_node_clears_only_its_own_signed_in_rows_and_a_dead_node_loses_its() {
    for engine in engines().await {
        let url = engine.location.url();
        for user_name in ["alice", "bob", "carol"] {
            user(&engine.store, user_name).await;
        }
        let (a, b) = (node_store(&url, "a").await, node_store(&url, "b").await);
        a.register_node(&node("a", 1_000)).await.unwrap();
        b.register_node(&node("b", 1_000)).await.unwrap();
        // Each node numbers its own connections: both have a connection 1.
        a.note_signed_in(&[], &[connection(1, "alice")])
            .await
            .unwrap();
        b.note_signed_in(&[], &[connection(1, "bob"), connection(2, "carol")])
            .await
            .unwrap();
        assert_eq!(
            signed_in_accounts(&a).await,
            [
                "sip:alice@example.test",
                "sip:bob@example.test",
                "sip:carol@example.test"
            ]
        );
        // A connection ended on b is b's: a's connection 1 stays.
        b.note_signed_in(&[1], &[]).await.unwrap();
        assert_eq!(
            signed_in_accounts(&a).await,
            ["sip:alice@example.test", "sip:carol@example.test"]
        );
        // a restarting (or stopping) clears its own rows, not b's.
        assert_eq!(a.clear_signed_in().await.unwrap(), 1);
        assert_eq!(signed_in_accounts(&a).await, ["sip:carol@example.test"]);
        // b dies: removing it takes its connections off.
        a.note_signed_in(&[], &[connection(1, "alice")])
            .await
            .unwrap();
        assert_eq!(b.reap_node("b", 2_000, "gone", 3).await.unwrap(), Some(0));
        assert_eq!(signed_in_accounts(&a).await, ["sip:alice@example.test"]);
        // Rows of a node without a registry row (removed before this schema knew) go
        // with the next clearing.
        let gone = node_store(&url, "gone").await;
        gone.note_signed_in(&[], &[connection(9, "bob")])
            .await
            .unwrap();
        assert_eq!(a.clear_signed_in().await.unwrap(), 2);
        assert!(signed_in_accounts(&a).await.is_empty());
        for handle in [a, b, gone] {
            handle.close().await;
        }
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_lease_has_one_holder_until_it_expires_or_is_released() {
    for engine in engines().await {
        let store = &engine.store;
        assert!(store.acquire_lease("export", "a", 0, 3_000).await.unwrap());
        assert!(
            !store
                .acquire_lease("export", "b", 1_000, 4_000)
                .await
                .unwrap()
        );
        assert!(
            store
                .acquire_lease("export", "a", 2_000, 5_000)
                .await
                .unwrap(),
            "the holder renews"
        );
        assert!(
            !store
                .acquire_lease("export", "b", 4_999, 8_000)
                .await
                .unwrap()
        );
        assert!(
            store
                .acquire_lease("export", "b", 5_000, 8_000)
                .await
                .unwrap(),
            "an expired lease is anyone's"
        );
        assert!(!store.release_lease("export", "a").await.unwrap());
        let leases = store.leases().await.unwrap();
        assert_eq!(leases.len(), 1);
        assert_eq!(
            (leases[0].holder.as_str(), leases[0].expires_at),
            ("b", 8_000)
        );
        assert!(store.release_lease("export", "b").await.unwrap());
        assert!(
            store
                .acquire_lease("export", "a", 5_001, 9_000)
                .await
                .unwrap()
        );
        assert!(
            store
                .acquire_lease("cleaner", "b", 5_001, 9_000)
                .await
                .unwrap(),
            "leases are independent"
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn of_many_concurrent_takers_exactly_one_holds_the_lease() {
    for engine in engines().await {
        let url = engine.location.url();
        let takers = stores_on(&url, 12).await;
        for round in 0..5i64 {
            // Each round the lease has expired: all race for it anew.
            let now = round * 10_000;
            let mut tries = tokio::task::JoinSet::new();
            for (i, s) in takers.iter().cloned().enumerate() {
                let holder = format!("node-{i}");
                tries.spawn(
                    async move { s.acquire_lease("export", &holder, now, now + 5_000).await },
                );
            }
            let results = tries.join_all().await;
            let winners = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
            assert_eq!(winners, 1, "round {round}");
        }
        for s in &takers {
            s.close().await;
        }
        engine.finish().await;
    }
}
