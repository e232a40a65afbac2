//! What a `bjoin` sends besides its reply: history pushed to a Lync 2013-style session,
//! bounded in all, and one `ntc:bjoin` per other session.

mod common;

use std::sync::Arc;

use parlance_chat::{ChatService, SessionId};
use parlance_clock::Clock;
use parlance_store::Store;
use parlance_store::rooms::{Behavior, Privacy, RoomInfo};
use xccos::{ChanId, CommandKind, Envelope, Message, Notice, ReplyData};

use common::{DOMAIN, Recorder};

/// The most history one `bjoin` pushes (crates/chat/src/commands/bccontext.rs).
const PUSH_BUDGET_BYTES: usize = 1024 * 1024;

struct World {
    chat: ChatService,
    store: Store,
    sink: Arc<Recorder>,
    dir: std::path::PathBuf,
}

impl World {
    async fn start() -> World {
        let dir = common::scratch_dir("bjoin");
        let store = Store::open_sqlite(&dir.join("chat.db")).await.unwrap();
        let sink = Arc::new(Recorder::default());
        let chat = ChatService::new(
            store.clone(),
            common::settings(None, None),
            sink.clone(),
            Clock::default(),
        )
        .await
        .unwrap();
        World {
            chat,
            store,
            sink,
            dir,
        }
    }

    async fn finish(self) {
        self.store.close().await;
        std::fs::remove_dir_all(&self.dir).unwrap();
    }

    fn uri(room: &RoomInfo) -> String {
        format!("ma-chan://{DOMAIN}/{}", room.room.guid)
    }

    /// Sends a `bjoin` of `rooms`; returns everything the session got for it, reply first.
    async fn bjoin(&self, session: SessionId, rooms: &[RoomInfo]) -> Vec<(usize, Envelope)> {
        let chanids = rooms
            .iter()
            .enumerate()
            .map(|(i, r)| ChanId::from_uri(i as u32, &Self::uri(r)).unwrap())
            .collect();
        let mark = self.sink.mark();
        let body = Envelope::new(
            1,
            xccos::Command {
                seqid: 5,
                kind: CommandKind::BJoin(chanids),
            },
        )
        .to_xml();
        self.chat.handle(session, body.as_bytes(), |_| {}).await;
        self.sink
            .since(mark, session)
            .into_iter()
            .map(|e| (e.to_xml().len(), e))
            .collect()
    }
}

/// The rooms' history pages pushed, in order (`rpl:bccontext` without `commandid`).
fn pushed(sent: &[(usize, Envelope)]) -> Vec<(usize, xccos::Chanib)> {
    sent.iter()
        .filter_map(|(len, e)| match e.messages.first() {
            Some(Message::Reply(r)) if r.command.is_none() => match &r.data {
                ReplyData::BcContext(chanibs) => Some((*len, chanibs[0].clone())),
                other => panic!("pushed {other:?}"),
            },
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn history_is_pushed_only_after_getserverinfo_and_never_past_its_budget() {
    let w = World::start().await;
    let alice = common::sign_in(&w.chat, &w.store, "alice", 1).await;
    // Each room holds more than a page fits: ten messages of 30 000 bytes, cut to the body
    // limit (256 KiB), so five rooms would push more than the budget.
    let text = "x".repeat(30_000);
    let mut rooms = Vec::new();
    for i in 0..6 {
        let room = common::room(
            &w.store,
            &format!("Room {i}"),
            Privacy::Open,
            Behavior::Normal,
            true,
        )
        .await;
        let batch: Vec<(&str, i64)> = (0..10).map(|n| (text.as_str(), 1_000 + n)).collect();
        w.store
            .import_messages(room.room.id, alice, &batch)
            .await
            .unwrap();
        rooms.push(room);
    }

    // sipe's flow: no getserverinfo, no push.
    let sent = w.bjoin(1, &rooms[..2]).await;
    assert_eq!(sent.len(), 1, "the reply alone");
    assert!(pushed(&sent).is_empty());

    let bob = 2;
    common::sign_in(&w.chat, &w.store, "bob", bob).await;
    common::command(&w.chat, &w.sink, bob, CommandKind::GetServerInfo(None)).await;
    let sent = w.bjoin(bob, &rooms).await;
    assert!(
        matches!(sent[0].1.messages.first(), Some(Message::Reply(r)) if matches!(r.data, ReplyData::BJoin(_))),
        "the reply comes first"
    );
    let pages = pushed(&sent);
    let total: usize = pages.iter().map(|(len, _)| len).sum();
    assert!(total <= PUSH_BUDGET_BYTES, "{total} bytes pushed");
    assert!(
        (1..rooms.len()).contains(&pages.len()),
        "{} rooms pushed of {}",
        pages.len(),
        rooms.len()
    );
    for ((len, page), room) in pages.iter().zip(&rooms) {
        assert_eq!(page.uri, World::uri(room), "in the bjoin's order");
        assert!(*len <= xccos::Limits::default().max_body_bytes);
        assert!(
            !page.msgs.is_empty() && page.msgs.len() < 10,
            "the newest that fit"
        );
        assert_eq!(page.msgs.last().unwrap().message_id, Some(10));
    }
    w.finish().await;
}

#[tokio::test]
async fn the_others_hear_of_a_batch_once_with_the_rooms_they_share() {
    let w = World::start().await;
    for (name, session) in [("alice", 1), ("bob", 2), ("carol", 3)] {
        common::sign_in(&w.chat, &w.store, name, session).await;
    }
    let mut rooms = Vec::new();
    for name in ["A", "B", "C"] {
        rooms.push(common::room(&w.store, name, Privacy::Open, Behavior::Normal, true).await);
    }
    // Bob is in A and B, carol in C.
    w.bjoin(2, &rooms[..2]).await;
    w.bjoin(3, &rooms[2..]).await;

    let mark = w.sink.mark();
    w.bjoin(1, &rooms).await;
    let heard = |session| -> Vec<Vec<String>> {
        w.sink
            .since(mark, session)
            .into_iter()
            .map(|e| match e.messages.into_iter().next() {
                Some(Message::Notice(Notice::BJoin(uibs))) => {
                    assert_eq!(uibs.len(), 1);
                    assert_eq!(uibs[0].uri, format!("sip:alice@{DOMAIN}"));
                    uibs[0].aibs.iter().filter_map(|a| a.room_uri()).collect()
                }
                other => panic!("expected ntc:bjoin, got {other:?}"),
            })
            .collect()
    };
    let uris: Vec<String> = rooms.iter().map(World::uri).collect();
    assert_eq!(heard(2), [vec![uris[0].clone(), uris[1].clone()]]);
    assert_eq!(heard(3), [vec![uris[2].clone()]]);
    w.finish().await;
}
