//! Requests between registered users and to the server itself, over real sockets.

use parlance_tests::{DOMAIN, SipConn, TestServer};
use sip_proto::Method;

async fn two_users() -> (TestServer, SipConn, SipConn) {
    let s = TestServer::start().await;
    s.add_user("alice", "wonderland").await;
    s.add_user("bob", "builder").await;
    let mut alice = s.tcp().await;
    let mut bob = s.tls().await;
    assert_eq!(alice.register("alice", "wonderland").await.status, 200);
    assert_eq!(bob.register("bob", "builder").await.status, 200);
    (s, alice, bob)
}

#[tokio::test]
async fn message_is_routed_between_registered_users_over_tcp_and_tls() {
    let (_s, mut alice, mut bob) = two_users().await;
    let req = alice.request(
        "MESSAGE",
        &format!("sip:bob@{DOMAIN}"),
        "alice",
        &format!("sip:bob@{DOMAIN}"),
        "m1",
        &["Content-Type: text/plain"],
        "hello bob",
    );
    alice.send(req).await;
    let got = bob.recv_request().await;
    assert_eq!(got.method, Method::Message);
    assert_eq!(&got.body[..], b"hello bob");
    assert_eq!(
        got.uri.to_string(),
        format!("sip:bob@{};transport=tls", bob.local),
        "Request-URI is bob's contact"
    );
    let vias = got.vias();
    assert_eq!(vias.len(), 2, "the proxy adds its Via on top");
    assert!(vias[0].rfc3261_branch().is_some());
    assert_eq!(vias[0].transport, "TLS");
    assert_eq!(got.headers.get("Max-Forwards"), Some("69"));
    assert!(
        got.headers.get("Record-Route").is_none(),
        "MESSAGE creates no dialog"
    );
    // bob answers; alice gets the answer with the proxy's Via removed.
    let mut answer = sip_proto::Response::for_request(&got, 200).with_to_tag("bobtag");
    answer
        .headers
        .push("Contact", format!("<sip:bob@{}>", bob.local));
    bob.send(answer.to_bytes()).await;
    let ok = alice.recv_response().await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.vias().len(), 1);
    assert_eq!(ok.to().unwrap().tag(), Some("bobtag"));
}

#[tokio::test]
async fn message_to_offline_and_unknown_users() {
    let (s, mut alice, _bob) = two_users().await;
    s.add_user("carol", "x").await;
    let req = alice.request(
        "MESSAGE",
        &format!("sip:carol@{DOMAIN}"),
        "alice",
        &format!("sip:carol@{DOMAIN}"),
        "m2",
        &[],
        "hi",
    );
    alice.send(req).await;
    assert_eq!(alice.recv_response().await.status, 480);
    let req = alice.request(
        "MESSAGE",
        &format!("sip:nobody@{DOMAIN}"),
        "alice",
        &format!("sip:nobody@{DOMAIN}"),
        "m3",
        &[],
        "hi",
    );
    alice.send(req).await;
    assert_eq!(alice.recv_response().await.status, 404);
    let req = alice.request(
        "MESSAGE",
        "sip:someone@elsewhere.test",
        "alice",
        "sip:someone@elsewhere.test",
        "m4",
        &[],
        "hi",
    );
    alice.send(req).await;
    let r = alice.recv_response().await;
    assert_eq!((r.status, r.reason.as_str()), (403, "Relaying Not Allowed"));
}

#[tokio::test]
async fn message_forks_to_every_binding_and_the_first_2xx_wins() {
    let s = TestServer::start().await;
    s.add_user("alice", "wonderland").await;
    s.add_user("bob", "builder").await;
    let mut alice = s.tcp().await;
    let (mut bob1, mut bob2) = (s.tcp().await, s.tls().await);
    alice.register("alice", "wonderland").await;
    bob1.register("bob", "builder").await;
    bob2.register("bob", "builder").await;
    let req = alice.request(
        "MESSAGE",
        &format!("sip:bob@{DOMAIN}"),
        "alice",
        &format!("sip:bob@{DOMAIN}"),
        "fork",
        &[],
        "both",
    );
    alice.send(req).await;
    let (r1, r2) = (bob1.recv_request().await, bob2.recv_request().await);
    assert_ne!(
        r1.top_via().unwrap().branch(),
        r2.top_via().unwrap().branch(),
        "each fork has its own branch"
    );
    bob2.send(
        sip_proto::Response::for_request(&r2, 486)
            .with_to_tag("b2")
            .to_bytes(),
    )
    .await;
    bob1.send(
        sip_proto::Response::for_request(&r1, 200)
            .with_to_tag("b1")
            .to_bytes(),
    )
    .await;
    let answer = alice.recv_response().await;
    assert_eq!(answer.status, 200);
    alice
        .expect_silence(std::time::Duration::from_millis(200))
        .await;
}

#[tokio::test]
async fn invite_dialog_is_record_routed_and_in_dialog_requests_follow_the_flow() {
    let (_s, mut alice, mut bob) = two_users().await;
    let invite = alice.request(
        "INVITE",
        &format!("sip:bob@{DOMAIN}"),
        "alice",
        &format!("sip:bob@{DOMAIN}"),
        "call1",
        &["Content-Type: application/sdp"],
        "v=0\r\n",
    );
    alice.send(invite).await;
    let got = bob.recv_request().await;
    let rr = got
        .headers
        .get("Record-Route")
        .expect("INVITE is record-routed")
        .to_owned();
    let mut ok = sip_proto::Response::for_request(&got, 200).with_to_tag("bt");
    ok.headers.push("Record-Route", rr.clone());
    // bob's Contact is unreachable on purpose (like pidgin-sipe's): only the flow gets there.
    ok.headers
        .push("Contact", "<sip:bob@192.0.2.99:5999;transport=tls>");
    bob.send(ok.to_bytes()).await;
    let ok = alice.recv_response().await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.get("Record-Route"), Some(rr.as_str()));
    let route = format!("Route: {rr}");
    let bye = format!(
        "BYE sip:bob@192.0.2.99:5999;transport=tls SIP/2.0\r\nVia: SIP/2.0/TCP {};branch=z9hG4bKbye1\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@{DOMAIN}>;tag=talice\r\nTo: <sip:bob@{DOMAIN}>;tag=bt\r\nCall-ID: call1\r\nCSeq: 2 BYE\r\n{route}\r\nContent-Length: 0\r\n\r\n",
        alice.local
    );
    let ack = bye
        .replace("BYE sip", "ACK sip")
        .replace("2 BYE", "1 ACK")
        .replace("z9hG4bKbye1", "z9hG4bKack1");
    alice.send(ack).await;
    let got_ack = bob.recv_request().await;
    assert_eq!(got_ack.method, Method::Ack);
    assert!(
        got_ack.headers.get("Route").is_none(),
        "our own Route is consumed"
    );
    alice.send(bye).await;
    let got_bye = bob.recv_request().await;
    assert_eq!(got_bye.method, Method::Bye);
    bob.send(sip_proto::Response::for_request(&got_bye, 200).to_bytes())
        .await;
    assert_eq!(alice.recv_response().await.status, 200);
}

#[tokio::test]
async fn forged_flow_tokens_are_not_followed() {
    let (_s, mut alice, mut bob) = two_users().await;
    let bye = format!(
        "BYE sip:bob@192.0.2.99:5999 SIP/2.0\r\nVia: SIP/2.0/TCP {};branch=z9hG4bKf1\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@{DOMAIN}>;tag=a\r\nTo: <sip:bob@{DOMAIN}>;tag=b\r\nCall-ID: forged\r\nCSeq: 2 BYE\r\n\
         Route: <sip:parlance@127.0.0.1;lr;pf=1.2.0000000000000000>\r\nContent-Length: 0\r\n\r\n",
        alice.local
    );
    alice.send(bye).await;
    assert_eq!(alice.recv_response().await.status, 481);
    bob.expect_silence(std::time::Duration::from_millis(200))
        .await;
}

#[tokio::test]
async fn cancel_reaches_the_callee_and_the_invite_ends_487() {
    let (_s, mut alice, mut bob) = two_users().await;
    let invite = alice.request(
        "INVITE",
        &format!("sip:bob@{DOMAIN}"),
        "alice",
        &format!("sip:bob@{DOMAIN}"),
        "call2",
        &[],
        "",
    );
    let branch = invite
        .lines()
        .find_map(|l| l.split("branch=").nth(1))
        .unwrap()
        .to_owned();
    alice.send(&invite).await;
    let got = bob.recv_request().await;
    bob.send(
        sip_proto::Response::for_request(&got, 180)
            .with_to_tag("r")
            .to_bytes(),
    )
    .await;
    assert_eq!(alice.recv_response().await.status, 180);
    let cancel = format!(
        "CANCEL sip:bob@{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/TCP {};branch={branch}\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@{DOMAIN}>;tag=talice\r\nTo: <sip:bob@{DOMAIN}>\r\nCall-ID: call2\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
        alice.local
    );
    alice.send(cancel).await;
    assert_eq!(
        alice.recv_response().await.status,
        200,
        "CANCEL answered hop by hop"
    );
    let got_cancel = bob.recv_request().await;
    assert_eq!(got_cancel.method, Method::Cancel);
    assert_eq!(
        got_cancel.top_via().unwrap().branch(),
        got.top_via().unwrap().branch()
    );
    bob.send(sip_proto::Response::for_request(&got_cancel, 200).to_bytes())
        .await;
    bob.send(
        sip_proto::Response::for_request(&got, 487)
            .with_to_tag("r")
            .to_bytes(),
    )
    .await;
    assert_eq!(alice.recv_response().await.status, 487);
    let ack = bob.recv_request().await;
    assert_eq!(
        ack.method,
        Method::Ack,
        "the proxy acknowledges the 487 itself"
    );
}

#[tokio::test]
async fn cancel_without_a_matching_invite_is_481() {
    let (_s, mut alice, _bob) = two_users().await;
    let req = alice.request(
        "CANCEL",
        &format!("sip:bob@{DOMAIN}"),
        "alice",
        &format!("sip:bob@{DOMAIN}"),
        "none",
        &[],
        "",
    );
    alice.send(req).await;
    assert_eq!(alice.recv_response().await.status, 481);
}

#[tokio::test]
async fn options_unknown_methods_hops_and_extensions() {
    let (_s, mut alice, _bob) = two_users().await;
    let req = alice.request(
        "OPTIONS",
        &format!("sip:{DOMAIN}"),
        "alice",
        &format!("sip:{DOMAIN}"),
        "o1",
        &[],
        "",
    );
    alice.send(req).await;
    let r = alice.recv_response().await;
    assert_eq!(r.status, 200);
    assert!(r.headers.get("Allow").unwrap().contains("REGISTER"));

    let req = alice.request(
        "FROBNICATE",
        &format!("sip:bob@{DOMAIN}"),
        "alice",
        &format!("sip:bob@{DOMAIN}"),
        "o2",
        &[],
        "",
    );
    alice.send(req).await;
    let r = alice.recv_response().await;
    assert_eq!(r.status, 501);
    assert!(r.headers.get("Allow").is_some());

    let req = alice
        .request(
            "MESSAGE",
            &format!("sip:bob@{DOMAIN}"),
            "alice",
            &format!("sip:bob@{DOMAIN}"),
            "o3",
            &[],
            "",
        )
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    alice.send(req).await;
    assert_eq!(alice.recv_response().await.status, 483);

    let req = alice.request(
        "MESSAGE",
        &format!("sip:bob@{DOMAIN}"),
        "alice",
        &format!("sip:bob@{DOMAIN}"),
        "o4",
        &["Proxy-Require: x-teleport"],
        "",
    );
    alice.send(req).await;
    let r = alice.recv_response().await;
    assert_eq!(r.status, 420);
    assert_eq!(r.headers.get("Unsupported"), Some("x-teleport"));

    let req = alice.request(
        "OPTIONS",
        &format!("sip:{DOMAIN}"),
        "alice",
        &format!("sip:{DOMAIN}"),
        "o5",
        &["Require: x-teleport"],
        "",
    );
    alice.send(req).await;
    assert_eq!(alice.recv_response().await.status, 420);
}

#[tokio::test]
async fn requests_need_a_registration_and_a_matching_from() {
    let s = TestServer::start().await;
    s.add_user("alice", "wonderland").await;
    let mut anon = s.tcp().await;
    let req = anon.request(
        "MESSAGE",
        &format!("sip:alice@{DOMAIN}"),
        "mallory",
        &format!("sip:alice@{DOMAIN}"),
        "x1",
        &[],
        "",
    );
    anon.send(req).await;
    let r = anon.recv_response().await;
    assert_eq!((r.status, r.reason.as_str()), (403, "Register First"));
    // OPTIONS to the server itself needs no account (monitoring, keep-alive probes).
    let req = anon.request(
        "OPTIONS",
        &format!("sip:{DOMAIN}"),
        "mallory",
        &format!("sip:{DOMAIN}"),
        "x2",
        &[],
        "",
    );
    anon.send(req).await;
    assert_eq!(anon.recv_response().await.status, 200);

    let mut alice = s.tcp().await;
    alice.register("alice", "wonderland").await;
    let req = alice.request(
        "MESSAGE",
        &format!("sip:alice@{DOMAIN}"),
        "mallory",
        &format!("sip:alice@{DOMAIN}"),
        "x3",
        &[],
        "",
    );
    alice.send(req).await;
    assert_eq!(
        alice.recv_response().await.status,
        403,
        "alice's connection cannot speak for mallory"
    );
}
