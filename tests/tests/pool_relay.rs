//! A pool of servers in one process sharing a private PostgreSQL database and a private NATS
//! server: posts reach the members on every node once and in the room's order, rosters and
//! join/part notices are pool-wide, a node dropped from the pool parts its users, and posts
//! made while NATS restarts reach everyone through gap repair.

use std::collections::HashSet;
use std::time::Duration;

use parlance_store::rooms::{Behavior, Privacy};
use parlance_tests::chat::ChatClient;
use parlance_tests::pool::{Pool, channel_uri};
use xccos::{ChatMessage, Notice, ReplyData};

/// The longest a test waits for the pool to converge.
const CONVERGE: Duration = Duration::from_secs(30);

async fn pool_with_room(nodes: usize, users: &[&str]) -> (Pool, String) {
    let pool = Pool::start(nodes).await;
    for user in users {
        pool.node(0).add_user(user, "pw").await;
    }
    let room = pool
        .node(0)
        .add_room("Pool", Privacy::Open, Behavior::Normal, &[])
        .await;
    (pool, room)
}

/// `count` chat messages, taken as they arrive (notices skipped).
async fn chats(client: &mut ChatClient, count: usize) -> Vec<ChatMessage> {
    let mut got = Vec::new();
    tokio::time::timeout(CONVERGE, async {
        while got.len() < count {
            got.push(client.next_chat().await);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{} got {} of {count} messages", client.user, got.len()));
    got
}

fn ids(messages: &[ChatMessage]) -> Vec<u64> {
    messages.iter().filter_map(|m| m.message_id).collect()
}

/// The users a join reply lists.
fn listed(reply: &xccos::Reply) -> HashSet<String> {
    match &reply.data {
        ReplyData::Join(data) => data.uibs.iter().map(|u| u.uri.clone()).collect(),
        other => panic!("not a join reply: {other:?}"),
    }
}

/// The next `ntc:join` or `ntc:part`, the users it names.
async fn next_roster_notice(client: &mut ChatClient) -> (&'static str, Vec<String>) {
    loop {
        match client.next_notice().await {
            Notice::Join(uibs) => return ("join", uibs.into_iter().map(|u| u.uri).collect()),
            Notice::Part(chanibs) => {
                let users = chanibs.into_iter().flat_map(|c| c.uibs).map(|u| u.uri);
                return ("part", users.collect());
            }
            _ => continue,
        }
    }
}

/// `user` signed in on node `i` and in a dialog with that node's own channel service. The
/// lookup may hand a client another node's channel, and that dialog travels through NATS
/// (pool_routing.rs); these tests are about the relay, so each dialog is local to its node.
async fn on_node(pool: &Pool, i: usize, user: &str) -> ChatClient {
    let mut conn = pool.node(i).tcp().await;
    assert_eq!(conn.register(user, "pw").await.status, 200);
    ChatClient::direct(conn, user, &channel_uri(i)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_posts_on_three_nodes_reach_everyone_once_in_history_order() {
    let users = ["alice", "bob", "carol", "dave"];
    let (pool, room) = pool_with_room(3, &users).await;
    // Two members on node 0, one on each of the others.
    let mut clients = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let mut client = ChatClient::connect(pool.node(i % 3), user, "pw").await;
        assert!(client.join(&room).await.resp.is_success());
        clients.push(client);
    }
    const EACH: usize = 15;
    // Every member posts at once; each task then waits for every message.
    let mut tasks = Vec::new();
    for mut client in clients {
        let room = room.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let text = format!("{} {i}", client.user);
                assert_eq!(client.post(&room, &text).await, 200);
            }
            let got = chats(&mut client, EACH * users.len()).await;
            (client, got)
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    let expected: Vec<u64> = (1..=(EACH * users.len()) as u64).collect();
    let history = seen[0].0.history(&room, "<last cnt=\"100\"/>").await;
    assert_eq!(ids(&history), expected, "history holds every post once");
    for (client, got) in &seen {
        assert_eq!(
            ids(got),
            expected,
            "{} got every post once, in order",
            client.user
        );
        let texts: Vec<&str> = got.iter().map(|m| m.text.as_str()).collect();
        let in_history: Vec<&str> = history.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, in_history, "{} saw history's order", client.user);
    }
    // No message comes twice: nothing more arrives once all were delivered.
    for (client, _) in &mut seen {
        client.conn.expect_silence(Duration::from_millis(700)).await;
    }
    // History and search read the same store from any node.
    let (carol, _) = &mut seen[2];
    let found = carol
        .history(&room, "<search text=\"bob 7\" cnt=\"10\"/>")
        .await;
    assert_eq!(
        found.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["bob 7"]
    );
    assert_eq!(
        ids(&carol.history(&room, "<last cnt=\"100\"/>").await),
        expected
    );
    drop(seen);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rosters_joins_and_parts_are_pool_wide_and_a_dropped_node_parts_its_users() {
    let (pool, room) = pool_with_room(3, &["alice", "bob", "carol"]).await;
    let alice_uri = "sip:alice@example.test".to_owned();
    let bob_uri = "sip:bob@example.test".to_owned();
    let carol_uri = "sip:carol@example.test".to_owned();
    let mut alice = on_node(&pool, 0, "alice").await;
    let reply = alice.join(&room).await;
    assert_eq!(listed(&reply), HashSet::from([alice_uri.clone()]));

    // Bob joins on node 1: his reply lists alice (on node 0), and alice hears of him.
    let mut bob = on_node(&pool, 1, "bob").await;
    let listed_for_bob = tokio::time::timeout(CONVERGE, async {
        loop {
            // Node 1 may not have heard of alice yet: it asked the others when it connected,
            // and alice's join went out on the bus; re-join until it has.
            let reply = bob.join(&room).await;
            let users = listed(&reply);
            if users.contains(&alice_uri) {
                return users;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("node 1 lists alice");
    assert_eq!(
        listed_for_bob,
        HashSet::from([alice_uri.clone(), bob_uri.clone()])
    );
    assert_eq!(
        next_roster_notice(&mut alice).await,
        ("join", vec![bob_uri.clone()])
    );

    // Carol on node 2; then node 2 stops heartbeating (as the node registry would report):
    // node 0 drops it, and alice hears carol leave.
    let mut carol = on_node(&pool, 2, "carol").await;
    let reply = carol.join(&room).await;
    assert!(reply.resp.is_success());
    assert_eq!(
        next_roster_notice(&mut alice).await,
        ("join", vec![carol_uri.clone()])
    );
    let node2 = pool.node(2).server().node_id().to_owned();
    pool.node(0).server().groupchat.chat().drop_node(&node2);
    assert_eq!(
        next_roster_notice(&mut alice).await,
        ("part", vec![carol_uri.clone()])
    );

    // Bob parts on node 1: alice on node 0 hears it, in the room's order.
    let reply = bob
        .command(&format!(
            "<cmd id=\"cmd:part\" seqid=\"1\"><data><chanib uri=\"{room}\"/></data></cmd>"
        ))
        .await;
    assert!(reply.resp.is_success());
    assert_eq!(
        next_roster_notice(&mut alice).await,
        ("part", vec![bob_uri.clone()])
    );
    // A post still reaches carol, whose node never left the bus.
    assert_eq!(alice.post(&room, "still here").await, 200);
    let got = chats(&mut carol, 1).await;
    assert_eq!(got[0].text, "still here");
    drop((alice, bob, carol));
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn posts_made_while_nats_restarts_reach_everyone_exactly_once() {
    let users = ["alice", "bob", "carol"];
    let (pool, room) = pool_with_room(3, &users).await;
    let mut clients = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let mut client = on_node(&pool, i, user).await;
        assert!(client.join(&room).await.resp.is_success());
        clients.push(client);
    }
    const EACH: usize = 20;
    let mut posters = Vec::new();
    // Alice and Bob post on nodes 0 and 1 while NATS goes away and comes back; Carol reads.
    for mut client in clients.drain(..2) {
        let room = room.clone();
        posters.push(tokio::spawn(async move {
            for i in 0..EACH {
                assert_eq!(
                    client.post(&room, &format!("{} {i}", client.user)).await,
                    200
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            client
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    pool.nats.restart();
    let mut carol = clients.pop().unwrap();
    let mut everyone = Vec::new();
    for poster in posters {
        everyone.push(poster.await.unwrap());
    }
    everyone.push(carol);
    let expected: Vec<u64> = (1..=(2 * EACH) as u64).collect();
    for client in &mut everyone {
        let got = chats(client, 2 * EACH).await;
        assert_eq!(
            ids(&got),
            expected,
            "{}: every message once, in order",
            client.user
        );
        client.conn.expect_silence(Duration::from_millis(700)).await;
    }
    carol = everyone.pop().unwrap();
    assert_eq!(
        ids(&carol.history(&room, "<last cnt=\"100\"/>").await),
        expected
    );
    drop((carol, everyone));
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_that_stops_parts_its_members_on_every_node_at_once() {
    // Heartbeats a minute apart: the others cannot learn of the stop from the registry
    // within this test; only the node's own parts, relayed before it exits, tell them.
    let mut pool = Pool::start_each(2, |_, c| {
        c.pool.heartbeat_ms = 60_000;
        c.pool.node_timeout_ms = 180_000;
    })
    .await;
    for user in ["alice", "bob"] {
        pool.node(0).add_user(user, "pw").await;
    }
    let room = pool
        .node(0)
        .add_room("Pool", Privacy::Open, Behavior::Normal, &[])
        .await;
    let bob_uri = "sip:bob@example.test".to_owned();
    let mut alice = on_node(&pool, 0, "alice").await;
    assert!(alice.join(&room).await.resp.is_success());
    let mut bob = on_node(&pool, 1, "bob").await;
    assert!(bob.join(&room).await.resp.is_success());
    assert_eq!(
        next_roster_notice(&mut alice).await,
        ("join", vec![bob_uri.clone()])
    );

    pool.nodes[1].shutdown().await;
    assert_eq!(
        next_roster_notice(&mut alice).await,
        ("part", vec![bob_uri.clone()]),
        "alice hears bob leave with his node"
    );
    let store = &pool.node(0).server().store;
    let bob_id = store.user("bob@example.test").await.unwrap().unwrap().id;
    let bob_rows: Vec<String> = store
        .compliance_events(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.principal_id == bob_id)
        .map(|e| e.kind.to_string())
        .collect();
    assert_eq!(bob_rows, ["join", "part"], "his part is recorded once");
    drop((alice, bob));
    pool.shutdown().await;
}
