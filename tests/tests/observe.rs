//! Watching a running server: the admin listener's health, readiness and metrics while
//! clients chat over real SIP, readiness when the database is gone, and the certificate
//! replaced under running TLS listeners (docs/operations.md, "Monitoring" and "Logs and
//! signals").

use parlance_store::rooms::{Behavior, Privacy};
use parlance_tests::admin::{admin, get, sample};
use parlance_tests::chat::ChatClient;
use parlance_tests::{SipConn, TestServer, tls_connect};

#[tokio::test]
async fn metrics_move_while_clients_chat() {
    let s = TestServer::start().await;
    for user in ["alice", "bob"] {
        s.add_user(user, "pw").await;
    }
    let room = s
        .add_room("Ops", Privacy::Open, Behavior::Normal, &[])
        .await;
    assert_eq!(get(admin(&s), "/healthz").await, (200, "ok\n".into()));
    assert_eq!(get(admin(&s), "/readyz").await, (200, "ready\n".into()));
    let (_, before) = get(admin(&s), "/metrics").await;
    assert_eq!(sample(&before, "parlance_posts_total"), 0.0);
    assert_eq!(sample(&before, "parlance_chat_dialogs"), 0.0);

    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    assert!(alice.join(&room).await.resp.is_success());
    assert!(bob.join(&room).await.resp.is_success());
    assert_eq!(alice.post(&room, "hello").await, 200);
    alice.next_chat().await;
    bob.next_chat().await;
    let mut intruder = s.tcp().await;
    assert_eq!(intruder.register("alice", "wrong").await.status, 401);

    let (status, page) = get(admin(&s), "/metrics").await;
    assert_eq!(status, 200);
    for (name, value) in [
        ("parlance_posts_total", 1.0),
        ("parlance_delivery_latency_seconds_count", 1.0),
        ("parlance_store_write_latency_seconds_count", 1.0),
        ("parlance_auth_failures_total", 1.0),
        ("parlance_write_queue_drops_total", 0.0),
        // alice, bob and the intruder.
        ("parlance_connections{transport=\"tcp\"}", 3.0),
        ("parlance_connections{transport=\"tls\"}", 0.0),
        ("parlance_registrations", 2.0),
        ("parlance_chat_dialogs", 2.0),
        ("parlance_joined_endpoints", 2.0),
    ] {
        assert_eq!(sample(&page, name), value, "{name}");
    }
    // The post to both members, and the join notice alice saw of bob, at least.
    assert!(sample(&page, "parlance_deliveries_total") >= 3.0, "{page}");
    // The joins and the post wait in the compliance outbox: nothing exported them.
    assert!(sample(&page, "parlance_outbox_backlog") >= 3.0, "{page}");
    assert!(page.ends_with("# EOF\n"));

    assert_eq!(get(admin(&s), "/nothing").await.0, 404);
    dashboard_names_only_metrics_on(&page);
}

/// The Grafana dashboard in dist/ asks for metrics the server has, by their names.
fn dashboard_names_only_metrics_on(page: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../dist/grafana/parlance.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (at, _) in expr.match_indices("parlance_") {
                let name: String = expr[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                queried += 1;
                assert!(
                    page.lines().any(|l| l.starts_with(&format!("{name} "))
                        || l.starts_with(&format!("{name}{{"))),
                    "the dashboard asks for {name}, which the server does not have"
                );
            }
        }
    }
    assert!(queried >= 10, "{queried}");
}

#[tokio::test]
async fn not_ready_when_the_database_is_gone() {
    let s = TestServer::start().await;
    assert_eq!(get(admin(&s), "/readyz").await.0, 200);
    s.server().store.close().await;
    let (status, body) = get(admin(&s), "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("the database does not answer"), "{body}");
    // Still alive, and the page still served (with the last backlog it read).
    assert_eq!(get(admin(&s), "/healthz").await.0, 200);
    assert_eq!(get(admin(&s), "/metrics").await.0, 200);
}

#[tokio::test]
async fn a_new_certificate_is_presented_to_new_connections_only() {
    let mut s = TestServer::start().await;
    s.add_user("alice", "pw").await;
    let old_pem = std::fs::read(s.cert_path()).unwrap();
    let old_trust = s.config.data_dir.join("old-cert.pem");
    std::fs::write(&old_trust, &old_pem).unwrap();
    let tls = s.server().tls_addr.unwrap();
    let https = s.server().https_addr.unwrap();
    let mut before = SipConn::tls(tls, &old_trust).await;
    assert_eq!(before.register("alice", "pw").await.status, 200);

    // Without a configured certificate the self-signed pair is read again, made anew
    // when missing: the operator's renewal, as far as the server can tell.
    std::fs::remove_file(s.cert_path()).unwrap();
    std::fs::remove_file(s.config.data_dir.join("tls-key.pem")).unwrap();
    let config = s.config.clone();
    let reloaded = s.server.as_mut().unwrap().reload(config).unwrap();
    assert_eq!(
        reloaded.certificate.as_deref(),
        Some(s.cert_path().to_str().unwrap())
    );
    assert!(reloaded.need_restart.is_empty(), "{reloaded:?}");
    assert_ne!(std::fs::read(s.cert_path()).unwrap(), old_pem);

    for addr in [tls, https] {
        let alpn: &[&[u8]] = if addr == https { &[b"http/1.1"] } else { &[] };
        assert!(
            tls_connect(addr, &old_trust, alpn).await.is_err(),
            "{addr} still presents the old certificate"
        );
        tls_connect(addr, &s.cert_path(), alpn)
            .await
            .unwrap_or_else(|e| panic!("{addr} with the new certificate: {e}"));
    }
    // The connection made before goes on, on the session it negotiated.
    assert_eq!(before.register("alice", "pw").await.status, 200);

    // A certificate that cannot be read is refused and the one in use stays.
    let mut broken = s.config.clone();
    let garbage = s.config.data_dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    broken.tls.cert = Some(garbage.clone());
    broken.tls.key = Some(garbage);
    let refused = s.server.as_mut().unwrap().reload(broken).unwrap_err();
    assert!(refused.to_string().contains("garbage.pem"), "{refused}");
    tls_connect(tls, &s.cert_path(), &[]).await.unwrap();

    // Settings read at start are named, not applied halfway.
    let mut limits = s.config.clone();
    limits.sip.max_connections += 1;
    let reloaded = s.server.as_mut().unwrap().reload(limits).unwrap();
    assert_eq!(reloaded.need_restart, ["sip"]);
}
