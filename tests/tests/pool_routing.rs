//! Forwarding between the nodes of a pool (docs/protocol.md, "Pools"): servers sharing a
//! private PostgreSQL and a private nats-server; clients on one node reach users and the
//! channel service of another, over real sockets.

use parlance_store::rooms::{Behavior, Privacy};
use parlance_tests::chat::ChatClient;
use parlance_tests::pool::{Pool, channel_uri as channel};
use parlance_tests::{DOMAIN, SipConn, TestServer};
use sip_proto::{Method, Response};
use xccos::Notice;

/// `n` nodes sharing a new database and NATS, each with its own channel URI; `users`
/// (password "pw") exist in the shared store.
async fn pool(n: usize, users: &[&str]) -> Pool {
    let pool = Pool::start(n).await;
    for user in users {
        pool.nodes[0].add_user(user, "pw").await;
    }
    pool
}

async fn registered(node: &TestServer, user: &str) -> SipConn {
    let mut conn = node.tcp().await;
    assert_eq!(conn.register(user, "pw").await.status, 200);
    conn
}

/// Two nodes, `others` and alice and bob in the store, alice registered on the first node
/// and bob on the second.
async fn alice_and_bob(others: &[&str]) -> (Pool, SipConn, SipConn) {
    let users: Vec<&str> = ["alice", "bob"].iter().chain(others).copied().collect();
    let pool = pool(2, &users).await;
    let alice = registered(&pool.nodes[0], "alice").await;
    let bob = registered(&pool.nodes[1], "bob").await;
    (pool, alice, bob)
}

#[tokio::test]
async fn a_message_reaches_a_user_on_another_node_and_the_answer_comes_back() {
    let (_pool, mut alice, mut bob) = alice_and_bob(&[]).await;
    let bob_uri = format!("sip:bob@{DOMAIN}");
    let req = alice.request(
        "MESSAGE",
        &bob_uri,
        "alice",
        &bob_uri,
        "m1",
        &["Content-Type: text/plain"],
        "hello bob",
    );
    alice.send(req).await;
    let got = bob.recv_request().await;
    assert_eq!(got.method, Method::Message);
    assert_eq!(&got.body[..], b"hello bob");
    assert_eq!(
        got.headers.get("P-Asserted-Identity"),
        Some(format!("<sip:alice@{DOMAIN}>").as_str())
    );
    bob.send(
        Response::for_request(&got, 200)
            .with_to_tag("bt")
            .to_bytes(),
    )
    .await;
    let ok = alice.recv_response().await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.vias().len(), 1, "only alice's own Via comes back");
    assert_eq!(ok.to().unwrap().tag(), Some("bt"));

    // Nobody of that name on any node: the first node answers as a single server does.
    let carol = format!("sip:carol@{DOMAIN}");
    let req = alice.request("MESSAGE", &carol, "alice", &carol, "m2", &[], "hi");
    alice.send(req).await;
    assert_eq!(alice.recv_response().await.status, 404);
}

#[tokio::test]
async fn an_invite_dialog_spans_two_nodes_in_both_directions() {
    let (pool, mut alice, mut bob) = alice_and_bob(&[]).await;
    let bob_uri = format!("sip:bob@{DOMAIN}");
    let invite = alice.request(
        "INVITE",
        &bob_uri,
        "alice",
        &bob_uri,
        "call1",
        &["Content-Type: application/sdp"],
        "v=0\r\n",
    );
    alice.send(invite).await;
    let got = bob.recv_request().await;
    assert_eq!(got.method, Method::Invite);
    let rr = got
        .headers
        .get("Record-Route")
        .expect("INVITE is record-routed")
        .to_owned();
    assert!(
        rr.contains(&format!(";pn={}", pool.nodes[1].server().node_id())),
        "the Record-Route names the node holding the flows: {rr}"
    );
    let mut ok = Response::for_request(&got, 200).with_to_tag("bt");
    ok.headers.push("Record-Route", rr.clone());
    ok.headers
        .push("Contact", "<sip:bob@192.0.2.99:5999;transport=tcp>");
    bob.send(ok.to_bytes()).await;
    let ok = alice.recv_response().await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.get("Record-Route"), Some(rr.as_str()));

    // alice's in-dialog requests follow the Route to the other node.
    let in_dialog = |method: &str, cseq: u32, local: std::net::SocketAddr| {
        format!(
            "{method} sip:bob@192.0.2.99:5999;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK{method}{cseq}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@{DOMAIN}>;tag=talice\r\nTo: <sip:bob@{DOMAIN}>;tag=bt\r\nCall-ID: call1\r\n\
             CSeq: {cseq} {method}\r\nRoute: {rr}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    alice.send(in_dialog("ACK", 1, alice.local)).await;
    let ack = bob.recv_request().await;
    assert_eq!(ack.method, Method::Ack);
    assert!(ack.headers.get("Route").is_none(), "the Route is consumed");
    alice.send(in_dialog("INFO", 2, alice.local)).await;
    let info = bob.recv_request().await;
    assert_eq!(info.method, Method::Info);
    bob.send(Response::for_request(&info, 200).to_bytes()).await;
    assert_eq!(alice.recv_response().await.status, 200);

    // bob's BYE goes the other way, and alice's answer finds its transaction by the Via.
    let bye = format!(
        "BYE sip:alice@{alice_addr};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP {bob_addr};branch=z9hG4bKbobbye\r\n\
         Max-Forwards: 70\r\nFrom: <sip:bob@{DOMAIN}>;tag=bt\r\nTo: <sip:alice@{DOMAIN}>;tag=talice\r\nCall-ID: call1\r\n\
         CSeq: 1 BYE\r\nRoute: {rr}\r\nContent-Length: 0\r\n\r\n",
        alice_addr = alice.local,
        bob_addr = bob.local,
    );
    bob.send(bye).await;
    let got_bye = alice.recv_request().await;
    assert_eq!(got_bye.method, Method::Bye);
    assert_eq!(got_bye.vias().len(), 2);
    alice
        .send(Response::for_request(&got_bye, 200).to_bytes())
        .await;
    let done = bob.recv_response().await;
    assert_eq!(done.status, 200);
    assert_eq!(done.vias().len(), 1);
}

#[tokio::test]
async fn a_cancel_follows_its_invite_to_the_other_node() {
    let (_pool, mut alice, mut bob) = alice_and_bob(&[]).await;
    let bob_uri = format!("sip:bob@{DOMAIN}");
    let invite = alice.request("INVITE", &bob_uri, "alice", &bob_uri, "call2", &[], "");
    alice.send(&invite).await;
    let got = bob.recv_request().await;
    assert_eq!(got.method, Method::Invite);
    let cancel = invite
        .replacen("INVITE", "CANCEL", 1)
        .replace(" INVITE\r\n", " CANCEL\r\n");
    alice.send(cancel).await;
    let cancelled = alice.recv_response().await;
    assert_eq!(
        (cancelled.status, cancelled.cseq().unwrap().method),
        (200, Method::Cancel)
    );
    let got_cancel = bob.recv_request().await;
    assert_eq!(got_cancel.method, Method::Cancel);
    bob.send(
        Response::for_request(&got, 487)
            .with_to_tag("bt")
            .to_bytes(),
    )
    .await;
    assert_eq!(bob.recv_request().await.method, Method::Ack);
    let terminated = alice.recv_response().await;
    assert_eq!(
        (terminated.status, terminated.cseq().unwrap().method),
        (487, Method::Invite)
    );
}

#[tokio::test]
async fn a_client_chats_through_its_node_in_a_room_another_node_serves() {
    let pool = pool(2, &["alice", "bob"]).await;
    let room = pool.nodes[0]
        .add_room("Pooled", Privacy::Open, Behavior::Normal, &[])
        .await;
    // alice is connected to node 0 and was handed node 1's channel URI; bob is on node 1.
    let conn = registered(&pool.nodes[0], "alice").await;
    let mut alice = ChatClient::direct(conn, "alice", &channel(1)).await;
    let conn = registered(&pool.nodes[1], "bob").await;
    let mut bob = ChatClient::direct(conn, "bob", &channel(1)).await;
    assert_eq!(pool.nodes[1].server().groupchat.dialogs().len(), 2);
    assert_eq!(
        pool.nodes[0].server().groupchat.dialogs().len(),
        0,
        "the session is where the channel service is"
    );

    bob.join(&room).await;
    alice.join(&room).await;
    let Notice::Join(uibs) = bob.next_notice().await else {
        panic!("ntc:join expected")
    };
    assert_eq!(uibs[0].uri, format!("sip:alice@{DOMAIN}"));

    assert_eq!(alice.post(&room, "from node zero").await, 200);
    for client in [&mut alice, &mut bob] {
        let chat = client.next_chat().await;
        assert_eq!(chat.text, "from node zero");
        assert_eq!(chat.author, format!("sip:alice@{DOMAIN}"));
    }
    assert_eq!(bob.post(&room, "answer from node one").await, 200);
    for client in [&mut alice, &mut bob] {
        let chat = client.next_chat().await;
        assert_eq!(chat.text, "answer from node one");
        assert_eq!(chat.author, format!("sip:bob@{DOMAIN}"));
    }
    let history = alice.history(&room, "<last cnt=\"25\"/>").await;
    let texts: Vec<&str> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["from node zero", "answer from node one"]);

    // alice's connection to node 0 closes: her session on node 1 ends, and she leaves.
    drop(alice);
    let Notice::Part(chanibs) = bob.next_notice().await else {
        panic!("ntc:part expected")
    };
    assert_eq!(chanibs[0].uibs[0].uri, format!("sip:alice@{DOMAIN}"));
    assert_eq!(pool.nodes[1].server().groupchat.dialogs().len(), 1);
}

#[tokio::test]
async fn identities_claimed_in_headers_do_not_travel() {
    let (pool, mut alice, mut bob) = alice_and_bob(&["carol"]).await;
    let bob_uri = format!("sip:bob@{DOMAIN}");
    // Headers naming carol, including the metadata's own names: they are SIP headers, and
    // the identity between nodes is not one.
    let claims = [
        "Content-Type: text/plain",
        "P-Asserted-Identity: <sip:carol@example.test>",
        "P-Preferred-Identity: <sip:carol@example.test>",
        "Parlance-Identity: sip:carol@example.test",
        "Parlance-Kind: from-client",
    ];
    let req = alice.request("MESSAGE", &bob_uri, "alice", &bob_uri, "f1", &claims, "hi");
    alice.send(req).await;
    let got = bob.recv_request().await;
    let asserted: Vec<&str> = got.headers.get_all("P-Asserted-Identity").collect();
    assert_eq!(asserted, [format!("<sip:alice@{DOMAIN}>")]);
    assert!(got.headers.get("P-Preferred-Identity").is_none());
    bob.send(Response::for_request(&got, 200).to_bytes()).await;
    assert_eq!(alice.recv_response().await.status, 200);

    // Speaking as carol is refused before anything is relayed.
    let req = alice.request("MESSAGE", &bob_uri, "carol", &bob_uri, "f2", &[], "hi");
    alice.send(req).await;
    assert_eq!(alice.recv_response().await.status, 403);
    bob.expect_silence(std::time::Duration::from_millis(300))
        .await;

    // An unregistered connection relays nothing.
    let mut stranger = pool.nodes[0].tcp().await;
    let req = stranger.request("MESSAGE", &bob_uri, "carol", &bob_uri, "f3", &[], "hi");
    stranger.send(req).await;
    assert_eq!(stranger.recv_response().await.status, 403);
    bob.expect_silence(std::time::Duration::from_millis(300))
        .await;
}

#[tokio::test]
async fn a_dead_nodes_clients_leave_the_rooms_of_the_others() {
    let pool = pool(2, &["alice", "bob"]).await;
    let room = pool.nodes[0]
        .add_room("Pooled", Privacy::Open, Behavior::Normal, &[])
        .await;
    let conn = registered(&pool.nodes[0], "alice").await;
    let mut alice = ChatClient::direct(conn, "alice", &channel(1)).await;
    let conn = registered(&pool.nodes[1], "bob").await;
    let mut bob = ChatClient::direct(conn, "bob", &channel(1)).await;
    bob.join(&room).await;
    alice.join(&room).await;
    assert!(matches!(bob.next_notice().await, Notice::Join(_)));
    let dead = pool.nodes[0].server().node_id().to_owned();
    assert_eq!(pool.nodes[1].server().node_dead(&dead), 1);
    assert!(matches!(bob.next_notice().await, Notice::Part(_)));
    assert_eq!(pool.nodes[1].server().node_dead(&dead), 0);
}
