//! Attacks on what the server holds for others: one connection, user or address asking for
//! more than its share gets a clear refusal, and everyone else goes on being served.

use std::net::IpAddr;
use std::time::Duration;

use parlance_tests::chat::ChatClient;
use parlance_tests::{DOMAIN, SipConn, TestServer};
use sip_proto::Response;
use xccos::ResponseCode;

/// A MESSAGE from alice to bob.
fn to_bob(conn: &mut SipConn, call_id: &str) -> String {
    conn.request(
        "MESSAGE",
        &format!("sip:bob@{DOMAIN}"),
        "alice",
        &format!("sip:bob@{DOMAIN}"),
        call_id,
        &[],
        "ping",
    )
}

#[tokio::test]
async fn one_connection_holds_a_bounded_number_of_unanswered_requests() {
    let s = TestServer::start_with(|c| c.sip.max_pending_per_connection = 4).await;
    s.add_user("alice", "alice-pw").await;
    s.add_user("bob", "bob-pw").await;
    s.add_user("carol", "carol-pw").await;
    let mut alice = s.tcp().await;
    assert_eq!(alice.register("alice", "alice-pw").await.status, 200);
    let mut bob = s.tcp().await;
    assert_eq!(bob.register("bob", "bob-pw").await.status, 200);

    // bob never answers: four requests wait at the server, the rest are refused.
    for i in 0..6 {
        let req = to_bob(&mut alice, &format!("m{i}"));
        alice.send(req).await;
    }
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(bob.recv_request().await);
    }
    for _ in 0..2 {
        let refused = alice.recv_response().await;
        assert_eq!(
            (refused.status, refused.reason.as_str()),
            (503, "Too Many Pending Requests")
        );
        assert!(refused.headers.get("Retry-After").is_some());
    }
    bob.expect_silence(Duration::from_millis(200)).await;

    // Another sender is not affected.
    let mut carol = s.tcp().await;
    assert_eq!(carol.register("carol", "carol-pw").await.status, 200);
    let req = carol.request(
        "MESSAGE",
        &format!("sip:bob@{DOMAIN}"),
        "carol",
        &format!("sip:bob@{DOMAIN}"),
        "c1",
        &[],
        "hi",
    );
    carol.send(req).await;
    assert_eq!(bob.recv_request().await.call_id(), "c1");

    // An answer frees a place.
    let answer = Response::for_request(&held[0], 200).with_to_tag("b1");
    bob.send(answer.to_bytes()).await;
    assert_eq!(alice.recv_response().await.status, 200);
    let req = to_bob(&mut alice, "m6");
    alice.send(req).await;
    assert_eq!(bob.recv_request().await.call_id(), "m6");
}

/// An INVITE to the channel service outside any dialog.
fn chat_invite(conn: &SipConn, user: &str, call_id: &str) -> String {
    format!(
        "INVITE sip:chatsrv@{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK{call_id}\r\n\
         From: <sip:{user}@{DOMAIN}>;tag=t{call_id}\r\nTo: <sip:chatsrv@{DOMAIN}>\r\nMax-Forwards: 70\r\n\
         CSeq: 1 INVITE\r\nCall-ID: {call_id}\r\nContact: <sip:{user}@{local};transport=tcp>\r\n\
         Content-Length: 0\r\n\r\n",
        local = conn.local,
    )
}

#[tokio::test]
async fn one_user_holds_a_bounded_number_of_chat_sessions() {
    let s = TestServer::start_with(|c| c.chat.max_sessions_per_user = 2).await;
    s.add_user("alice", "alice-pw").await;
    s.add_user("bob", "bob-pw").await;
    let mut first = ChatClient::connect(&s, "alice", "alice-pw").await;
    let _second = ChatClient::connect(&s, "alice", "alice-pw").await;

    let mut third = s.tcp().await;
    assert_eq!(third.register("alice", "alice-pw").await.status, 200);
    let invite = chat_invite(&third, "alice", "third");
    third.send(invite).await;
    let refused = third.recv_response().await;
    assert_eq!(
        (refused.status, refused.reason.as_str()),
        (403, "Too Many Chat Sessions")
    );
    // Other users are not limited by alice's sessions.
    ChatClient::connect(&s, "bob", "bob-pw").await;

    first.bye().await;
    let invite = chat_invite(&third, "alice", "fourth");
    third.send(invite).await;
    assert_eq!(third.recv_response().await.status, 200);
}

#[tokio::test]
async fn stored_preferences_stay_within_a_quota() {
    let s = TestServer::start_with(|c| c.chat.preference_quota_bytes = 1_000).await;
    s.add_user("alice", "alice-pw").await;
    let mut alice = ChatClient::connect(&s, "alice", "alice-pw").await;
    let set = |label: &str, content: &str| {
        format!(
            "<cmd id=\"cmd:setpref\" seqid=\"1\"><data><pref label=\"{label}\" seqid=\"0\" createdefault=\"false\" content=\"{content}\"/></data></cmd>"
        )
    };
    assert!(
        alice
            .command(&set("alice.a", &"x".repeat(400)))
            .await
            .resp
            .is_success()
    );
    let refused = alice.command(&set("alice.b", &"x".repeat(600))).await;
    assert_eq!(
        refused.resp.response_code(),
        Some(ResponseCode::LimitExceeded)
    );
    let reply = alice.command("<cmd id=\"cmd:getpref\" seqid=\"1\"><data><pref label=\"alice.b\" seqid=\"0\" createdefault=\"true\"/></data></cmd>").await;
    let xccos::ReplyData::GetPref(Some(pref)) = reply.data else {
        panic!("getpref reply expected")
    };
    assert_eq!(pref.content, None, "the refused blob was not stored");
}

#[tokio::test]
async fn one_address_holds_a_bounded_number_of_connections() {
    let s = TestServer::start_with(|c| c.sip.max_connections_per_address = 2).await;
    s.add_user("alice", "alice-pw").await;
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    let _a = s.tcp_from(local).await;
    let _b = s.tcp_from(local).await;
    let mut refused = s.tcp_from(local).await;
    assert!(
        refused.until_closed().await.is_empty(),
        "the third connection from one address is closed at once"
    );
    let mut other = s.tcp_from("127.0.0.2".parse().unwrap()).await;
    assert_eq!(other.register("alice", "alice-pw").await.status, 200);
}

#[tokio::test]
async fn a_connection_that_does_not_authenticate_in_time_is_closed() {
    let s = TestServer::start().await;
    s.add_user("alice", "alice-pw").await;
    let mut signed_in = s.tcp().await;
    assert_eq!(signed_in.register("alice", "alice-pw").await.status, 200);
    let mut idle = s.tcp().await;
    // Answered without signing in: the server has accepted the connection and armed its
    // deadline.
    let ping = idle.request(
        "OPTIONS",
        &format!("sip:{DOMAIN}"),
        "nobody",
        &format!("sip:{DOMAIN}"),
        "ping",
        &[],
        "",
    );
    idle.send(ping).await;
    assert_eq!(idle.recv_response().await.status, 200);
    // Both connections' deadlines pass on the server's clock.
    s.clock
        .advance(Duration::from_secs(s.config.sip.auth_timeout_secs + 1));
    assert!(
        idle.until_closed().await.is_empty(),
        "closed without a word"
    );
    let options = signed_in.request(
        "OPTIONS",
        &format!("sip:{DOMAIN}"),
        "alice",
        &format!("sip:{DOMAIN}"),
        "opt",
        &[],
        "",
    );
    signed_in.send(options).await;
    assert_eq!(
        signed_in.recv_response().await.status,
        200,
        "the signed-in connection is still served"
    );
}
