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
            ..Options::default()
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
            ..Options::default()
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

/// A REGISTER as sipe writes it (xccos.md §1.3): its Contact names the device with
/// `+sip.instance`, and `supported` lists what it asks for. Sent from a trusted network.
fn device_register(c: &mut SipConn, user: &str, instance: Option<&str>, supported: &str) -> String {
    let instance = instance
        .map(|i| format!(";+sip.instance=\"<urn:uuid:{i}>\""))
        .unwrap_or_default();
    let cseq = c.next_cseq();
    format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKgruu{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{user}@{DOMAIN}>;tag=g{user}\r\nTo: <sip:{user}@{DOMAIN}>\r\n\
         Call-ID: gruu-{user}-{port}\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{local};transport=tcp;ms-opaque=d3470f2e1d>;proxy=replace{instance}\r\n\
         Supported: {supported}\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n",
        local = c.local,
        port = c.local.port(),
    )
}

/// The `gruu` parameter of the one Contact in a REGISTER answer.
fn gruu_of(resp: &sip_proto::Response) -> Option<String> {
    let contacts = resp.contacts();
    assert_eq!(contacts.len(), 1, "one binding");
    contacts[0]
        .params
        .value("gruu")
        .map(|g| g.trim_matches('"').to_owned())
}

async fn trusted_server(tweak: impl FnOnce(&mut parlance_server::config::Config)) -> TestServer {
    let s = TestServer::start_with(|c| {
        c.auth.trusted_networks = vec!["127.0.0.0/8".into()];
        tweak(c);
    })
    .await;
    for user in ["alice", "bob"] {
        s.add_user(user, "secret").await;
    }
    s
}

#[tokio::test]
async fn a_device_gets_a_gruu_and_a_request_to_it_reaches_that_device_only() {
    let s = trusted_server(|_| {}).await;
    let uuid = "34D859DB-6585-5F91-A3B4-DE853C15347D";
    let supported = "gruu-10, adhoclist, msrtc-event-categories, com.microsoft.msrtc.presence";
    let mut phone = s.tcp().await;
    let req = device_register(&mut phone, "alice", Some(uuid), supported);
    phone.send(req).await;
    let answer = phone.recv_response().await;
    assert_eq!(answer.status, 200);
    let gruu = gruu_of(&answer).expect("a GRUU for a device that asked");
    let (aor, epid) = gruu
        .strip_suffix(";gruu")
        .and_then(|g| g.split_once(";opaque=user:epid:"))
        .expect("the Lync GRUU shape");
    assert_eq!(aor, format!("sip:alice@{DOMAIN}"));
    assert!(!epid.is_empty() && epid.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        !gruu.contains(uuid)
            && !gruu
                .to_ascii_lowercase()
                .contains(&uuid.to_ascii_lowercase()),
        "the instance text stays out of the URI"
    );
    assert_eq!(
        answer.headers.get_all("Supported").collect::<Vec<_>>(),
        ["msrtc-event-categories"],
        "what sipe needs is unchanged"
    );
    assert!(answer.headers.get("Expires").is_some_and(|e| e != "0"));

    // The same device registering again (a reconnect) keeps its GRUU.
    let mut again = s.tcp().await;
    let req = device_register(&mut again, "alice", Some(uuid), supported);
    again.send(req).await;
    assert_eq!(
        gruu_of(&again.recv_response().await).as_deref(),
        Some(gruu.as_str())
    );

    // Another device of alice's, without an instance: no GRUU, but a binding.
    let mut desk = s.tcp().await;
    let req = device_register(&mut desk, "alice", None, supported);
    desk.send(req).await;
    let answer = desk.recv_response().await;
    assert_eq!(answer.status, 200);
    let contacts = answer.contacts();
    assert_eq!(contacts.len(), 2, "the device and the desk");
    let desk_contact = contacts
        .iter()
        .find(|c| c.params.value("+sip.instance").is_none())
        .unwrap();
    assert_eq!(
        desk_contact.params.value("gruu"),
        None,
        "no GRUU without an instance"
    );

    let mut bob = s.tcp().await;
    let req = device_register(&mut bob, "bob", None, "msrtc-event-categories");
    bob.send(req).await;
    assert_eq!(bob.recv_response().await.status, 200);

    let unknown = format!("{aor};opaque=user:epid:00112233445566778899aabbccddeeff;gruu");
    let req = bob.request(
        "MESSAGE",
        &unknown,
        "bob",
        &unknown,
        "gruu-lost",
        &[],
        "hello?",
    );
    bob.send(req).await;
    assert_eq!(
        bob.recv_response().await.status,
        480,
        "a device that is not registered is not reached, and not replaced by the others"
    );

    let req = bob.request("MESSAGE", &gruu, "bob", &gruu, "gruu-msg", &[], "hello");
    bob.send(req).await;
    let got = again.recv_request().await;
    assert_eq!(got.method.as_str(), "MESSAGE");
    assert_eq!(
        got.call_id(),
        "gruu-msg",
        "the first request the device sees"
    );
    assert_eq!(
        got.uri.to_string(),
        format!("sip:{};transport=tcp;ms-opaque=d3470f2e1d", again.local),
        "retargeted to the device's registered contact"
    );
    assert_eq!(got.body.as_ref(), b"hello");
    let reply = sip_proto::Response::for_request(&got, 200).with_to_tag("device");
    again.send(reply.to_bytes()).await;
    assert_eq!(bob.recv_response().await.status, 200);
}

#[tokio::test]
async fn no_gruu_for_a_client_that_does_not_support_it() {
    let s = trusted_server(|_| {}).await;
    let mut c = s.tcp().await;
    let req = device_register(&mut c, "alice", Some("0A1B"), "msrtc-event-categories");
    c.send(req).await;
    let answer = c.recv_response().await;
    assert_eq!(answer.status, 200);
    assert_eq!(gruu_of(&answer), None);
}

#[tokio::test]
async fn a_client_from_an_external_network_is_told_it_is_remote() {
    let s = trusted_server(|c| c.manage.external_networks = vec!["127.0.0.2/32".into()]).await;
    for (from, remote) in [("127.0.0.2", true), ("127.0.0.1", false)] {
        let mut c = s.tcp_from(from.parse().unwrap()).await;
        let req = device_register(&mut c, "alice", None, "gruu-10");
        c.send(req).await;
        let answer = c.recv_response().await;
        assert_eq!(answer.status, 200);
        let logon: Vec<&str> = answer.headers.get_all("ms-user-logon-data").collect();
        assert_eq!(
            logon,
            if remote { vec!["RemoteUser"] } else { vec![] },
            "from {from}"
        );
    }
}
