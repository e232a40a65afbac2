//! Issue 10, items 5 and 6, as an attacker or an administrator would meet them over real
//! sockets: rights taken away take effect on live sessions at once, account changes end
//! sessions, removed accounts keep their history, and failed sign-ins slow the guesser
//! without locking the account's owner out.
//!
//! The administrator's changes go through the same store calls as the admin commands (which
//! run as separate processes against the same database: `crates/parlance/tests/admin.rs`
//! runs the real binary); the server applies them from the access change feed, polled every
//! few milliseconds here.

use std::net::IpAddr;

use parlance_store::history::ComplianceKind;
use parlance_store::rooms::{Behavior, Privacy, Role, RoomUpdate};
use parlance_store::{ServerKey, StoreError};
use parlance_tests::chat::ChatClient;
use parlance_tests::{DOMAIN, SipConn, TestServer, WAIT, digest_authorization};
use sip_proto::Response;
use sip_proto::auth::Algorithm;
use xccos::{Message as Xccos, Notice, ResponseCode};

async fn server(users: &[&str]) -> TestServer {
    let s = TestServer::start_with(|c| {
        c.admin_changes_poll_ms = 10;
        // The guessing test waits out delays of minutes on the server's clock without ever
        // signing in on its connection.
        c.sip.auth_timeout_secs = 3600;
    })
    .await;
    for u in users {
        s.add_user(u, "pw").await;
    }
    s
}

fn uri(user: &str) -> String {
    format!("sip:{user}@{DOMAIN}")
}

async fn principal(s: &TestServer, user: &str) -> i64 {
    s.server().store.user(&uri(user)).await.unwrap().unwrap().id
}

async fn room_id(s: &TestServer, room_uri: &str) -> i64 {
    let guid = room_uri.rsplit('/').next().unwrap();
    let info = s.server().store.room_by_guid(guid).await.unwrap();
    info.unwrap().room.id
}

fn key(s: &TestServer) -> ServerKey {
    ServerKey::load_or_create(&s.config.server_key_path()).unwrap()
}

/// The users an `ntc:part` names for `room`.
fn parted(notice: &Notice, room: &str) -> Vec<String> {
    match notice {
        Notice::Part(chanibs) => chanibs
            .iter()
            .filter(|c| c.uri == room)
            .flat_map(|c| c.uibs.iter().map(|u| u.uri.clone()))
            .collect(),
        other => panic!("expected ntc:part, got {other:?}"),
    }
}

#[tokio::test]
async fn a_member_removed_by_the_administrator_leaves_the_room_at_once() {
    let s = server(&["alice", "bob"]).await;
    let room = s
        .add_room(
            "Board",
            Privacy::Closed,
            Behavior::Normal,
            &[("alice", Role::Member), ("bob", Role::Member)],
        )
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    assert!(alice.join(&room).await.resp.is_success());
    assert!(bob.join(&room).await.resp.is_success());
    assert!(matches!(alice.next_notice().await, Notice::Join(_)));

    // `parlance room member remove Board bob@…`, while bob sits in the room.
    let (room_id, bob_id) = (room_id(&s, &room).await, principal(&s, "bob").await);
    s.server()
        .store
        .set_role(room_id, bob_id, Role::Member, false)
        .await
        .unwrap();

    // bob is told he is out, as for a part; alice sees him go.
    assert_eq!(parted(&bob.next_notice().await, &room), [uri("bob")]);
    assert_eq!(parted(&alice.next_notice().await, &room), [uri("bob")]);

    // Nothing more reaches him: alice's next post comes back to her only.
    assert_eq!(alice.post(&room, "board only").await, 200);
    assert_eq!(alice.next_chat().await.text, "board only");
    // bob's own requests are answered after anything sent to him before them.
    assert_eq!(bob.post(&room, "still here?").await, 403, "not joined");
    let rejoin = bob.join(&room).await;
    assert_eq!(rejoin.resp.code, ResponseCode::Permission.code());
    let leaked: Vec<_> = bob
        .take_inbox()
        .into_iter()
        .flat_map(|e| e.messages)
        .filter(|m| matches!(m, Xccos::GrpChat(_)))
        .collect();
    assert!(leaked.is_empty(), "bob received {leaked:?}");
    let history = alice.history(&room, "<last cnt=\"5\"/>").await;
    assert!(history.iter().all(|m| m.text != "still here?"));

    // The departure is on the compliance record, with its reason.
    let events = s.server().store.compliance_events(0, 1000).await.unwrap();
    let parts: Vec<_> = events
        .iter()
        .filter(|e| e.kind == ComplianceKind::Part.as_str() && e.principal_id == bob_id)
        .collect();
    assert_eq!(parts.len(), 1, "{events:?}");
    assert_eq!(
        (parts[0].room_id, parts[0].content.as_str()),
        (room_id, "access revoked")
    );

    // `parlance room disable Board`: nobody may stay.
    let disable = RoomUpdate {
        disabled: Some(true),
        ..RoomUpdate::default()
    };
    s.server()
        .store
        .update_room(room_id, &disable)
        .await
        .unwrap();
    assert_eq!(parted(&alice.next_notice().await, &room), [uri("alice")]);
    assert_eq!(alice.post(&room, "anyone?").await, 404);
}

#[tokio::test]
async fn password_change_and_disabling_end_sessions_and_disabled_accounts_cannot_sign_in() {
    let s = server(&["alice", "bob"]).await;
    let room = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    assert!(bob.join(&room).await.resp.is_success());
    assert!(alice.join(&room).await.resp.is_success());
    assert!(matches!(bob.next_notice().await, Notice::Join(_)));

    // `parlance user passwd alice@…`: her live session ends with it.
    let store = &s.server().store;
    store
        .set_password(&uri("alice"), "new", s.config.realm(), &key(&s))
        .await
        .unwrap();
    alice.conn.until_closed().await;
    assert_eq!(parted(&bob.next_notice().await, &room), [uri("alice")]);
    let mut again = s.tcp().await;
    assert_eq!(
        again.register("alice", "pw").await.status,
        401,
        "old password"
    );
    assert_eq!(again.register("alice", "new").await.status, 200);

    // `parlance user disable alice@…`: that session ends too, and sign-in is refused.
    store.set_disabled(&uri("alice"), true).await.unwrap();
    again.until_closed().await;
    let mut refused = s.tcp().await;
    let answer = refused.register("alice", "new").await;
    assert_eq!(
        (answer.status, answer.reason.as_str()),
        (403, "Account Disabled")
    );
    assert!(refused.until_closed().await.is_empty());
    let mut wrong = s.tcp().await;
    assert_eq!(
        wrong.register("alice", "guess").await.status,
        401,
        "without the password nobody learns that the account is disabled"
    );

    // `parlance user enable alice@…`.
    store.set_disabled(&uri("alice"), false).await.unwrap();
    assert_eq!(s.tcp().await.register("alice", "new").await.status, 200);
}

#[tokio::test]
async fn a_removed_user_with_history_keeps_their_messages_and_their_address() {
    let s = server(&["alice", "bob"]).await;
    let room = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    assert!(alice.join(&room).await.resp.is_success());
    assert_eq!(alice.post(&room, "written by alice").await, 200);

    // `parlance user remove alice@…` while she is signed in.
    let store = &s.server().store;
    store.remove_user(&uri("alice")).await.unwrap();
    alice.conn.until_closed().await;

    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    let history = bob.history(&room, "<last cnt=\"5\"/>").await;
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].author.as_str(), history[0].text.as_str()),
        (uri("alice").as_str(), "written by alice")
    );
    let mut gone = s.tcp().await;
    assert_eq!(gone.register("alice", "pw").await.status, 401);

    // Nobody gets her address by accident.
    let added = store
        .add_user(&uri("alice"), "", "pw2", s.config.realm(), &key(&s))
        .await;
    assert!(matches!(added, Err(StoreError::Removed(_))), "{added:?}");
}

/// One sign-in attempt with Digest: the first REGISTER draws a challenge (or, for an
/// address that must wait, the refusal), the second answers it.
async fn attempt(conn: &mut SipConn, user: &str, password: &str) -> Response {
    let req = conn.register_request(user, &["Expires: 3600"]);
    conn.send(req).await;
    let challenge = conn.recv_response().await;
    if challenge.status != 401 {
        return challenge;
    }
    let auth = digest_authorization(
        &challenge,
        Algorithm::Md5,
        user,
        password,
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        1,
    );
    let req = conn.register_request(user, &["Expires: 3600", &format!("Authorization: {auth}")]);
    conn.send(req).await;
    conn.recv_response().await
}

fn retry_after(r: &Response) -> u64 {
    assert_eq!(
        (r.status, r.reason.as_str()),
        (403, "Too Many Failed Attempts")
    );
    r.headers.get("Retry-After").unwrap().parse().unwrap()
}

#[tokio::test]
async fn guessing_from_one_address_slows_that_address_and_never_locks_the_owner_out() {
    let s = server(&["alice"]).await;
    let attacker_ip: IpAddr = "127.0.0.1".parse().unwrap();
    let owner_ip: IpAddr = "127.0.0.2".parse().unwrap();
    let mut attacker = s.tcp_from(attacker_ip).await;

    // Twenty wrong passwords, the attacker waiting out each delay (on the server's clock).
    let (mut failures, mut waits) = (0, Vec::new());
    while failures < 20 {
        let answer = attempt(&mut attacker, "alice", "guess").await;
        if answer.status == 401 {
            failures += 1;
            continue;
        }
        let wait = retry_after(&answer);
        waits.push(wait);
        s.clock.advance(std::time::Duration::from_secs(wait));
    }
    let defaults = &s.config.auth;
    // The free failures end with a first wait; every failure after that starts another
    // (the twentieth's is met below).
    assert_eq!(
        waits.len() as u32,
        20 - defaults.max_failures_per_account_address,
        "{waits:?}"
    );
    assert!(waits.windows(2).all(|w| w[0] <= w[1]), "growing: {waits:?}");
    assert_eq!(*waits.last().unwrap(), defaults.max_failure_delay_secs);

    // The attacker's address now waits, even with the right password …
    let answer = attempt(&mut attacker, "alice", "pw").await;
    assert_eq!(retry_after(&answer), defaults.max_failure_delay_secs);
    // … while alice, from her own address, signs in at once.
    let mut owner = s.tcp_from(owner_ip).await;
    assert_eq!(owner.local.ip(), owner_ip);
    assert_eq!(attempt(&mut owner, "alice", "pw").await.status, 200);

    // `parlance user unlock alice@…` lets the attacker's address try again.
    s.server()
        .store
        .request_unlock(&uri("alice"))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = attempt(&mut attacker, "alice", "pw").await;
        if answer.status == 200 {
            break;
        }
        retry_after(&answer);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the unlock was not applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
