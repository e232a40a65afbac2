//! Bad input and bad peers: each gets the protocol answer or a closed connection, and
//! nothing else is disturbed.

use std::time::{Duration, Instant};

use parlance_tests::{DOMAIN, SipConn, TestServer};
use sip_proto::Message;

#[tokio::test]
async fn malformed_request_is_answered_400_and_the_connection_carries_on() {
    let s = TestServer::start().await;
    s.add_user("alice", "wonderland").await;
    let mut c = s.tcp().await;
    let bad = c
        .request(
            "OPTIONS",
            &format!("sip:{DOMAIN}"),
            "alice",
            &format!("sip:{DOMAIN}"),
            "bad1",
            &[],
            "",
        )
        .replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
    c.send(bad).await;
    let r = c.recv_response().await;
    assert_eq!((r.status, r.reason.as_str()), (400, "CSeq Method Mismatch"));
    let bad = c
        .request(
            "OPTIONS",
            &format!("sip:{DOMAIN}"),
            "alice",
            &format!("sip:{DOMAIN}"),
            "bad2",
            &[],
            "",
        )
        .replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia");
    c.send(bad).await;
    assert_eq!(c.recv_response().await.status, 505);
    let bad = c.request(
        "OPTIONS",
        "tel:+15551234",
        "alice",
        &format!("sip:{DOMAIN}"),
        "bad3",
        &[],
        "",
    );
    c.send(bad).await;
    assert_eq!(c.recv_response().await.status, 416);
    assert_eq!(
        c.register("alice", "wonderland").await.status,
        200,
        "still usable"
    );
}

#[tokio::test]
async fn garbage_closes_only_its_own_connection() {
    let s = TestServer::start_with(|c| c.sip.max_head_bytes = 2048).await;
    s.add_user("alice", "wonderland").await;
    s.add_user("bob", "builder").await;
    let mut alice = s.tcp().await;
    let mut bob = s.tls().await;
    alice.register("alice", "wonderland").await;
    bob.register("bob", "builder").await;

    let mut evil = s.tcp().await;
    evil.send(vec![b'x'; 4096]).await;
    assert!(
        evil.until_closed().await.is_empty(),
        "an undelimited stream is closed unanswered"
    );

    let mut evil = s.tcp().await;
    let bad = evil.request(
        "MESSAGE",
        &format!("sip:bob@{DOMAIN}"),
        "alice",
        &format!("sip:bob@{DOMAIN}"),
        "cl",
        &[],
        "",
    );
    evil.send(bad.replace("Content-Length: 0", "Content-Length: banana"))
        .await;
    let seen = evil.until_closed().await;
    assert!(
        matches!(seen.as_slice(), [Message::Response(r)] if r.status == 400 && r.reason == "Malformed Content-Length"),
        "{seen:?}"
    );

    let req = alice.request(
        "MESSAGE",
        &format!("sip:bob@{DOMAIN}"),
        "alice",
        &format!("sip:bob@{DOMAIN}"),
        "after",
        &[],
        "still here",
    );
    alice.send(req).await;
    let got = bob.recv_request().await;
    assert_eq!(&got.body[..], b"still here");
}

#[tokio::test]
async fn oversized_body_is_413_and_skipped() {
    let s = TestServer::start_with(|c| c.sip.max_body_bytes = 1000).await;
    let mut c = s.tcp().await;
    let big = "z".repeat(5000);
    let req = c.request(
        "OPTIONS",
        &format!("sip:{DOMAIN}"),
        "alice",
        &format!("sip:{DOMAIN}"),
        "big",
        &[],
        &big,
    );
    c.send(req).await;
    assert_eq!(c.recv_response().await.status, 413);
    let req = c.request(
        "OPTIONS",
        &format!("sip:{DOMAIN}"),
        "alice",
        &format!("sip:{DOMAIN}"),
        "small",
        &[],
        "",
    );
    c.send(req).await;
    assert_eq!(
        c.recv_response().await.status,
        200,
        "the next message is read normally"
    );
}

#[tokio::test]
async fn header_flood_is_refused() {
    let s = TestServer::start_with(|c| c.sip.max_headers = 50).await;
    let mut c = s.tcp().await;
    let flood: Vec<String> = (0..80).map(|i| format!("X-Flood-{i}: y")).collect();
    let flood: Vec<&str> = flood.iter().map(String::as_str).collect();
    let req = c.request(
        "OPTIONS",
        &format!("sip:{DOMAIN}"),
        "alice",
        &format!("sip:{DOMAIN}"),
        "flood",
        &flood,
        "",
    );
    c.send(req).await;
    let r = c.recv_response().await;
    assert_eq!((r.status, r.reason.as_str()), (400, "Too Many Headers"));
}

#[tokio::test]
async fn a_slow_sender_is_cut_off_and_keepalives_are_fine() {
    let s = TestServer::start_with(|c| {
        c.sip.message_timeout_secs = 1;
        c.sip.idle_timeout_secs = 2;
    })
    .await;
    let mut keepalive = s.tcp().await;
    let mut slow = s.tcp().await;
    slow.send("OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9hG4bKslow\r\n")
        .await;
    // The keep-alives must span more than the idle timeout to show that they reset it. The
    // transport's timeouts are tokio timers, not the server's test Clock, so this takes
    // real time: the pauses pace the client, they wait for nothing the server does.
    let keepalives = async {
        for _ in 0..3 {
            keepalive.send("\r\n\r\n").await;
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    };
    let ((), seen) = tokio::join!(keepalives, slow.until_closed());
    assert!(
        seen.is_empty(),
        "the incomplete message's connection is closed unanswered: {seen:?}"
    );
    assert_eq!(
        options(&mut keepalive, "ka").await,
        200,
        "CRLF keep-alives hold the connection"
    );
    assert!(keepalive.try_recv().await.is_none(), "then idle timeout");
}

#[tokio::test]
async fn connection_limit_refuses_extra_connections_only() {
    let s = TestServer::start_with(|c| c.sip.max_connections = 2).await;
    let mut a = s.tcp().await;
    let mut b = s.tcp().await;
    // An answer on each shows the server has accepted and counted both.
    for (c, id) in [(&mut a, "lim-a"), (&mut b, "lim-b")] {
        assert_eq!(options(c, id).await, 200);
    }
    let mut refused = s.tcp().await;
    assert!(refused.try_recv().await.is_none(), "closed at once");
    assert_eq!(options(&mut a, "lim").await, 200);
}

/// Sends an OPTIONS to the server's domain and returns the status it is answered with.
async fn options(c: &mut SipConn, call_id: &str) -> u16 {
    let req = c.request(
        "OPTIONS",
        &format!("sip:{DOMAIN}"),
        "a",
        &format!("sip:{DOMAIN}"),
        call_id,
        &[],
        "",
    );
    c.send(req).await;
    c.recv_response().await.status
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_without_blocking_others() {
    let s = TestServer::start_with(|c| c.sip.write_queue_bytes = 256 * 1024).await;
    for (user, pw) in [("alice", "a"), ("bob", "b"), ("carol", "c"), ("dave", "d")] {
        s.add_user(user, pw).await;
    }
    let (mut alice, mut bob, mut carol, mut dave) =
        (s.tcp().await, s.tcp().await, s.tcp().await, s.tcp().await);
    alice.register("alice", "a").await;
    bob.register("bob", "b").await;
    carol.register("carol", "c").await;
    dave.register("dave", "d").await;
    // bob never reads; alice floods him.
    let body = "m".repeat(60_000);
    let mut dropped = false;
    for i in 0..300 {
        let req = alice.request(
            "MESSAGE",
            &format!("sip:bob@{DOMAIN}"),
            "alice",
            &format!("sip:bob@{DOMAIN}"),
            &format!("flood{i}"),
            &[],
            &body,
        );
        alice.send(req).await;
        if s.server()
            .front_end
            .registrar()
            .lookup("sip:bob@example.test")
            .is_empty()
        {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "bob's connection was dropped once his queue filled"
    );
    // Everyone else carries on.
    let req = carol.request(
        "MESSAGE",
        &format!("sip:dave@{DOMAIN}"),
        "carol",
        &format!("sip:dave@{DOMAIN}"),
        "fine",
        &[],
        "hi dave",
    );
    carol.send(req).await;
    let got = dave.recv_request().await;
    assert_eq!(&got.body[..], b"hi dave");
    dave.send(
        sip_proto::Response::for_request(&got, 200)
            .with_to_tag("d")
            .to_bytes(),
    )
    .await;
    assert_eq!(carol.recv_response().await.status, 200);
}

#[tokio::test]
async fn shutdown_closes_connections() {
    let mut s = TestServer::start().await;
    let mut c = s.tcp().await;
    assert_eq!(options(&mut c, "sd").await, 200);
    let addr = s.tcp_addr();
    tokio::time::timeout(Duration::from_secs(10), s.shutdown())
        .await
        .expect("shutdown is prompt");
    assert!(c.try_recv().await.is_none());
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn a_response_matching_nothing_is_ignored() {
    let s = TestServer::start().await;
    let mut c = s.tcp().await;
    let mut raw = SipConn::tcp(s.tcp_addr()).await;
    raw.send(format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP {};branch=z9hG4bKnothing\r\nFrom: <sip:a@{DOMAIN}>;tag=1\r\nTo: <sip:b@{DOMAIN}>;tag=2\r\nCall-ID: stray\r\nCSeq: 1 INFO\r\nContent-Length: 0\r\n\r\n",
        raw.local
    ))
    .await;
    raw.expect_silence(Duration::from_millis(200)).await;
    assert_eq!(options(&mut c, "ok").await, 200);
}

/// Half a message is never handed on: its connection is closed unanswered once
/// `message_timeout` has passed, or as soon as its peer goes, and the others carry on.
#[tokio::test]
async fn half_a_message_is_never_dispatched() {
    let s = TestServer::start_with(|c| c.sip.message_timeout_secs = 1).await;
    let mut other = s.tcp().await;
    let mut half = s.tcp().await;
    // A whole OPTIONS would be answered 200; this one lacks the end of its body.
    let whole = half.request(
        "OPTIONS",
        &format!("sip:{DOMAIN}"),
        "a",
        &format!("sip:{DOMAIN}"),
        "half",
        &[],
        "0123456789",
    );
    let started = Instant::now();
    half.send(&whole[..whole.len() - 5]).await;
    let seen = half.until_closed().await;
    assert!(seen.is_empty(), "not answered: {seen:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "closed by message_timeout, not before: {:?}",
        started.elapsed()
    );

    // A peer that leaves in the middle of a message.
    let mut gone = s.tcp().await;
    gone.send("REGIS").await;
    drop(gone);

    assert_eq!(options(&mut other, "other").await, 200, "unaffected");
}
