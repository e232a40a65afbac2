//! Attacks on identity, performed over real sockets: signing in as someone else, turning
//! signing off, taking over another user's chat dialog or contact, asserting an identity in
//! a header. Each is refused, and nothing changes for the victim.

use std::time::Duration;

use parlance_store::rooms::{Behavior, Privacy, Role};
use parlance_tests::chat::ChatClient;
use parlance_tests::ntlm::{self, server_signature_ok};
use parlance_tests::{DOMAIN, SipConn, TestServer};
use sip_proto::Message;
use xccos::Notice;

/// A MESSAGE from `from` to `to` on `conn`.
fn message(conn: &mut SipConn, from: &str, to: &str, call_id: &str, extra: &[&str]) -> String {
    conn.request(
        "MESSAGE",
        &format!("sip:{to}@{DOMAIN}"),
        from,
        &format!("sip:{to}@{DOMAIN}"),
        call_id,
        extra,
        "hello",
    )
}

#[tokio::test]
async fn ntlm_for_one_account_cannot_register_another_address() {
    let s = TestServer::start().await;
    s.add_user("mallory", "mallory-pw").await;
    s.add_user("bob", "bob-pw").await;
    s.add_user("carol", "carol-pw").await;

    // pidgin-sipe with Username = bob, Login = mallory, mallory's password.
    let (mut mallory, answer) = ntlm::handshake(&s, "mallory", "bob", "mallory-pw").await;
    assert_eq!(
        (answer.status, answer.reason.as_str()),
        (403, "Not Your Address")
    );
    assert!(
        mallory.conn.until_closed().await.is_empty(),
        "the connection is closed after the 403"
    );

    // Nobody is registered as bob: a MESSAGE to him finds no one.
    let mut carol = s.tcp().await;
    assert_eq!(carol.register("carol", "carol-pw").await.status, 200);
    let to_bob = message(&mut carol, "carol", "bob", "m1", &[]);
    carol.send(to_bob).await;
    assert_eq!(carol.recv_response().await.status, 480);

    // The same credentials for mallory's own address work.
    let (_, answer) = ntlm::handshake(&s, "mallory", "mallory", "mallory-pw").await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn a_signed_connection_never_accepts_unsigned_requests() {
    let s = TestServer::start().await;
    s.add_user("alice", "alice-pw").await;
    s.add_user("bob", "bob-pw").await;
    s.add_user("mallory", "mallory-pw").await;
    let (mut alice, ok) = ntlm::handshake(&s, "alice", "alice", "alice-pw").await;
    assert_eq!(ok.status, 200);
    let mut bob = s.tcp().await;
    assert_eq!(bob.register("bob", "bob-pw").await.status, 200);

    // An unsigned REGISTER restarts authentication ...
    let register = alice.conn.register_request("alice", &["Expires: 3600"]);
    alice.conn.send(register).await;
    assert_eq!(alice.conn.recv_response().await.status, 401);
    // ... but unsigned requests are still not processed meanwhile.
    let forged = message(&mut alice.conn, "alice", "bob", "unsigned", &[]);
    alice.conn.send(forged).await;
    bob.expect_silence(Duration::from_millis(300)).await;
    alice.conn.expect_silence(Duration::from_millis(100)).await;

    // Signed ones are, with the association that is still alive.
    let signed = message(&mut alice.conn, "alice", "bob", "signed", &[]);
    let signed = alice.sign(&signed);
    alice.conn.send(signed).await;
    let got = bob.recv_request().await;
    assert_eq!(got.call_id(), "signed");

    // Re-authenticating as another account on alice's connection is refused.
    let conn = alice.conn;
    let (mut hijack, answer) = ntlm::handshake_on(conn, "mallory", "mallory", "mallory-pw").await;
    assert_eq!(
        (answer.status, answer.reason.as_str()),
        (403, "Not Your Address")
    );
    assert!(hijack.conn.until_closed().await.is_empty());
}

#[tokio::test]
async fn another_connection_cannot_use_or_end_a_chat_dialog() {
    let s = TestServer::start().await;
    s.add_user("alice", "alice-pw").await;
    s.add_user("mallory", "mallory-pw").await;
    let room = s
        .add_room(
            "Board",
            Privacy::Secret,
            Behavior::Normal,
            &[("alice", Role::Member)],
        )
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "alice-pw").await;
    alice.join(&room).await;
    let mut mallory = s.tcp().await;
    assert_eq!(mallory.register("mallory", "mallory-pw").await.status, 200);

    // mallory knows alice's Call-ID and both tags.
    let in_alices_dialog = |method: &str, cseq: u32, body: &str| {
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKh{cseq}\r\n\
             From: <sip:mallory@{DOMAIN}>;tag={tag}\r\nTo: <{uri}>;tag={server_tag}\r\nMax-Forwards: 70\r\n\
             CSeq: {cseq} {method}\r\nCall-ID: {call_id}\r\nContent-Type: text/plain\r\n\
             Content-Length: {len}\r\n\r\n{body}",
            uri = alice.channel_uri,
            tag = alice.tag,
            server_tag = alice.server_tag,
            call_id = alice.call_id,
            len = body.len(),
        )
    };
    let post = format!(
        "<xccos ver=\"1\" envid=\"9\" xmlns=\"urn:parlano:xml:ns:xccos\"><grpchat id=\"grpchat\" seqid=\"1\" \
         chanUri=\"{room}\" author=\"sip:alice@{DOMAIN}\" ts=\"2024-01-01T10:00:00Z\"><chat>forged</chat></grpchat></xccos>"
    );
    mallory.send(in_alices_dialog("INFO", 50, &post)).await;
    assert_eq!(mallory.recv_response().await.status, 481);
    mallory.send(in_alices_dialog("BYE", 51, "")).await;
    assert_eq!(mallory.recv_response().await.status, 481);
    // A new INVITE with alice's Call-ID and tag cannot replace her dialog either.
    let invite = format!(
        "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKh52\r\n\
         From: <sip:mallory@{DOMAIN}>;tag={tag}\r\nTo: <{uri}>\r\nMax-Forwards: 70\r\nCSeq: 52 INVITE\r\n\
         Call-ID: {call_id}\r\nContact: <sip:mallory@127.0.0.1:9;transport=tcp>\r\nContent-Length: 0\r\n\r\n",
        uri = alice.channel_uri,
        tag = alice.tag,
        call_id = alice.call_id,
    );
    mallory.send(invite).await;
    let refused = mallory.recv_response().await;
    assert_eq!(
        (refused.status, refused.reason.as_str()),
        (403, "Dialog Belongs To Another Connection")
    );

    // alice's session is untouched, and the room holds only what she wrote.
    assert_eq!(alice.post(&room, "mine").await, 200);
    assert_eq!(alice.next_chat().await.text, "mine");
    let history = alice.history(&room, "<last cnt=\"10\"/>").await;
    let texts: Vec<&str> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["mine"]);
}

#[tokio::test]
async fn a_replaced_dialog_leaves_its_rooms_and_a_closed_connection_leaves_no_ghost() {
    let s = TestServer::start().await;
    s.add_user("alice", "alice-pw").await;
    s.add_user("bob", "bob-pw").await;
    let room = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut bob = ChatClient::connect(&s, "bob", "bob-pw").await;
    bob.join(&room).await;
    let mut alice = ChatClient::connect(&s, "alice", "alice-pw").await;
    alice.join(&room).await;
    assert!(matches!(bob.next_notice().await, Notice::Join(_)));

    let alice = alice.reinvite().await;
    let Notice::Part(chanibs) = bob.next_notice().await else {
        panic!("ntc:part expected when alice's old session ends")
    };
    assert_eq!(chanibs[0].uibs[0].uri, format!("sip:alice@{DOMAIN}"));
    drop(alice);

    // Every join of alice's has its part, and the room's roster is bob alone.
    let alice_id = s
        .server()
        .store
        .user(&format!("alice@{DOMAIN}"))
        .await
        .unwrap()
        .unwrap()
        .id;
    let mut balanced = false;
    for _ in 0..50 {
        let events = s.server().store.compliance_events(0, 100).await.unwrap();
        let count = |kind: &str| {
            events
                .iter()
                .filter(|e| e.principal_id == alice_id && e.kind == kind)
                .count()
        };
        if count("join") == 1 && count("part") == 1 {
            balanced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(balanced, "alice's join has exactly one part");
    let reply = bob.join(&room).await;
    let xccos::ReplyData::Join(data) = reply.data else {
        panic!("join reply expected")
    };
    let present: Vec<&str> = data.uibs.iter().map(|u| u.uri.as_str()).collect();
    assert_eq!(present, [format!("sip:bob@{DOMAIN}")]);
}

#[tokio::test]
async fn joins_left_open_by_a_crash_are_closed_at_start() {
    let mut s = TestServer::start().await;
    s.add_user("alice", "alice-pw").await;
    let room = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let store = &s.server().store;
    let alice = store
        .user(&format!("alice@{DOMAIN}"))
        .await
        .unwrap()
        .unwrap();
    let info = store
        .room_by_guid(room.rsplit('/').next().unwrap())
        .await
        .unwrap()
        .unwrap();
    // What a server killed while alice was in the room leaves behind.
    store
        .record_event(
            parlance_store::history::ComplianceKind::Join,
            info.room.id,
            alice.id,
            "",
            1,
        )
        .await
        .unwrap();
    s.restart().await;
    let events = s.server().store.compliance_events(0, 100).await.unwrap();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.content.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("join", ""),
            ("part", "the server stopped without recording this part")
        ]
    );
    s.restart().await;
    assert_eq!(
        s.server()
            .store
            .compliance_events(0, 100)
            .await
            .unwrap()
            .len(),
        2,
        "a closed join is not closed again"
    );
}

#[tokio::test]
async fn identity_headers_from_clients_are_replaced_by_the_authenticated_one() {
    let s = TestServer::start().await;
    s.add_user("alice", "alice-pw").await;
    s.add_user("bob", "bob-pw").await;
    let mut alice = s.tcp().await;
    assert_eq!(alice.register("alice", "alice-pw").await.status, 200);
    let mut bob = s.tcp().await;
    assert_eq!(bob.register("bob", "bob-pw").await.status, 200);
    let forged = message(
        &mut alice,
        "alice",
        "bob",
        "pai",
        &[
            &format!("P-Asserted-Identity: <sip:ceo@{DOMAIN}>"),
            &format!("P-Preferred-Identity: <sip:ceo@{DOMAIN}>"),
        ],
    );
    alice.send(forged).await;
    let got = bob.recv_request().await;
    let asserted: Vec<&str> = got.headers.get_all("P-Asserted-Identity").collect();
    assert_eq!(asserted, [format!("<sip:alice@{DOMAIN}>")]);
    assert_eq!(got.headers.get("P-Preferred-Identity"), None);
}

#[tokio::test]
async fn a_contact_registered_by_one_user_cannot_be_taken_by_another() {
    let s = TestServer::start().await;
    for (u, p) in [
        ("bob", "bob-pw"),
        ("mallory", "mallory-pw"),
        ("carol", "carol-pw"),
    ] {
        s.add_user(u, p).await;
    }
    let mut bob = s.tcp().await;
    assert_eq!(bob.register("bob", "bob-pw").await.status, 200);
    let bobs_contact = format!("sip:bob@{};transport=tcp", bob.local);

    // mallory registers bob's contact for herself.
    let mut mallory = s.tcp().await;
    let req = mallory.register_request("mallory", &["Expires: 3600"]);
    mallory.send(req).await;
    let challenge = mallory.recv_response().await;
    let auth = parlance_tests::digest_authorization(
        &challenge,
        sip_proto::auth::Algorithm::Md5,
        "mallory",
        "mallory-pw",
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        1,
    );
    let req = mallory
        .register_request(
            "mallory",
            &["Expires: 3600", &format!("Authorization: {auth}")],
        )
        .replace(
            &format!("Contact: <sip:mallory@{};transport=tcp>", mallory.local),
            &format!("Contact: <{bobs_contact}>"),
        );
    mallory.send(req).await;
    let refused = mallory.recv_response().await;
    assert_eq!(
        (refused.status, refused.reason.as_str()),
        (403, "Contact Registered By Another User")
    );

    // Requests to that contact still reach bob.
    let mut carol = s.tcp().await;
    assert_eq!(carol.register("carol", "carol-pw").await.status, 200);
    let req = carol.request(
        "MESSAGE",
        &bobs_contact,
        "carol",
        &format!("sip:bob@{DOMAIN}"),
        "to-contact",
        &[],
        "hi",
    );
    carol.send(req).await;
    assert_eq!(bob.recv_request().await.call_id(), "to-contact");
    mallory.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn the_data_directory_and_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let s = TestServer::start().await;
    s.add_user("alice", "alice-pw").await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&s.config.data_dir), 0o700);
    let db = s.config.database_path();
    assert_eq!(mode(&db), 0o600);
    for suffix in ["-wal", "-shm"] {
        let mut file = db.clone().into_os_string();
        file.push(suffix);
        assert_eq!(mode(std::path::Path::new(&file)), 0o600, "{suffix}");
    }
}

#[tokio::test]
async fn relayed_requests_to_a_signed_client_carry_only_the_servers_assertion() {
    let s = TestServer::start().await;
    s.add_user("alice", "alice-pw").await;
    s.add_user("bob", "bob-pw").await;
    let (mut alice, ok) = ntlm::handshake(&s, "alice", "alice", "alice-pw").await;
    assert_eq!(ok.status, 200);
    let mut bob = s.tcp().await;
    assert_eq!(bob.register("bob", "bob-pw").await.status, 200);
    let req = message(
        &mut bob,
        "bob",
        "alice",
        "to-alice",
        &[&format!("P-Asserted-Identity: <sip:alice@{DOMAIN}>")],
    );
    bob.send(req).await;
    let got = alice.conn.recv_request().await;
    let asserted: Vec<&str> = got.headers.get_all("P-Asserted-Identity").collect();
    assert_eq!(asserted, [format!("<sip:bob@{DOMAIN}>")]);
    assert!(server_signature_ok(&alice.auth, &Message::Request(got)));
}
