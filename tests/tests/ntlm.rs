//! NTLM with message signing (MS-SIPAE) over TLS against the real server: the handshake,
//! then signed traffic in both directions, relayed messages re-signed per receiver, and
//! tampered, replayed, unsigned and wrongly authenticated messages refused.

use std::time::Duration;

use parlance_tests::ntlm::{
    self, Signed, TARGET, config, parse, random, server_signature_ok, sign,
};
use parlance_tests::{DOMAIN, SipConn, TestServer};
use sip_proto::{Message, Response};
use sipae::client;
use sipae::{AuthFields, Credentials, DEFAULT_REALM, GssapiData, MessageFields};

async fn handshake(s: &TestServer, password: &str) -> (Signed, Response) {
    ntlm::handshake(s, "alice", "alice", password).await
}

#[tokio::test]
async fn handshake_then_signed_traffic_in_both_directions() {
    let s = TestServer::start().await;
    s.add_user("alice", "secret").await;
    s.add_user("bob", "builder").await;
    let (mut alice, ok) = handshake(&s, "secret").await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(
        server_signature_ok(&alice.auth, &Message::Response(ok.clone())),
        "the 200 is signed for alice"
    );
    assert!(
        ok.headers
            .get_all("Supported")
            .any(|v| v == "msrtc-event-categories")
    );

    let options = alice.conn.request(
        "OPTIONS",
        &format!("sip:{DOMAIN}"),
        "alice",
        &format!("sip:{DOMAIN}"),
        "opt",
        &[],
        "",
    );
    let options = alice.sign(&options);
    alice.conn.send(options).await;
    let answer = alice.conn.recv_response().await;
    assert_eq!(answer.status, 200);
    assert!(server_signature_ok(&alice.auth, &Message::Response(answer)));

    // bob (Digest) writes to alice: alice gets it signed for her, without bob's credentials.
    let mut bob = s.tcp().await;
    assert_eq!(bob.register("bob", "builder").await.status, 200);
    let msg = bob.request(
        "MESSAGE",
        &format!("sip:alice@{DOMAIN}"),
        "bob",
        &format!("sip:alice@{DOMAIN}"),
        "m1",
        &["Content-Type: text/plain"],
        "hi alice",
    );
    bob.send(msg).await;
    let got = alice.conn.recv_request().await;
    assert_eq!(&got.body[..], b"hi alice");
    assert!(
        server_signature_ok(&alice.auth, &Message::Request(got.clone())),
        "relayed requests are signed per receiver"
    );
    // alice's answer is signed by her; bob receives it with her signature removed.
    let mut answer = Response::for_request(&got, 200).with_to_tag("a1");
    let text = String::from_utf8(answer.to_bytes()).unwrap();
    let fields_req = parse_response(&text);
    alice.cnum += 1;
    let cnum = (alice.cnum - 1).to_string();
    let af = AuthFields {
        scheme: "NTLM",
        rand: "1a2b3c4d",
        num: &cnum,
        realm: DEFAULT_REALM,
        targetname: TARGET,
    };
    let sig = alice
        .auth
        .sign(4, &af, &MessageFields::of_response(&fields_req));
    answer.headers.push(
        "Authorization",
        format!(r#"NTLM qop="auth", opaque="{}", realm="{DEFAULT_REALM}", targetname="{TARGET}", crand="1a2b3c4d", cnum="{cnum}", response="{}""#, alice.opaque, sig.to_hex().to_lowercase()),
    );
    alice.conn.send(answer.to_bytes()).await;
    let relayed = bob.recv_response().await;
    assert_eq!(relayed.status, 200);
    assert!(
        relayed.headers.get("Authorization").is_none()
            && relayed.headers.get("Authentication-Info").is_none()
    );

    // alice writes to bob, signed.
    let msg = alice.conn.request(
        "MESSAGE",
        &format!("sip:bob@{DOMAIN}"),
        "alice",
        &format!("sip:bob@{DOMAIN}"),
        "m2",
        &[],
        "hi bob",
    );
    let msg = alice.sign(&msg);
    alice.conn.send(msg).await;
    let got = bob.recv_request().await;
    assert_eq!(&got.body[..], b"hi bob");
    assert!(
        got.headers.get("Authorization").is_none(),
        "alice's credentials stay with the server"
    );
}

fn parse_response(text: &str) -> Response {
    match parse(text) {
        Message::Response(r) => r,
        Message::Request(r) => panic!("not a response: {}", r.method),
    }
}

#[tokio::test]
async fn tampered_replayed_and_unsigned_requests_are_dropped() {
    let s = TestServer::start().await;
    s.add_user("alice", "secret").await;
    s.add_user("bob", "builder").await;
    let (mut alice, ok) = handshake(&s, "secret").await;
    assert_eq!(ok.status, 200);
    let mut bob = s.tcp().await;
    assert_eq!(bob.register("bob", "builder").await.status, 200);
    let to_bob = |c: &mut SipConn, id: &str, body: &str| {
        c.request(
            "MESSAGE",
            &format!("sip:bob@{DOMAIN}"),
            "alice",
            &format!("sip:bob@{DOMAIN}"),
            id,
            &[],
            body,
        )
    };

    let signed = to_bob(&mut alice.conn, "t1", "original");
    let signed = alice.sign(&signed);
    let tampered = signed.replace("Call-ID: t1", "Call-ID: t1x");
    alice.conn.send(tampered).await;
    alice.conn.expect_silence(Duration::from_millis(300)).await;
    bob.expect_silence(Duration::from_millis(100)).await;

    alice.conn.send(&signed).await;
    assert_eq!(
        &bob.recv_request().await.body[..],
        b"original",
        "the untouched one goes through"
    );
    alice.conn.send(&signed).await;
    alice.conn.expect_silence(Duration::from_millis(300)).await;
    bob.expect_silence(Duration::from_millis(100)).await;

    let unsigned = to_bob(&mut alice.conn, "t3", "unsigned");
    alice.conn.send(unsigned).await;
    bob.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn wrong_password_and_disallowed_accounts_are_refused() {
    let s = TestServer::start_with(|c| c.auth.max_failures_per_account_address = 2).await;
    s.add_user("alice", "secret").await;
    let (_, answer) = handshake(&s, "guess").await;
    assert_eq!(answer.status, 401, "a wrong password: a fresh offer");
    assert!(
        answer
            .headers
            .get_all("WWW-Authenticate")
            .any(|v| v.starts_with("NTLM "))
    );
    let (_, answer) = handshake(&s, "guess").await;
    assert_eq!(answer.status, 401);
    let mut conn = s.tls().await;
    let pick = format!(
        r#"NTLM qop="auth", realm="{DEFAULT_REALM}", targetname="{TARGET}", gssapi-data="", version=4"#
    );
    let req = conn.register_request("alice", &[&format!("Authorization: {pick}")]);
    conn.send(req).await;
    let challenge = conn.recv_response().await;
    let header = challenge
        .headers
        .get_all("WWW-Authenticate")
        .find(|v| v.starts_with("NTLM "))
        .unwrap();
    let creds = Credentials::parse(header).unwrap();
    let GssapiData::Token(token) = creds.gssapi_data else {
        panic!()
    };
    let auth = client::authenticate(&token, &config("alice", "secret"), &random()).unwrap();
    let req = conn.register_request("alice", &[]);
    let req = sign(
        &auth,
        &creds.opaque.unwrap(),
        1,
        &req,
        GssapiData::Token(auth.message.clone()),
    );
    conn.send(req).await;
    let throttled = conn.recv_response().await;
    assert_eq!(
        (throttled.status, throttled.reason.as_str()),
        (403, "Too Many Failed Attempts")
    );

    let s = TestServer::start().await;
    s.add_user("alice", "secret").await;
    s.server()
        .store
        .set_mechanisms(
            &format!("alice@{DOMAIN}"),
            parlance_store::Mechanisms {
                digest: true,
                ntlm: false,
            },
        )
        .await
        .unwrap();
    let (_, answer) = handshake(&s, "secret").await;
    assert_eq!(answer.status, 401, "NTLM is off for this account");
}

#[tokio::test]
async fn a_disabled_account_is_refused_after_the_handshake() {
    let s = TestServer::start().await;
    s.add_user("alice", "secret").await;
    s.server()
        .store
        .set_disabled(&format!("alice@{DOMAIN}"), true)
        .await
        .unwrap();
    let (mut alice, answer) = handshake(&s, "secret").await;
    assert_eq!(
        (answer.status, answer.reason.as_str()),
        (403, "Account Disabled")
    );
    assert!(
        alice.conn.until_closed().await.is_empty(),
        "the association serves nothing else: the connection closes"
    );
}
