//! Joins and parts are recorded for compliance in the same step as they happen: when the
//! store cannot write the row, the roster does not change and the client gets the protocol's
//! error. The failure is a real one of SQLite: a trigger, added below the store, that
//! refuses the outbox row of one room.

mod common;

use std::sync::Arc;

use parlance_chat::{Answer, ChatService, SessionId};
use parlance_clock::Clock;
use parlance_store::Store;
use parlance_store::rooms::{Behavior, Privacy, Role, RoomInfo};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;
use xccos::{ChanId, CommandKind, Message, Notice, ReplyData, ResponseCode};

use common::{DOMAIN, Recorder};

struct World {
    chat: ChatService,
    store: Store,
    sink: Arc<Recorder>,
    /// A connection pool of the test's own on the same database file.
    below: SqlitePool,
    dir: std::path::PathBuf,
    clock: Clock,
}

#[derive(Debug, Clone, Copy)]
struct User {
    id: i64,
    session: SessionId,
}

impl World {
    async fn start() -> World {
        let dir = common::scratch_dir("outbox");
        let path = dir.join("chat.db");
        let store = Store::open_sqlite(&path).await.unwrap();
        let below = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
            .await
            .unwrap();
        let sink = Arc::new(Recorder::default());
        let clock = Clock::default();
        let chat = ChatService::new(
            store.clone(),
            common::settings(None, None),
            sink.clone(),
            clock.clone(),
        )
        .await
        .unwrap();
        World {
            chat,
            store,
            sink,
            below,
            dir,
            clock,
        }
    }

    async fn finish(self) {
        self.below.close().await;
        self.store.close().await;
        std::fs::remove_dir_all(&self.dir).unwrap();
    }

    async fn user(&self, name: &str, session: SessionId) -> User {
        let id = common::sign_in(&self.chat, &self.store, name, session).await;
        User { id, session }
    }

    async fn open_room(&self, name: &str) -> RoomInfo {
        common::room(&self.store, name, Privacy::Open, Behavior::Normal, true).await
    }

    /// From now on SQLite refuses every `kind` row of `room`'s outbox.
    async fn refuse(&self, kind: &str, room: &RoomInfo) {
        sqlx::raw_sql(&format!(
            "CREATE TRIGGER refuse_{kind} BEFORE INSERT ON compliance_outbox \
             WHEN NEW.kind = '{kind}' AND NEW.room_id = {} \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
            room.room.id
        ))
        .execute(&self.below)
        .await
        .unwrap();
    }

    async fn accept(&self, kind: &str) {
        sqlx::raw_sql(&format!("DROP TRIGGER refuse_{kind}"))
            .execute(&self.below)
            .await
            .unwrap();
    }

    async fn join(&self, user: User, room: &RoomInfo) -> xccos::Reply {
        let chanid = ChanId::from_uri(0, &room_uri(room)).unwrap();
        common::command(
            &self.chat,
            &self.sink,
            user.session,
            CommandKind::Join(chanid),
        )
        .await
    }

    async fn part(&self, user: User, room: &RoomInfo) -> xccos::Reply {
        let kind = CommandKind::Part {
            channel_uri: room_uri(room),
        };
        common::command(&self.chat, &self.sink, user.session, kind).await
    }

    /// Posts a line: whether the session is in the room shows in the answer.
    async fn post(&self, user: User, room: &RoomInfo) -> Answer {
        let author = self.store.user_by_id(user.id).await.unwrap().unwrap().uri;
        let at = self.clock.unix_nanos();
        common::post(
            &self.chat,
            user.session,
            &author,
            &room_uri(room),
            at,
            "still here?",
        )
        .await
    }

    /// The join and part rows of a room, as (kind, principal).
    async fn presence_rows(&self, room: &RoomInfo) -> Vec<(String, i64)> {
        self.store
            .compliance_events(0, u32::MAX)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.room_id == room.room.id && (e.kind == "join" || e.kind == "part"))
            .map(|e| (e.kind.to_string(), e.principal_id))
            .collect()
    }

    /// The notices `user` was sent since `mark`.
    fn notices(&self, mark: usize, user: User) -> Vec<Notice> {
        self.sink
            .since(mark, user.session)
            .into_iter()
            .flat_map(|e| e.messages)
            .filter_map(|m| match m {
                Message::Notice(n) => Some(n),
                _ => None,
            })
            .collect()
    }
}

fn room_uri(room: &RoomInfo) -> String {
    format!("ma-chan://{DOMAIN}/{}", room.room.guid)
}

fn refused_with_server_error(reply: &xccos::Reply) {
    assert_eq!(
        ResponseCode::from_code(reply.resp.code),
        Some(ResponseCode::Server),
        "{reply:?}"
    );
}

#[tokio::test]
async fn a_join_that_cannot_be_recorded_does_not_happen() {
    let world = World::start().await;
    let (alice, bob) = (world.user("alice", 1).await, world.user("bob", 2).await);
    let lobby = world.open_room("Lobby").await;
    assert!(world.join(bob, &lobby).await.resp.is_success());
    world.refuse("join", &lobby).await;

    let mark = world.sink.mark();
    refused_with_server_error(&world.join(alice, &lobby).await);
    assert_eq!(world.post(alice, &lobby).await, Answer::NotJoined);
    assert!(world.notices(mark, bob).is_empty(), "bob heard of a join");
    assert_eq!(
        world.presence_rows(&lobby).await,
        vec![("join".into(), bob.id)]
    );

    world.accept("join").await;
    let mark = world.sink.mark();
    assert!(world.join(alice, &lobby).await.resp.is_success());
    assert_eq!(world.post(alice, &lobby).await, Answer::Accepted);
    assert!(matches!(world.notices(mark, bob)[..], [Notice::Join(_)]));
    // Joining again from the same session changes nothing, and records nothing.
    assert!(world.join(alice, &lobby).await.resp.is_success());
    assert_eq!(
        world.presence_rows(&lobby).await,
        vec![("join".into(), bob.id), ("join".into(), alice.id)]
    );
    world.finish().await;
}

#[tokio::test]
async fn a_batch_join_lists_the_room_it_could_not_record_as_failed() {
    let world = World::start().await;
    let alice = world.user("alice", 1).await;
    let (lobby, other) = (
        world.open_room("Lobby").await,
        world.open_room("Other").await,
    );
    world.refuse("join", &lobby).await;

    let chanids = [&lobby, &other]
        .iter()
        .map(|r| ChanId::from_uri(0, &room_uri(r)).unwrap())
        .collect();
    let reply = common::command(
        &world.chat,
        &world.sink,
        alice.session,
        CommandKind::BJoin(chanids),
    )
    .await;
    assert!(reply.resp.is_success(), "{reply:?}");
    let ReplyData::BJoin(data) = reply.data else {
        panic!("not rpl:bjoin: {reply:?}")
    };
    assert_eq!(data.fibs.len(), 1, "{data:?}");
    assert_eq!(data.fibs[0].value, lobby.room.guid);
    assert_eq!(
        data.chanibs
            .iter()
            .map(|c| c.uri.as_str())
            .collect::<Vec<_>>(),
        [room_uri(&other)]
    );
    assert_eq!(world.post(alice, &lobby).await, Answer::NotJoined);
    assert_eq!(world.post(alice, &other).await, Answer::Accepted);
    assert!(world.presence_rows(&lobby).await.is_empty());
    assert_eq!(
        world.presence_rows(&other).await,
        vec![("join".into(), alice.id)]
    );
    world.finish().await;
}

#[tokio::test]
async fn a_part_that_cannot_be_recorded_leaves_the_session_in_the_room() {
    let world = World::start().await;
    let (alice, bob) = (world.user("alice", 1).await, world.user("bob", 2).await);
    let lobby = world.open_room("Lobby").await;
    assert!(world.join(alice, &lobby).await.resp.is_success());
    assert!(world.join(bob, &lobby).await.resp.is_success());
    world.refuse("part", &lobby).await;

    let mark = world.sink.mark();
    refused_with_server_error(&world.part(alice, &lobby).await);
    assert_eq!(world.post(alice, &lobby).await, Answer::Accepted);
    assert!(
        !world
            .notices(mark, bob)
            .iter()
            .any(|n| matches!(n, Notice::Part(_))),
        "bob heard of a part"
    );

    world.accept("part").await;
    let mark = world.sink.mark();
    assert!(world.part(alice, &lobby).await.resp.is_success());
    assert_eq!(world.post(alice, &lobby).await, Answer::NotJoined);
    assert!(matches!(world.notices(mark, bob)[..], [Notice::Part(_)]));
    assert_eq!(
        world.presence_rows(&lobby).await,
        vec![
            ("join".into(), alice.id),
            ("join".into(), bob.id),
            ("part".into(), alice.id)
        ]
    );
    world.finish().await;
}

#[tokio::test]
async fn a_session_whose_access_is_revoked_leaves_even_when_its_part_cannot_be_recorded() {
    let world = World::start().await;
    let (alice, bob) = (world.user("alice", 1).await, world.user("bob", 2).await);
    let team = common::room(
        &world.store,
        "Team",
        Privacy::Closed,
        Behavior::Normal,
        true,
    )
    .await;
    for user in [alice, bob] {
        world
            .store
            .set_role(team.room.id, user.id, Role::Member, true)
            .await
            .unwrap();
        assert!(world.join(user, &team).await.resp.is_success());
    }
    world.refuse("part", &team).await;

    world
        .store
        .set_role(team.room.id, alice.id, Role::Member, false)
        .await
        .unwrap();
    let mark = world.sink.mark();
    let left = world
        .chat
        .recheck_access(Some(alice.id), Some(team.room.id), None)
        .await
        .unwrap();
    assert_eq!(left, 1);
    assert_eq!(world.post(alice, &team).await, Answer::NotJoined);
    assert!(matches!(world.notices(mark, bob)[..], [Notice::Part(_)]));
    assert_eq!(
        world.presence_rows(&team).await,
        vec![("join".into(), alice.id), ("join".into(), bob.id)],
        "the part row could not be written"
    );
    world.finish().await;
}

#[tokio::test]
async fn everyone_leaves_a_room_deleted_behind_the_servers_back() {
    let world = World::start().await;
    let (alice, bob) = (world.user("alice", 1).await, world.user("bob", 2).await);
    let lobby = common::room(&world.store, "Lobby", Privacy::Open, Behavior::Normal, true).await;
    let other = common::room(&world.store, "Other", Privacy::Open, Behavior::Normal, true).await;
    for user in [alice, bob] {
        assert!(world.join(user, &lobby).await.resp.is_success());
    }
    assert!(world.join(alice, &other).await.resp.is_success());

    // Deleted without being disabled first: the server learns of it only from the change
    // feed, when the room is gone already.
    world.store.delete_room(lobby.room.id).await.unwrap();
    let mark = world.sink.mark();
    let left = world
        .chat
        .recheck_access(None, Some(lobby.room.id), None)
        .await
        .unwrap();
    assert_eq!(left, 2);
    for user in [alice, bob] {
        assert!(
            world
                .notices(mark, user)
                .iter()
                .any(|n| matches!(n, Notice::Part(_))),
            "each session is told it left"
        );
        assert_eq!(world.post(user, &lobby).await, Answer::NoSuchRoom);
    }
    assert_eq!(
        world.post(alice, &other).await,
        Answer::Accepted,
        "its other room stays"
    );
    world.finish().await;
}
