//! Lync 2013's way through the service, over real sockets, in the shapes of the reference
//! (xccos.md §1.4–1.8, §2.7, §5; OCSPROT 2.5.21): provisioning by the groups asked for, the
//! pool URI used as the channel (no `cmd:requri`), `getserverinfo` first, a `bjoin` of
//! several rooms answered by `ntc:bjoin` to the others and the rooms' history pushed, posts,
//! a topic changed in the room-management application the client opens (`ntc:chanupd`) and
//! parts on that dialog; the external room-management URL for users from outside; and a
//! user who may not use chat, accepted and sent a BYE at the first command.

use hyper::StatusCode;
use parlance_store::rooms::{Behavior, Privacy, Role};
use parlance_tests::chat::ChatClient;
use parlance_tests::manage::{BASE, WebClient};
use parlance_tests::{DOMAIN, SipConn, TestServer};
use sip_proto::{Message, Method, Response};
use xccos::{ChanId, Message as Xccos, Notice, ReplyData};

/// The groups Lync 2013 and sipe ask for, and one Parlance does not know.
const GROUPS: &str = r#"<provisioningGroupList xmlns="http://schemas.microsoft.com/2006/09/sip/provisioninggrouplist"> <provisioningGroup name="ServerConfiguration"/> <provisioningGroup name="meetingPolicy"/> <provisioningGroup name="persistentChatConfiguration"/> <provisioningGroup name="ucPolicy"/> <provisioningGroup name="privacyPublicationGrammar"/></provisioningGroupList>"#;

fn pool() -> String {
    format!("sip:ocschat@{DOMAIN}")
}

/// The provisioning SUBSCRIBE (§1.4) on a registered connection; returns the document
/// piggy-backed in the 200.
async fn provision(c: &mut SipConn, user: &str) -> String {
    let req = c.provisioning_subscribe(user, &format!("prov-{user}-{}", c.local.port()), GROUPS);
    c.send(req).await;
    let r = c.recv_response().await;
    assert_eq!(r.status, 200);
    assert!(r.headers.get("ms-piggyback-cseq").is_some());
    String::from_utf8(r.body.to_vec()).unwrap()
}

/// `<chanid .../>` elements of a `bjoin` for rooms.
fn chanids(rooms: &[&str]) -> String {
    rooms
        .iter()
        .enumerate()
        .map(|(i, uri)| {
            let c = ChanId::from_uri(i as u32, uri).unwrap();
            format!(
                "<chanid key=\"{i}\" domain=\"{}\" value=\"{}\"/>",
                c.domain, c.value
            )
        })
        .collect()
}

fn texts(msgs: &[xccos::ChatMessage]) -> Vec<&str> {
    msgs.iter().map(|m| m.text.as_str()).collect()
}

#[tokio::test]
async fn a_whole_lync_2013_session() {
    let s = TestServer::start().await;
    s.add_user("alice", "pw").await;
    s.add_user("bob", "pw").await;
    let ops = s
        .add_room(
            "Ops",
            Privacy::Open,
            Behavior::Normal,
            &[("alice", Role::Manager), ("alice", Role::Member)],
        )
        .await;
    let dev = s
        .add_room("Dev", Privacy::Open, Behavior::Normal, &[])
        .await;
    let quiet = s
        .add_room("Quiet", Privacy::Open, Behavior::Normal, &[])
        .await;

    // Bob, with pidgin-sipe's flow, is in Ops and Dev and has said things there.
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    bob.join(&ops).await;
    bob.join(&dev).await;
    for (room, text) in [(&ops, "ops one"), (&ops, "ops two"), (&dev, "dev one")] {
        assert_eq!(bob.post(room, text).await, 200);
        bob.next_chat().await;
    }

    // Register, then provisioning: every known group asked for, the unknown one left out.
    let mut conn = s.tcp().await;
    assert_eq!(conn.register("alice", "pw").await.status, 200);
    let doc = provision(&mut conn, "alice").await;
    for group in [
        "ServerConfiguration",
        "meetingPolicy",
        "persistentChatConfiguration",
        "ucPolicy",
    ] {
        assert!(
            doc.contains(&format!("<provisionGroup name=\"{group}\">")),
            "{group}: {doc}"
        );
    }
    assert!(!doc.contains("privacyPublicationGrammar"), "{doc}");
    assert!(doc.contains(r#"<property name="EnablePersistentChat">true</property>"#));
    assert!(doc.contains(&format!(
        r#"<property name="DefaultPersistentChatPoolUri">{}</property>"#,
        pool()
    )));

    // The pool URI is the channel: no lookup stage.
    let mut alice = ChatClient::direct(conn, "alice", &pool()).await;
    let info = alice
        .command(&format!("<cmd id=\"cmd:getserverinfo\" seqid=\"1\"><data><sib domain=\"{DOMAIN}\" infoType=\"123\"/></data></cmd>"))
        .await;
    let ReplyData::GetServerInfo(Some(sib)) = info.data else {
        panic!("{:?}", info.data)
    };

    // Room search on the pool dialog.
    let found = alice
        .command("<cmd id=\"cmd:chansrch\" seqid=\"2\"><data><qib qtype=\"BYNAME\" criteria=\"\" extended=\"false\"/></data></cmd>")
        .await;
    let ReplyData::ChanSrch(listed) = found.data else {
        panic!("{:?}", found.data)
    };
    assert_eq!(listed.len(), 3);

    // A bjoin of three rooms: the reply, then each room's history pushed, in the reply's
    // order, each its own rpl:bccontext with the bjoin's seqid and no commandid.
    let reply = alice
        .command(&format!(
            "<cmd id=\"cmd:bjoin\" seqid=\"3\"><data>{}</data></cmd>",
            chanids(&[&ops, &dev, &quiet])
        ))
        .await;
    let ReplyData::BJoin(joined) = reply.data else {
        panic!("{:?}", reply.data)
    };
    let joined: Vec<&str> = joined.chanibs.iter().map(|c| c.uri.as_str()).collect();
    assert_eq!(joined, [&ops, &dev, &quiet]);
    let mut pushed = Vec::new();
    while pushed.len() < 3 {
        let e = alice.next_envelope().await;
        let xml = e.to_xml();
        assert!(
            xml.contains("<rpl id=\"rpl:bccontext\" seqid=\"3\">") && !xml.contains("commandid"),
            "{xml}"
        );
        let [Xccos::Reply(r)] = &e.messages[..] else {
            panic!("{xml}")
        };
        assert!(r.resp.is_success());
        let ReplyData::BcContext(chanibs) = &r.data else {
            panic!("{xml}")
        };
        pushed.extend(chanibs.iter().cloned());
    }
    assert_eq!(pushed[0].uri, ops);
    assert_eq!(texts(&pushed[0].msgs), ["ops one", "ops two"]);
    assert!(pushed[0].msgs.iter().all(|m| m.channel_uri == ops));
    assert_eq!(pushed[1].uri, dev);
    assert_eq!(texts(&pushed[1].msgs), ["dev one"]);
    assert_eq!(pushed[2].uri, quiet);
    assert!(pushed[2].msgs.is_empty());

    // Bob hears of the batch once: one ntc:bjoin, one uib, an aib for each room he shares.
    let Notice::BJoin(uibs) = bob.next_notice().await else {
        panic!("expected ntc:bjoin")
    };
    assert_eq!(uibs.len(), 1);
    assert_eq!(uibs[0].uri, format!("sip:alice@{DOMAIN}"));
    let rooms: Vec<(String, &str)> = uibs[0]
        .aibs
        .iter()
        .map(|a| (a.room_uri().unwrap(), a.key.as_str()))
        .collect();
    assert_eq!(
        rooms,
        [
            (ops.clone(), xccos::AIB_KEY_MANAGER),
            (dev.clone(), xccos::AIB_KEY_MEMBER)
        ]
    );

    // A post on the pool dialog reaches both, the author included.
    assert_eq!(alice.post(&ops, "hello from Lync").await, 200);
    for client in [&mut alice, &mut bob] {
        let m = client.next_chat().await;
        assert_eq!(
            (m.text.as_str(), m.author.as_str()),
            ("hello from Lync", "sip:alice@example.test")
        );
    }

    // Alice, a manager of Ops, opens the room-management URL getserverinfo gave her (its
    // ticket signs her in) and changes the topic: everyone in the room hears of it.
    let url = sib.room_management_url.expect("the room-management URL");
    let ops_guid = ops.rsplit('/').next().unwrap();
    let mut web = WebClient::new(&s).await;
    let signed = web
        .get(&format!(
            "{}&clientlang=en-US&id={ops_guid}",
            &url[url.find(BASE).unwrap()..]
        ))
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text());
    let page = web.get(signed.header("location").unwrap()).await;
    assert!(page.text().contains("id=\"edit\""), "{}", page.text());
    let category = s
        .server()
        .store
        .find_category("Tests")
        .await
        .unwrap()
        .unwrap()
        .guid;
    let saved = web
        .post(
            &format!("{BASE}rooms/{ops_guid}"),
            &[
                ("clientlang", "en-US"),
                ("category", &category),
                ("name", "Ops"),
                ("description", "about Ops"),
                ("topic", "Release moved to Friday"),
                ("privacy", "open"),
                ("behavior", "normal"),
                ("invitations", "on"),
                ("file_post", "inherit"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    for client in [&mut alice, &mut bob] {
        let Notice::ChanUpd(chanibs) = client.next_notice().await else {
            panic!("expected ntc:chanupd")
        };
        assert_eq!(chanibs[0].uri, ops);
        assert_eq!(chanibs[0].topic.as_deref(), Some("Release moved to Friday"));
    }

    // Asked for, history is the command's own reply, and nothing more is pushed.
    let asked = alice.history(&dev, "<last cnt=\"25\"/>").await;
    assert_eq!(texts(&asked), ["dev one"]);

    // Part: the reply, and bob hears of it.
    let part = alice
        .command(&format!(
            "<cmd id=\"cmd:part\" seqid=\"4\"><data><chanib uri=\"{ops}\"/></data></cmd>"
        ))
        .await;
    assert!(part.resp.is_success());
    let Notice::Part(chanibs) = bob.next_notice().await else {
        panic!("expected ntc:part")
    };
    assert_eq!(chanibs[0].uri, ops);
    assert_eq!(chanibs[0].uibs[0].uri, format!("sip:alice@{DOMAIN}"));
    alice.bye().await;
    assert!(alice.take_inbox().is_empty(), "nothing else was sent");
}

#[tokio::test]
async fn a_sipe_session_that_never_asks_getserverinfo_gets_no_pushed_history() {
    let s = TestServer::start().await;
    s.add_user("carol", "pw").await;
    let ops = s
        .add_room("Ops", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut carol = ChatClient::connect(&s, "carol", "pw").await;
    carol.join(&ops).await;
    assert_eq!(carol.post(&ops, "said before").await, 200);
    carol.next_chat().await;
    carol.bye().await;

    let mut carol = ChatClient::connect(&s, "carol", "pw").await;
    let reply = carol
        .command(&format!(
            "<cmd id=\"cmd:bjoin\" seqid=\"1\"><data>{}</data></cmd>",
            chanids(&[&ops])
        ))
        .await;
    assert!(matches!(reply.data, ReplyData::BJoin(_)));
    // sipe asks for the history itself after the reply; had it been pushed too, it would
    // be queued ahead of the answer to this.
    let asked = carol.history(&ops, "<last cnt=\"25\"/>").await;
    assert_eq!(texts(&asked), ["said before"]);
    assert!(carol.take_inbox().is_empty(), "{:?}", carol.take_inbox());
}

#[tokio::test]
async fn users_from_outside_get_the_external_room_management_url() {
    let s = TestServer::start_with(|c| {
        c.chat.web_manager_url_internal = Some("https://inside.example.test/rm/".into());
        c.chat.web_manager_url_external = Some("https://outside.example.test/rm/".into());
        c.manage.external_networks = vec!["127.0.0.2/32".into()];
    })
    .await;
    s.add_user("alice", "pw").await;
    for (from, url) in [
        ("127.0.0.1", "https://inside.example.test/rm/"),
        ("127.0.0.2", "https://outside.example.test/rm/"),
    ] {
        let mut conn = s.tcp_from(from.parse().unwrap()).await;
        assert_eq!(conn.register("alice", "pw").await.status, 200);
        let doc = provision(&mut conn, "alice").await;
        assert!(
            doc.contains(&format!(
                "<property name=\"PersistentChatWebManagerUriInt\">{url}</property>"
            )),
            "{from}: {doc}"
        );
        assert!(doc.contains(
            "<property name=\"PersistentChatWebManagerUriExt\">https://outside.example.test/rm/</property>"
        ));
        let mut alice = ChatClient::direct(conn, "alice", &pool()).await;
        let reply = alice
            .command("<cmd id=\"cmd:getserverinfo\" seqid=\"1\"><data/></cmd>")
            .await;
        let ReplyData::GetServerInfo(Some(sib)) = reply.data else {
            panic!("{:?}", reply.data)
        };
        let given = sib.room_management_url.unwrap();
        assert!(
            given.starts_with(&format!("{url}?ticket=")),
            "{from}: {given}"
        );
        alice.bye().await;
    }
}

#[tokio::test]
async fn a_user_who_may_not_use_chat_is_told_so_and_sent_a_bye_at_the_first_command() {
    let s = TestServer::start().await;
    s.add_user("dave", "pw").await;
    s.server()
        .store
        .set_persistent_chat(&format!("dave@{DOMAIN}"), false)
        .await
        .unwrap();
    let mut conn = s.tcp().await;
    assert_eq!(conn.register("dave", "pw").await.status, 200);
    let doc = provision(&mut conn, "dave").await;
    assert!(
        doc.contains(r#"<property name="EnablePersistentChat">false</property>"#),
        "{doc}"
    );

    // sipe ignores the pool URI then and INVITEs ocschat@ all the same: accepted.
    let mut dave = ChatClient::direct(conn, "dave", &pool()).await;
    let body = "<xccos ver=\"1\" envid=\"9\" xmlns=\"urn:parlano:xml:ns:xccos\"><cmd id=\"cmd:getinv\" seqid=\"1\"><data/></cmd></xccos>";
    let first = dave.next_request("INFO", body);
    let second = dave.next_request("INFO", body);
    dave.conn.send(first).await;
    let mut answered = None;
    let mut bye = None;
    while answered.is_none() || bye.is_none() {
        match dave.conn.recv().await {
            Message::Response(r) => answered = Some(r.status),
            Message::Request(r) => {
                assert_eq!(r.method, Method::Bye, "no reply, only the BYE");
                assert_eq!(r.call_id(), dave.call_id);
                assert_eq!(r.from().unwrap().tag(), Some(dave.server_tag.as_str()));
                assert_eq!(r.from().unwrap().uri.to_string(), pool());
                dave.conn
                    .send(Response::for_request(&r, 200).to_bytes())
                    .await;
                bye = Some(r);
            }
        }
    }
    assert_eq!(answered, Some(200));
    // The dialog is gone.
    dave.conn.send(second).await;
    assert_eq!(dave.conn.recv_response().await.status, 481);
}
