//! Issue 17, items 4 to 7, over real sockets in the reference's shapes: roles as the original
//! has them, BACKCHAT compliance rows with the history returned, message forms and the
//! room-change notice, and the room search's query types.
//!
//! The administrator's changes go through the same store calls as the admin commands, which
//! run as separate processes: the server hears of them from the access change feed, polled
//! every few milliseconds here.

use parlance_store::rooms::{Behavior, Privacy, Role, RoomUpdate};
use parlance_tests::chat::ChatClient;
use parlance_tests::{DOMAIN, TestServer};
use xccos::{Notice, ReplyData, ResponseCode};

async fn server(users: &[&str]) -> TestServer {
    let s = TestServer::start_with(|c| c.admin_changes_poll_ms = 10).await;
    for u in users {
        s.add_user(u, "pw").await;
    }
    s
}

async fn room_id(s: &TestServer, room_uri: &str) -> i64 {
    let guid = room_uri.rsplit('/').next().unwrap();
    let info = s.server().store.room_by_guid(guid).await.unwrap();
    info.unwrap().room.id
}

/// `parlance room edit --topic …` while alice and bob sit in the room: both get the room's
/// properties as they are now (`ntc:chanupd`), the topic included; carol, who is not in the
/// room, gets nothing.
#[tokio::test]
async fn a_topic_changed_by_the_administrator_reaches_everyone_in_the_room() {
    let s = server(&["alice", "bob", "carol"]).await;
    let room = s
        .add_room(
            "Ops",
            Privacy::Open,
            Behavior::Normal,
            &[("alice", Role::Member)],
        )
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    let mut carol = ChatClient::connect(&s, "carol", "pw").await;
    assert!(alice.join(&room).await.resp.is_success());
    assert!(bob.join(&room).await.resp.is_success());
    assert!(matches!(alice.next_notice().await, Notice::Join(_)));

    let update = RoomUpdate {
        topic: Some("Release <today> & tomorrow".into()),
        name: Some("Ops desk".into()),
        ..RoomUpdate::default()
    };
    let id = room_id(&s, &room).await;
    s.server().store.update_room(id, &update).await.unwrap();

    for client in [&mut alice, &mut bob] {
        match client.next_notice().await {
            Notice::ChanUpd(chanibs) => {
                let [chanib] = &chanibs[..] else {
                    panic!("one chanib per room: {chanibs:?}")
                };
                assert_eq!(chanib.uri, room);
                assert_eq!(chanib.name.as_deref(), Some("Ops desk"));
                assert_eq!(chanib.topic.as_deref(), Some("Release <today> & tomorrow"));
            }
            other => panic!("expected ntc:chanupd, got {other:?}"),
        }
    }
    // The notice went to all targets at once, before alice read hers: anything for carol
    // would come before her answer to a later command.
    let invitations = carol
        .command(&format!(
            "<cmd id=\"cmd:getinv\" seqid=\"1\"><data><inv inviteId=\"1\" domain=\"{DOMAIN}\"/></data></cmd>"
        ))
        .await;
    assert!(invitations.resp.is_success());
    assert!(carol.take_inbox().is_empty(), "carol is not in the room");
}

/// The names of the rooms a reply lists, in order.
fn names(reply: &xccos::Reply) -> Vec<String> {
    let chanibs = match &reply.data {
        ReplyData::ChanSrch(c) | ReplyData::GetAssoc(c) => c,
        other => panic!("expected a room list, got {other:?}"),
    };
    chanibs.iter().map(|c| c.name.clone().unwrap()).collect()
}

fn chansrch(qtype: &str, criteria: &str) -> String {
    format!(
        "<cmd id=\"cmd:chansrch\" seqid=\"1\"><data><qib qtype=\"{qtype}\" criteria=\"{criteria}\" extended=\"false\"/></data></cmd>"
    )
}

/// `cmd:chansrch` by category, by manager and by member, and `cmd:getassoc`: each lists only
/// rooms the asker may see — never a Secret room without a role in it, never a disabled one —
/// and an unknown category or query type is refused without revealing anything.
#[tokio::test]
async fn room_lists_by_query_type_never_reveal_a_secret_room() {
    let s = server(&["alice", "bob"]).await;
    let open = s
        .add_room("Open hall", Privacy::Open, Behavior::Normal, &[])
        .await;
    s.add_room(
        "Secret of bob",
        Privacy::Secret,
        Behavior::Normal,
        &[("bob", Role::Member), ("bob", Role::Manager)],
    )
    .await;
    s.add_room(
        "Secret of alice",
        Privacy::Secret,
        Behavior::Normal,
        &[("alice", Role::Member)],
    )
    .await;
    s.add_room(
        "Closed desk",
        Privacy::Closed,
        Behavior::Normal,
        &[("alice", Role::Manager)],
    )
    .await;
    let gone = s
        .add_room(
            "Disabled attic",
            Privacy::Open,
            Behavior::Normal,
            &[("alice", Role::Member)],
        )
        .await;
    let disable = RoomUpdate {
        disabled: Some(true),
        ..RoomUpdate::default()
    };
    let gone_id = room_id(&s, &gone).await;
    s.server()
        .store
        .update_room(gone_id, &disable)
        .await
        .unwrap();
    let guid = open.rsplit('/').next().unwrap();
    let info = s.server().store.room_by_guid(guid).await.unwrap().unwrap();
    let category = format!("ma-cat://{DOMAIN}/{}", info.category.guid);

    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    let by_category = alice.command(&chansrch("BYCATEGORY", &category)).await;
    assert!(by_category.resp.is_success(), "{by_category:?}");
    assert_eq!(
        names(&by_category),
        ["Closed desk", "Open hall", "Secret of alice"]
    );
    // In any case, as the other qtypes.
    let upper = category
        .to_uppercase()
        .replace(&DOMAIN.to_uppercase(), DOMAIN);
    let lower_qtype = alice.command(&chansrch("bycategory", &upper)).await;
    assert_eq!(names(&lower_qtype), names(&by_category));

    let managed = alice.command(&chansrch("BYMANAGER", "")).await;
    assert_eq!(names(&managed), ["Closed desk"]);
    let member = alice.command(&chansrch("BYMEMBER", "")).await;
    assert_eq!(names(&member), ["Secret of alice"]);
    let assoc = alice
        .command("<cmd id=\"cmd:getassoc\" seqid=\"1\"><data/></cmd>")
        .await;
    assert_eq!(assoc.data.id(), "rpl:getassoc");
    assert!(assoc.resp.is_success());
    assert_eq!(names(&assoc), ["Closed desk", "Secret of alice"]);

    // bob sees his Secret room and not alice's.
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    let theirs = bob.command(&chansrch("BYCATEGORY", &category)).await;
    assert_eq!(
        names(&theirs),
        ["Closed desk", "Open hall", "Secret of bob"]
    );

    // Another domain's category, a malformed one, an unknown GUID, a category's name:
    // one answer, and nothing listed.
    for criteria in [
        category.replace(DOMAIN, "other.test"),
        "ma-cat://".to_owned(),
        format!("ma-cat://{DOMAIN}/00000000-0000-0000-0000-000000000000"),
        format!("ma-cat://{DOMAIN}/Tests"),
        info.category.guid.clone(),
    ] {
        let refused = alice.command(&chansrch("BYCATEGORY", &criteria)).await;
        assert_eq!(
            refused.resp.code,
            ResponseCode::NoSuchNode.code(),
            "{criteria}"
        );
        assert_eq!(refused.data, ReplyData::ChanSrch(Vec::new()));
    }
    let unknown = alice.command(&chansrch("BYJOINEDUSER", "sip:bob@x")).await;
    assert_eq!(unknown.resp.code, ResponseCode::MsgNotSupported.code());
}

/// An open room "Ops" with alice and bob joined to it.
async fn alice_and_bob_in_a_room(s: &TestServer) -> (String, ChatClient, ChatClient) {
    let room = s
        .add_room("Ops", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(s, "alice", "pw").await;
    let mut bob = ChatClient::connect(s, "bob", "pw").await;
    assert!(alice.join(&room).await.resp.is_success());
    assert!(bob.join(&room).await.resp.is_success());
    (room, alice, bob)
}

/// An alert (`grpchat@alert="true"`) is stored and delivered as one, to everyone joined, the
/// author included, and shows as one in history; an ordinary message carries no flag.
#[tokio::test]
async fn an_alert_is_delivered_and_kept_as_one() {
    let s = server(&["alice", "bob"]).await;
    let (room, mut alice, mut bob) = alice_and_bob_in_a_room(&s).await;

    let alert = format!(
        "<xccos ver=\"1\" envid=\"77\" xmlns=\"urn:parlano:xml:ns:xccos\"><grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"{room}\" \
         author=\"sip:alice@{DOMAIN}\" ts=\"2024-01-01T10:00:00Z\" alert=\"true\"><chat>fire drill at 3</chat></grpchat></xccos>"
    );
    assert_eq!(alice.send_body(&alert).await.status, 200);
    for client in [&mut alice, &mut bob] {
        let delivered = client.next_chat().await;
        assert_eq!(
            (delivered.text.as_str(), delivered.alert),
            ("fire drill at 3", true)
        );
    }
    assert_eq!(alice.post(&room, "all clear").await, 200);
    assert!(!bob.next_chat().await.alert);

    let history = bob.history(&room, "<last cnt=\"5\"/>").await;
    let seen: Vec<_> = history.iter().map(|m| (m.text.as_str(), m.alert)).collect();
    assert_eq!(seen, [("fire drill at 3", true), ("all clear", false)]);
}

/// The envelope carrying the next chat message, as written on the wire.
async fn next_chat_xml(client: &mut ChatClient) -> String {
    loop {
        let e = client.next_envelope().await;
        if let Some(xccos::Message::GrpChat(_)) = e.messages.first() {
            return e.to_xml();
        }
    }
}

/// An RTF copy (`<rtf>` after `<chat>`) is stored and delivered exactly as sent, live to
/// everyone joined and in history; a message sent without one comes back without one, and
/// compliance records the plain text.
#[tokio::test]
async fn an_rtf_copy_is_delivered_and_kept_as_sent() {
    let s = server(&["alice", "bob"]).await;
    let (room, mut alice, mut bob) = alice_and_bob_in_a_room(&s).await;

    let rtf_wire =
        r"<rtf>{\rtf1\ansi{\fonttbl\f0\fswiss Segoe UI;}\f0\b bold\b0  &amp; &lt;more&gt;}</rtf>";
    let rich = format!(
        "<xccos ver=\"1\" envid=\"78\" xmlns=\"urn:parlano:xml:ns:xccos\"><grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"{room}\" \
         author=\"sip:alice@{DOMAIN}\" ts=\"2024-01-01T10:00:00Z\"><chat>bold &amp; &lt;more&gt;</chat>{rtf_wire}</grpchat></xccos>"
    );
    assert_eq!(alice.send_body(&rich).await.status, 200);
    for client in [&mut alice, &mut bob] {
        let delivered = next_chat_xml(client).await;
        assert!(
            delivered.contains(&format!(
                "<chat>bold &amp; &lt;more&gt;</chat>{rtf_wire}</grpchat>"
            )),
            "{delivered}"
        );
    }
    assert_eq!(alice.post(&room, "plain").await, 200);
    let plain = next_chat_xml(&mut bob).await;
    assert!(!plain.contains("<rtf"), "{plain}");

    let history = bob.history(&room, "<last cnt=\"5\"/>").await;
    let rtf = r"{\rtf1\ansi{\fonttbl\f0\fswiss Segoe UI;}\f0\b bold\b0  & <more>}";
    let seen: Vec<_> = history
        .iter()
        .map(|m| (m.text.as_str(), m.rtf.as_deref()))
        .collect();
    assert_eq!(seen, [("bold & <more>", Some(rtf)), ("plain", None)]);

    let events = s.server().store.compliance_events(0, 100).await.unwrap();
    let chats: Vec<&str> = events
        .iter()
        .filter(|e| e.kind.as_str() == "chat")
        .map(|e| e.content.as_str())
        .collect();
    assert_eq!(
        chats,
        ["bold & <more>", "plain"],
        "compliance keeps the text"
    );
}

/// An RTF copy larger than `storySizeLimit` is refused like an oversized text, and nothing
/// is stored.
#[tokio::test]
async fn an_rtf_copy_over_the_story_limit_is_refused() {
    let s = TestServer::start_with(|c| c.chat.story_size_limit = 64).await;
    s.add_user("alice", "pw").await;
    let room = s
        .add_room("Ops", Privacy::Open, Behavior::Normal, &[])
        .await;
    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    assert!(alice.join(&room).await.resp.is_success());
    let big = format!(
        "<xccos ver=\"1\" envid=\"79\" xmlns=\"urn:parlano:xml:ns:xccos\"><grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"{room}\" \
         author=\"sip:alice@{DOMAIN}\" ts=\"2024-01-01T10:00:00Z\"><chat>hi</chat><rtf>{{\\rtf1 {}}}</rtf></grpchat></xccos>",
        "x".repeat(64)
    );
    let refused = alice.send_body(&big).await.status;
    assert!(refused >= 400, "refused: {refused}");
    assert!(alice.history(&room, "<last cnt=\"5\"/>").await.is_empty());
}
