//! In-band provisioning over real sockets.

use parlance_tests::{DOMAIN, TestServer};
use sip_proto::Method;

const PROVISIONING_BODY: &str = r#"<provisioningGroupList xmlns="http://schemas.microsoft.com/2006/09/sip/provisioninggrouplist"> <provisioningGroup name="ServerConfiguration"/> <provisioningGroup name="persistentChatConfiguration"/></provisioningGroupList>"#;

#[tokio::test]
async fn provisioning_is_piggybacked_when_the_client_supports_it() {
    let s = TestServer::start_with(|c| {
        c.chat.web_manager_url_internal = Some("https://chat.example.test:8443/rooms".into())
    })
    .await;
    s.add_user("alice", "wonderland").await;
    let mut c = s.tls().await;
    c.register("alice", "wonderland").await;
    // Exactly the headers pidgin-sipe sends (shared/protocol/sipe-transcript.txt #3).
    let req = c.provisioning_subscribe("alice", "prov1", PROVISIONING_BODY);
    c.send(req).await;
    let r = c.recv_response().await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers.get("Event"),
        Some("vnd-microsoft-provisioning-v2")
    );
    assert!(r.headers.get("ms-piggyback-cseq").is_some());
    assert_eq!(r.headers.get("Expires"), Some("0"));
    assert_eq!(
        r.headers.get("Content-Type"),
        Some("application/vnd-microsoft-roaming-provisioning-v2+xml")
    );
    let body = std::str::from_utf8(&r.body).unwrap();
    assert!(
        body.contains(r#"<provisionGroup name="persistentChatConfiguration">"#),
        "{body}"
    );
    assert!(body.contains(r#"<property name="EnablePersistentChat">true</property>"#));
    assert!(body.contains(&format!(
        r#"<property name="DefaultPersistentChatPoolUri">sip:ocschat@{DOMAIN}</property>"#
    )));
    assert!(body.contains(r#"<property name="PersistentChatWebManagerUriInt">https://chat.example.test:8443/rooms</property>"#));
    assert!(body.contains(r#"<property name="PersistentChatWebManagerUriExt">https://chat.example.test:8443/rooms</property>"#));
}

#[tokio::test]
async fn provisioning_follows_in_a_notify_otherwise() {
    let s = TestServer::start().await;
    s.add_user("alice", "wonderland").await;
    let mut c = s.tcp().await;
    c.register("alice", "wonderland").await;
    let req = c.request(
        "SUBSCRIBE",
        &format!("sip:alice@{DOMAIN}"),
        "alice",
        &format!("sip:alice@{DOMAIN}"),
        "prov2",
        &["Event: vnd-microsoft-provisioning-v2", "Expires: 0"],
        "",
    );
    c.send(req).await;
    let r = c.recv_response().await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let notify = c.recv_request().await;
    assert_eq!(notify.method, Method::Notify);
    assert_eq!(notify.call_id(), "prov2");
    assert_eq!(
        notify.headers.get("Event"),
        Some("vnd-microsoft-provisioning-v2")
    );
    assert_eq!(
        notify.from().unwrap().tag(),
        r.to().unwrap().tag(),
        "NOTIFY is in the subscription's dialog"
    );
    assert!(
        std::str::from_utf8(&notify.body)
            .unwrap()
            .contains("EnablePersistentChat")
    );
    c.send(sip_proto::Response::for_request(&notify, 200).to_bytes())
        .await;
}

#[tokio::test]
async fn other_self_subscriptions_are_accepted_or_refused_as_bad_events() {
    let s = TestServer::start().await;
    s.add_user("alice", "wonderland").await;
    let mut c = s.tcp().await;
    c.register("alice", "wonderland").await;
    let req = c.request(
        "SUBSCRIBE",
        &format!("sip:alice@{DOMAIN}"),
        "alice",
        &format!("sip:alice@{DOMAIN}"),
        "s1",
        &["Event: vnd-microsoft-roaming-self"],
        "",
    );
    c.send(req).await;
    let r = c.recv_response().await;
    assert_eq!(
        r.status, 200,
        "sipe goes on; a 488 would send it to EWS autodiscovery"
    );
    assert_eq!(r.headers.get("Event"), Some("vnd-microsoft-roaming-self"));
    let req = c.request(
        "SUBSCRIBE",
        &format!("sip:alice@{DOMAIN}"),
        "alice",
        &format!("sip:alice@{DOMAIN}"),
        "s2",
        &["Event: weather"],
        "",
    );
    c.send(req).await;
    let r = c.recv_response().await;
    assert_eq!(r.status, 489);
    assert_eq!(
        r.headers.get("Allow-Events"),
        Some("vnd-microsoft-provisioning-v2")
    );
}
