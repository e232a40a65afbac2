//! REGISTER over real sockets: Digest, nonces, throttling, trusted networks, bindings.

use std::time::Duration;

use parlance_clock::Clock;
use parlance_server::Options;
use parlance_tests::{DOMAIN, SipConn, TestServer, digest_authorization};
use sip_proto::auth::{Algorithm, AuthHeader};

async fn server_with_alice() -> TestServer {
    let s = TestServer::start().await;
    s.add_user("alice", "wonderland").await;
    s
}

async fn challenge(conn: &mut SipConn, user: &str) -> sip_proto::Response {
    let req = conn.register_request(user, &["Expires: 3600"]);
    conn.send(req).await;
    conn.recv_response().await
}

#[tokio::test]
async fn register_without_credentials_is_challenged_with_md5_and_sha256() {
    let s = server_with_alice().await;
    let mut c = s.tcp().await;
    let resp = challenge(&mut c, "alice").await;
    assert_eq!(resp.status, 401);
    let all: Vec<AuthHeader> = resp
        .headers
        .get_all("WWW-Authenticate")
        .map(|v| AuthHeader::parse(v).unwrap())
        .collect();
    let schemes: Vec<&str> = all.iter().map(|o| o.scheme.as_str()).collect();
    assert_eq!(
        schemes,
        ["Digest", "Digest", "NTLM"],
        "NTLM last: clients that read one challenge get Digest"
    );
    let ntlm = &all[2];
    assert_eq!(ntlm.param("realm"), Some("SIP Communications Service"));
    assert_eq!(ntlm.param("targetname"), Some(DOMAIN));
    assert_eq!(ntlm.param("version"), Some("4"));
    let offers = &all[..2];
    let algorithms: Vec<&str> = offers
        .iter()
        .map(|o| o.param("algorithm").unwrap())
        .collect();
    assert_eq!(
        algorithms,
        ["MD5", "SHA-256"],
        "the default order: MD5 first for clients that read one"
    );
    for o in offers {
        assert!(o.is_scheme("Digest"));
        assert_eq!(o.param("realm"), Some(DOMAIN));
        assert_eq!(o.param("qop"), Some("auth"));
        assert_eq!(o.param("stale"), None);
    }
    assert!(
        resp.to().unwrap().tag().is_some(),
        "a final answer carries a To-tag"
    );
}

#[tokio::test]
async fn register_with_digest_over_tcp_and_tls_gives_what_sipe_needs() {
    let s = server_with_alice().await;
    for mut c in [s.tcp().await, s.tls().await] {
        for algorithm in [Algorithm::Md5, Algorithm::Sha256] {
            let ch = challenge(&mut c, "alice").await;
            let auth = digest_authorization(
                &ch,
                algorithm,
                "alice",
                "wonderland",
                "REGISTER",
                &format!("sip:{DOMAIN}"),
                1,
            );
            let req = c.register_request(
                "alice",
                &["Expires: 3600", &format!("Authorization: {auth}")],
            );
            c.send(req).await;
            let ok = c.recv_response().await;
            assert_eq!(
                (ok.status, c.transport, algorithm),
                (200, c.transport, algorithm)
            );
            assert_eq!(ok.expires(), Some(3600));
            let supported: Vec<&str> = ok.headers.get_all("Supported").collect();
            assert!(
                supported.contains(&"msrtc-event-categories"),
                "own line: {supported:?}"
            );
            assert_eq!(
                ok.headers.get("Allow-Events"),
                Some("vnd-microsoft-provisioning-v2")
            );
            assert!(
                ok.headers
                    .get("ms-keep-alive")
                    .unwrap()
                    .contains("timeout=300")
            );
            let contacts = ok.contacts();
            assert_eq!(contacts.len(), 1);
            assert_eq!(contacts[0].params.value("expires"), Some("3600"));
        }
    }
}

#[tokio::test]
async fn only_configured_algorithms_are_offered_and_accepted() {
    let s = TestServer::start_with(|c| c.auth.digest_algorithms = vec!["SHA-256".into()]).await;
    s.add_user("alice", "wonderland").await;
    let mut c = s.tcp().await;
    let ch = challenge(&mut c, "alice").await;
    let offers: Vec<String> = ch
        .headers
        .get_all("WWW-Authenticate")
        .filter_map(|v| {
            AuthHeader::parse(v)
                .unwrap()
                .param("algorithm")
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(offers, ["SHA-256"]);
    let nonce = AuthHeader::parse(ch.headers.get("WWW-Authenticate").unwrap())
        .unwrap()
        .param("nonce")
        .unwrap()
        .to_owned();
    let md5 = sip_proto::auth::ha1(Algorithm::Md5, "alice", DOMAIN, "wonderland");
    let resp = sip_proto::auth::response(sip_proto::auth::DigestInput {
        algorithm: Algorithm::Md5,
        ha1: &md5,
        nonce: &nonce,
        nc: "00000001",
        cnonce: "c",
        qop: Some("auth"),
        method: "REGISTER",
        uri: &format!("sip:{DOMAIN}"),
    });
    let auth = format!(
        "Digest username=\"alice\", realm=\"{DOMAIN}\", nonce=\"{nonce}\", uri=\"sip:{DOMAIN}\", response=\"{resp}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c\""
    );
    let req = c.register_request("alice", &[&format!("Authorization: {auth}")]);
    c.send(req).await;
    assert_eq!(
        c.recv_response().await.status,
        401,
        "MD5 is not offered, so not accepted"
    );
    let mut config = s.config.clone();
    config.auth.digest_algorithms = vec!["SHA-512-256".into()];
    assert!(config.validate().is_err());
    config.auth.digest_algorithms = vec!["MD5".into(), "md5".into()];
    assert!(config.validate().is_err());
}

#[tokio::test]
async fn the_user_at_domain_username_form_is_accepted() {
    let s = server_with_alice().await;
    let mut c = s.tcp().await;
    let ch = challenge(&mut c, "alice").await;
    let auth = digest_authorization(
        &ch,
        Algorithm::Sha256,
        "alice@example.test",
        "wonderland",
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        1,
    );
    let req = c.register_request("alice", &[&format!("Authorization: {auth}")]);
    c.send(req).await;
    assert_eq!(c.recv_response().await.status, 200);
}

#[tokio::test]
async fn wrong_password_is_rechallenged_then_the_address_waits() {
    let s = TestServer::start_with(|c| c.auth.max_failures_per_account_address = 3).await;
    s.add_user("alice", "wonderland").await;
    let mut c = s.tcp().await;
    for _ in 0..3 {
        let ch = challenge(&mut c, "alice").await;
        let auth = digest_authorization(
            &ch,
            Algorithm::Md5,
            "alice",
            "guess",
            "REGISTER",
            &format!("sip:{DOMAIN}"),
            1,
        );
        let req = c.register_request("alice", &[&format!("Authorization: {auth}")]);
        c.send(req).await;
        let resp = c.recv_response().await;
        assert_eq!(resp.status, 401, "a wrong password is challenged again");
    }
    // This address waits now, even with the right password, and on another connection.
    let mut other = s.tcp().await;
    let resp = challenge(&mut other, "alice").await;
    assert_eq!(
        (resp.status, resp.reason.as_str()),
        (403, "Too Many Failed Attempts")
    );
    let wait: u64 = resp.headers.get("Retry-After").unwrap().parse().unwrap();
    assert!(wait >= 1);
    // Others are not affected.
    s.add_user("bob", "builder").await;
    assert_eq!(other.register("bob", "builder").await.status, 200);
    // The wait passes (a new connection: the other one is bob's now).
    s.clock.advance(Duration::from_secs(wait));
    let mut again = s.tcp().await;
    assert_eq!(again.register("alice", "wonderland").await.status, 200);
}

#[tokio::test]
async fn unknown_user_looks_like_a_wrong_password() {
    let s = server_with_alice().await;
    let mut c = s.tcp().await;
    let ch = challenge(&mut c, "mallory").await;
    let auth = digest_authorization(
        &ch,
        Algorithm::Md5,
        "mallory",
        "x",
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        1,
    );
    let req = c.register_request("mallory", &[&format!("Authorization: {auth}")]);
    c.send(req).await;
    assert_eq!(c.recv_response().await.status, 401);
}

#[tokio::test]
async fn expired_nonce_is_answered_stale() {
    let clock = Clock::default();
    // The client answers after the nonce's lifetime; its connection must outlive that
    // unauthenticated.
    let s = TestServer::start_with_options(
        |c| c.sip.auth_timeout_secs = 3600,
        Options {
            clock: clock.clone(),
        },
    )
    .await;
    s.add_user("alice", "wonderland").await;
    let mut c = s.tcp().await;
    let ch = challenge(&mut c, "alice").await;
    clock.advance(Duration::from_secs(301));
    let auth = digest_authorization(
        &ch,
        Algorithm::Md5,
        "alice",
        "wonderland",
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        1,
    );
    let req = c.register_request("alice", &[&format!("Authorization: {auth}")]);
    c.send(req).await;
    let resp = c.recv_response().await;
    assert_eq!(resp.status, 401);
    let stale = resp
        .headers
        .get_all("WWW-Authenticate")
        .map(|v| AuthHeader::parse(v).unwrap())
        .all(|h| h.param("stale") == Some("true"));
    assert!(stale, "{resp:?}");
    // A stale nonce is not a failed attempt: the fresh nonce works at once.
    let auth = digest_authorization(
        &resp,
        Algorithm::Md5,
        "alice",
        "wonderland",
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        1,
    );
    let req = c.register_request("alice", &[&format!("Authorization: {auth}")]);
    c.send(req).await;
    assert_eq!(c.recv_response().await.status, 200);
}

#[tokio::test]
async fn replayed_nonce_count_is_refused() {
    let s = server_with_alice().await;
    let mut c = s.tcp().await;
    let ch = challenge(&mut c, "alice").await;
    let uri = format!("sip:{DOMAIN}");
    let first = digest_authorization(
        &ch,
        Algorithm::Md5,
        "alice",
        "wonderland",
        "REGISTER",
        &uri,
        1,
    );
    let req = c.register_request("alice", &[&format!("Authorization: {first}")]);
    c.send(req).await;
    assert_eq!(c.recv_response().await.status, 200);
    // The same credentials again (a captured REGISTER replayed): refused.
    let mut attacker = s.tcp().await;
    let req = attacker.register_request("alice", &[&format!("Authorization: {first}")]);
    attacker.send(req).await;
    assert_eq!(attacker.recv_response().await.status, 401);
    // A higher count with the same nonce is fine.
    let next = digest_authorization(
        &ch,
        Algorithm::Md5,
        "alice",
        "wonderland",
        "REGISTER",
        &uri,
        2,
    );
    let req = c.register_request("alice", &[&format!("Authorization: {next}")]);
    c.send(req).await;
    assert_eq!(c.recv_response().await.status, 200);
}

#[tokio::test]
async fn forged_nonce_and_foreign_realm_fail() {
    let s = server_with_alice().await;
    let mut c = s.tcp().await;
    let ch = challenge(&mut c, "alice").await;
    let uri = format!("sip:{DOMAIN}");
    let good = digest_authorization(
        &ch,
        Algorithm::Md5,
        "alice",
        "wonderland",
        "REGISTER",
        &uri,
        1,
    );
    let nonce = AuthHeader::parse(ch.headers.get("WWW-Authenticate").unwrap())
        .unwrap()
        .param("nonce")
        .unwrap()
        .to_owned();
    // Change the nonce's last character to one it certainly is not, so the forgery always differs.
    let last = if nonce.ends_with('0') { '1' } else { '0' };
    let forged = good.replace(&nonce, &format!("{}{last}", &nonce[..nonce.len() - 1]));
    let req = c.register_request("alice", &[&format!("Authorization: {forged}")]);
    c.send(req).await;
    assert_eq!(c.recv_response().await.status, 401);
    let mismatch = good.replace(&format!("uri=\"{uri}\""), "uri=\"sip:elsewhere.test\"");
    let req = c.register_request("alice", &[&format!("Authorization: {mismatch}")]);
    c.send(req).await;
    let resp = c.recv_response().await;
    assert_eq!(
        (resp.status, resp.reason.as_str()),
        (400, "Authorization URI Mismatch")
    );
}

#[tokio::test]
async fn trusted_network_registers_without_challenge_only_when_configured() {
    let on = TestServer::start_with(|c| c.auth.trusted_networks = vec!["127.0.0.0/8".into()]).await;
    on.add_user("alice", "wonderland").await;
    let mut c = on.tcp().await;
    let req = c.register_request("alice", &["Expires: 600"]);
    c.send(req).await;
    assert_eq!(c.recv_response().await.status, 200);
    let mut c = on.tcp().await;
    let req = c.register_request("nobody", &[]);
    c.send(req).await;
    assert_eq!(
        c.recv_response().await.status,
        404,
        "trust does not invent accounts"
    );

    let elsewhere =
        TestServer::start_with(|c| c.auth.trusted_networks = vec!["192.0.2.0/24".into()]).await;
    elsewhere.add_user("alice", "wonderland").await;
    let mut c = elsewhere.tcp().await;
    let req = c.register_request("alice", &[]);
    c.send(req).await;
    assert_eq!(c.recv_response().await.status, 401);
}

#[tokio::test]
async fn unregister_and_wildcard_remove_bindings() {
    let s = server_with_alice().await;
    let mut c = s.tcp().await;
    assert_eq!(c.register("alice", "wonderland").await.status, 200);
    assert_eq!(
        s.server()
            .front_end
            .registrar()
            .lookup("sip:alice@example.test")
            .len(),
        1
    );
    // Authenticated again with the next nonce-count is not needed: a fresh challenge round.
    let ch = challenge(&mut c, "alice").await;
    let auth = digest_authorization(
        &ch,
        Algorithm::Md5,
        "alice",
        "wonderland",
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        1,
    );
    let req = c.register_request("alice", &["Expires: 0", &format!("Authorization: {auth}")]);
    c.send(req).await;
    let resp = c.recv_response().await;
    assert_eq!(resp.status, 200);
    assert!(resp.contacts().is_empty());
    assert_eq!(resp.expires(), Some(0));
    assert!(
        s.server()
            .front_end
            .registrar()
            .lookup("sip:alice@example.test")
            .is_empty()
    );

    assert_eq!(c.register("alice", "wonderland").await.status, 200);
    let ch = challenge(&mut c, "alice").await;
    let auth = digest_authorization(
        &ch,
        Algorithm::Md5,
        "alice",
        "wonderland",
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        1,
    );
    let req = c
        .register_request("alice", &["Expires: 0", &format!("Authorization: {auth}")])
        .replace(
            &format!("Contact: <sip:alice@{};transport=tcp>", c.local),
            "Contact: *",
        );
    c.send(req).await;
    assert_eq!(c.recv_response().await.status, 200);
    assert!(
        s.server()
            .front_end
            .registrar()
            .lookup("sip:alice@example.test")
            .is_empty()
    );
}

#[tokio::test]
async fn bindings_expire_with_the_clock_and_several_coexist() {
    let clock = Clock::default();
    let s = TestServer::start_with_options(
        |_| {},
        Options {
            clock: clock.clone(),
        },
    )
    .await;
    s.add_user("alice", "wonderland").await;
    let (mut a, mut b) = (s.tcp().await, s.tls().await);
    assert_eq!(a.register("alice", "wonderland").await.status, 200);
    let second = b.register("alice", "wonderland").await;
    assert_eq!(second.contacts().len(), 2, "two devices, two bindings");
    let registrar = s.server().front_end.registrar();
    assert_eq!(registrar.lookup("sip:alice@example.test").len(), 2);
    clock.advance(Duration::from_secs(3599));
    assert_eq!(registrar.lookup("sip:alice@example.test").len(), 2);
    clock.advance(Duration::from_secs(2));
    assert!(registrar.lookup("sip:alice@example.test").is_empty());
    assert_eq!(registrar.sweep(), 2);
}

#[tokio::test]
async fn too_brief_expiry_gets_423_with_min_expires() {
    let s = server_with_alice().await;
    let mut c = s.tcp().await;
    let ch = challenge(&mut c, "alice").await;
    let auth = digest_authorization(
        &ch,
        Algorithm::Md5,
        "alice",
        "wonderland",
        "REGISTER",
        &format!("sip:{DOMAIN}"),
        1,
    );
    let req = c.register_request("alice", &["Expires: 5", &format!("Authorization: {auth}")]);
    c.send(req).await;
    let resp = c.recv_response().await;
    assert_eq!(resp.status, 423);
    assert_eq!(resp.headers.get("Min-Expires"), Some("60"));
}

#[tokio::test]
async fn register_for_a_foreign_domain_is_not_served() {
    let s = server_with_alice().await;
    let mut c = s.tcp().await;
    let req = c
        .register_request("alice", &[])
        .replace("REGISTER sip:example.test", "REGISTER sip:other.test");
    c.send(req).await;
    let resp = c.recv_response().await;
    assert_eq!(
        (resp.status, resp.reason.as_str()),
        (404, "Domain Not Served")
    );
}

#[tokio::test]
async fn closing_the_connection_drops_its_bindings() {
    let s = server_with_alice().await;
    let mut c = s.tcp().await;
    assert_eq!(c.register("alice", "wonderland").await.status, 200);
    drop(c);
    let registrar = s.server().front_end.registrar();
    for _ in 0..50 {
        if registrar.lookup("sip:alice@example.test").is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("binding survived its connection");
}
