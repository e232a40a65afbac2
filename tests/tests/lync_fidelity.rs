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
use xccos::Notice;

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
