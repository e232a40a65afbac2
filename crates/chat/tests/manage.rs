//! The room-management application's core API end to end: a real store on disk, chat
//! sessions joined through XCCOS bodies, and what the sessions receive when a room is
//! changed through the API. Every bad input of issue 13 that the core refuses is here.

mod common;

use common::{DOMAIN, Recorder};

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parlance_chat::manage::{
    Actor, Behavior, CategoryForm, Field, ManageError, Privacy, Problem, Role, RoomForm, RoomView,
    ScopeEntry, TICKET_LIFETIME,
};
use parlance_chat::{ChatService, Principal, SessionId};
use parlance_clock::Clock;
use parlance_store::Store;
use parlance_store::rooms::{Category, NewCategory};
use xccos::{
    ChanId, ChatMessage, Command, CommandKind, Envelope, GrpChat, Limits, Message, Notice,
    ReplyData, Sib, format_timestamp,
};

const RM_URL: &str = "https://chat.example.test/PersistentChat/RM/?extensionparam=value";

struct World {
    chat: ChatService,
    store: Store,
    clock: Clock,
    sink: Arc<Recorder>,
    dir: PathBuf,
    sessions: AtomicU64,
}

/// A user with an actor and a chat session.
#[derive(Debug, Clone)]
struct User {
    actor: Actor,
    session: SessionId,
}

impl World {
    async fn start() -> World {
        let dir = common::scratch_dir("manage");
        let store = Store::open_sqlite(&dir.join("chat.db")).await.unwrap();
        let clock = Clock::default();
        let sink = Arc::new(Recorder::default());
        let settings = common::settings(None, Some(RM_URL));
        let chat = ChatService::new(store.clone(), settings, sink.clone(), clock.clone())
            .await
            .unwrap();
        World {
            chat,
            store,
            clock,
            sink,
            dir,
            sessions: AtomicU64::new(1),
        }
    }

    async fn finish(self) {
        self.store.close().await;
        std::fs::remove_dir_all(&self.dir).unwrap();
    }

    async fn user(&self, name: &str, display: &str) -> User {
        let uri = format!("sip:{name}@{DOMAIN}");
        self.store
            .add_user(
                &uri,
                display,
                "pw",
                DOMAIN,
                &parlance_store::ServerKey::from_bytes(&[1; 32]).unwrap(),
            )
            .await
            .unwrap();
        let session = self.sessions.fetch_add(1, Ordering::SeqCst);
        self.chat.open_session(session, &uri, false).await.unwrap();
        let actor = self.chat.actor(&uri).await.unwrap().unwrap();
        User { actor, session }
    }

    async fn category(&self, name: &str, file_post: bool, creators: &[&User]) -> Category {
        let root = self.store.root_category().await.unwrap();
        let category = self
            .store
            .add_category(&NewCategory {
                parent_id: root.id,
                name,
                description: "",
                file_post,
                invitations: true,
                logged: true,
            })
            .await
            .unwrap();
        for creator in creators {
            self.store
                .set_category_creator(category.id, creator.actor.principal.id, true)
                .await
                .unwrap();
        }
        category
    }

    /// The bodies delivered to a session since `from` (an index into everything delivered).
    fn received(&self, session: SessionId, from: usize) -> Vec<Message> {
        let delivered = self.sink.0.lock().unwrap();
        delivered[from..]
            .iter()
            .filter(|(s, _)| *s == session)
            .flat_map(|(_, body)| Envelope::parse(body, &Limits::default()).unwrap().messages)
            .collect()
    }

    fn mark(&self) -> usize {
        self.sink.0.lock().unwrap().len()
    }

    async fn command(&self, user: &User, kind: CommandKind) -> xccos::Reply {
        let from = self.mark();
        let body = Envelope::new(1, Command { seqid: 7, kind }).to_xml();
        self.chat
            .handle(user.session, body.as_bytes(), |_| {})
            .await;
        self.received(user.session, from)
            .into_iter()
            .find_map(|m| match m {
                Message::Reply(r) => Some(r),
                _ => None,
            })
            .expect("a reply")
    }

    /// A user made an administrator after signing in to chat: the user (whose actor is
    /// from before), and the actor the application sees now.
    async fn admin(&self, name: &str) -> (User, Actor) {
        let user = self.user(name, "").await;
        let uri = &user.actor.principal.uri;
        self.store.set_admin(uri, true).await.unwrap();
        let admin = self.chat.actor(uri).await.unwrap().unwrap();
        (user, admin)
    }

    /// `user` is offered no category and may not create `name` in `category`.
    async fn cannot_create(&self, user: &User, category: &Category, name: &str) {
        let offered = self.chat.creatable_categories(&user.actor).await.unwrap();
        assert!(offered.is_empty(), "{offered:?}");
        let made = self
            .chat
            .create_room(&user.actor, &form(category, name))
            .await;
        assert!(matches!(made, Err(ManageError::Forbidden)), "{made:?}");
    }

    /// `by` gives `role` in `room` to the account `address`.
    async fn give(&self, by: &User, room: &RoomView, role: Role, address: &str) -> RoomView {
        let add = [address.to_owned()];
        self.chat
            .set_people(&by.actor, &room.guid, role, &add, &[])
            .await
            .unwrap()
    }

    async fn join(&self, user: &User, room_uri: &str) {
        let chanid = ChanId::from_uri(0, room_uri).unwrap();
        let reply = self.command(user, CommandKind::Join(chanid)).await;
        assert!(reply.resp.is_success(), "{reply:?}");
    }

    async fn post(&self, user: &User, room_uri: &str, text: &str) {
        let chat = GrpChat {
            seqid: 1,
            message: ChatMessage {
                channel_uri: room_uri.into(),
                author: user.actor.principal.uri.clone(),
                ts: Some(format_timestamp(self.clock.unix_nanos())),
                message_id: None,
                text: text.into(),
                alert: false,
                rtf: None,
            },
        };
        let body = Envelope::new(1, chat).to_xml();
        self.chat
            .handle(user.session, body.as_bytes(), |_| {})
            .await;
    }
}

fn form(category: &Category, name: &str) -> RoomForm {
    RoomForm {
        category: category.guid.clone(),
        name: name.into(),
        description: String::new(),
        topic: String::new(),
        privacy: Privacy::Closed,
        behavior: Behavior::Normal,
        invitations: true,
        file_post: None,
        disabled: false,
    }
}

fn uris(people: &[parlance_chat::manage::PersonView]) -> Vec<&str> {
    people.iter().map(|p| p.uri.as_str()).collect()
}

fn invalid(result: Result<impl std::fmt::Debug, ManageError>) -> (Field, Problem) {
    match result {
        Err(ManageError::Invalid { field, problem }) => (field, problem),
        other => panic!("not Invalid: {other:?}"),
    }
}

#[tokio::test]
async fn a_creator_creates_a_room_and_manages_it_by_any_spelling_of_its_guid() {
    let world = World::start().await;
    let alice = world.user("alice", "Alice").await;
    let projects = world.category("Projects", true, &[&alice]).await;
    assert_eq!(
        world
            .chat
            .creatable_categories(&alice.actor)
            .await
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["Projects"]
    );
    let defaults = world
        .chat
        .room_defaults(&alice.actor, &projects.guid)
        .await
        .unwrap();
    assert_eq!(
        (defaults.privacy, defaults.invitations),
        (Privacy::Closed, true)
    );

    let mut new = form(&projects, "<script>alert(1)</script>");
    new.topic = "a & b".into();
    let room = world.chat.create_room(&alice.actor, &new).await.unwrap();
    assert_eq!(
        room.name, "<script>alert(1)</script>",
        "stored as text, as typed"
    );
    assert_eq!(room.uri, format!("ma-chan://{DOMAIN}/{}", room.guid));
    assert_eq!(uris(&room.managers), ["sip:alice@example.test"]);
    assert_eq!(uris(&room.members), ["sip:alice@example.test"]);
    assert!(room.can_edit);
    assert_eq!(room.changes.len(), 1);
    assert_eq!(room.changes[0].action, "room.create");

    for spelling in [
        room.guid.to_uppercase(),
        format!("{{{}}}", room.guid.to_uppercase()),
        format!("{{{}}}", room.guid),
    ] {
        let page = world.chat.room_page(&alice.actor, &spelling).await.unwrap();
        assert_eq!(page.guid, room.guid);
    }
    let managed = world.chat.managed_rooms(&alice.actor).await.unwrap();
    assert_eq!(managed.len(), 1);
    world.finish().await;
}

#[tokio::test]
async fn only_creators_create_and_only_managers_edit() {
    let world = World::start().await;
    let alice = world.user("alice", "").await;
    let bob = world.user("bob", "").await;
    let projects = world.category("Projects", true, &[&alice]).await;
    world.cannot_create(&bob, &projects, "Bob's").await;
    assert!(matches!(
        world.chat.room_defaults(&bob.actor, &projects.guid).await,
        Err(ManageError::Forbidden)
    ));
    let root = world.store.root_category().await.unwrap();
    for category in [root.guid.clone(), "not-a-guid".into(), uuid_like()] {
        let mut f = form(&projects, "Anywhere");
        f.category = category;
        assert!(matches!(
            world.chat.create_room(&alice.actor, &f).await,
            Err(ManageError::NotFound)
        ));
    }

    let room = world
        .chat
        .create_room(&alice.actor, &form(&projects, "Plans"))
        .await
        .unwrap();
    world
        .give(&alice, &room, Role::Member, "bob@example.test")
        .await;
    let seen = world.chat.room_page(&bob.actor, &room.guid).await.unwrap();
    assert!(!seen.can_edit, "a member sees the room read-only");
    assert!(seen.changes.is_empty(), "and not its audit records");
    let mut edit = form(&projects, "Bob's now");
    edit.topic = "mine".into();
    assert!(matches!(
        world.chat.edit_room(&bob.actor, &room.guid, &edit).await,
        Err(ManageError::Forbidden)
    ));
    assert!(matches!(
        world
            .chat
            .set_people(
                &bob.actor,
                &room.guid,
                Role::Manager,
                &["bob@example.test".into()],
                &[]
            )
            .await,
        Err(ManageError::Forbidden)
    ));
    let unchanged = world
        .chat
        .room_page(&alice.actor, &room.guid)
        .await
        .unwrap();
    assert_eq!(
        (unchanged.name.as_str(), unchanged.topic.as_str()),
        ("Plans", "")
    );
    assert_eq!(uris(&unchanged.managers), ["sip:alice@example.test"]);

    // Administrators manage every room.
    world
        .store
        .set_admin("carol@example.test", true)
        .await
        .unwrap_err();
    let (carol, carol_admin) = world.admin("carol").await;
    assert!(carol_admin.admin);
    assert!(!carol.actor.admin);
    world
        .chat
        .edit_room(&carol_admin, &room.guid, &edit)
        .await
        .unwrap();
    assert_eq!(
        world.chat.managed_rooms(&carol_admin).await.unwrap().len(),
        1
    );
    assert_eq!(
        world
            .chat
            .creatable_categories(&carol_admin)
            .await
            .unwrap()
            .len(),
        1
    );

    // A creator denied the category's scope creates no more rooms there.
    world
        .store
        .set_category_scope(
            projects.id,
            alice.actor.principal.id,
            Some(ScopeEntry::Deny),
        )
        .await
        .unwrap();
    world.cannot_create(&alice, &projects, "Denied").await;
    world.finish().await;
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".into()
}

#[tokio::test]
async fn unknown_malformed_foreign_and_secret_rooms_are_one_answer() {
    let world = World::start().await;
    let alice = world.user("alice", "").await;
    let bob = world.user("bob", "").await;
    let projects = world.category("Projects", true, &[&alice]).await;
    let mut secret = form(&projects, "Hidden");
    secret.privacy = Privacy::Secret;
    let hidden = world.chat.create_room(&alice.actor, &secret).await.unwrap();
    let ids = [
        hidden.guid.clone(),
        hidden.guid.to_uppercase(),
        uuid_like(),
        format!("ma-chan://other.test/{}", hidden.guid),
        format!("{}x", hidden.guid),
        String::new(),
        "%".into(),
        "x".repeat(10_000),
    ];
    for id in &ids {
        let page = world.chat.room_page(&bob.actor, id).await;
        assert!(
            matches!(page, Err(ManageError::NotFound)),
            "{id:.60}: {page:?}"
        );
        let edit = world
            .chat
            .edit_room(&bob.actor, id, &form(&projects, "x"))
            .await;
        assert!(matches!(edit, Err(ManageError::NotFound)), "{id:.60}");
        let people = world
            .chat
            .set_people(&bob.actor, id, Role::Member, &[], &[])
            .await;
        assert!(matches!(people, Err(ManageError::NotFound)), "{id:.60}");
    }
    world.finish().await;
}

#[tokio::test]
async fn bad_fields_are_refused_and_leave_the_room_unchanged() {
    let world = World::start().await;
    let alice = world.user("alice", "").await;
    let projects = world.category("Projects", false, &[&alice]).await;
    let room = world
        .chat
        .create_room(&alice.actor, &form(&projects, "Plans"))
        .await
        .unwrap();
    world
        .chat
        .create_room(&alice.actor, &form(&projects, "Other"))
        .await
        .unwrap();
    let before = world
        .chat
        .room_page(&alice.actor, &room.guid)
        .await
        .unwrap();

    let huge = "n".repeat(10_000);
    let cases: Vec<(RoomForm, (Field, Problem))> = vec![
        (
            form(&projects, &huge),
            (Field::Name, Problem::TooLong { max: 256 }),
        ),
        (form(&projects, "   "), (Field::Name, Problem::Empty)),
        (
            form(&projects, "bell\u{7}"),
            (Field::Name, Problem::ControlCharacters),
        ),
        (
            form(&projects, "tab\there"),
            (Field::Name, Problem::ControlCharacters),
        ),
        (form(&projects, "OTHER"), (Field::Name, Problem::Duplicate)),
        (
            RoomForm {
                description: "d".repeat(1025),
                ..form(&projects, "Plans")
            },
            (Field::Description, Problem::TooLong { max: 1024 }),
        ),
        (
            RoomForm {
                topic: "line\nbreak".into(),
                ..form(&projects, "Plans")
            },
            (Field::Topic, Problem::ControlCharacters),
        ),
        (
            RoomForm {
                file_post: Some(true),
                ..form(&projects, "Plans")
            },
            (Field::FilePost, Problem::NotAllowedHere),
        ),
    ];
    for (bad, expected) in cases {
        assert_eq!(
            invalid(world.chat.edit_room(&alice.actor, &room.guid, &bad).await),
            expected
        );
        let mut new = bad.clone();
        if expected.0 != Field::Name {
            new.name = "Fresh".into();
        }
        assert_eq!(
            invalid(world.chat.create_room(&alice.actor, &new).await),
            expected
        );
    }
    let description = RoomForm {
        description: "two\nlines\r\n\ttabbed".into(),
        ..form(&projects, "Plans")
    };
    world
        .chat
        .edit_room(&alice.actor, &room.guid, &description)
        .await
        .unwrap();
    let after = world
        .chat
        .room_page(&alice.actor, &room.guid)
        .await
        .unwrap();
    assert_eq!(
        after.changes.len(),
        before.changes.len() + 1,
        "only the good edit was recorded"
    );
    assert_eq!(
        world.store.rooms().await.unwrap().len(),
        2,
        "no room was made"
    );

    // People: unknown, malformed, outside the scope, too many, the last manager.
    for (address, problem) in [
        ("nobody@example.test", Problem::UnknownPerson),
        ("<b>", Problem::UnknownPerson),
    ] {
        assert_eq!(
            invalid(
                world
                    .chat
                    .set_people(
                        &alice.actor,
                        &room.guid,
                        Role::Member,
                        &[address.into()],
                        &[]
                    )
                    .await
            ),
            (Field::Person(address.into()), problem)
        );
    }
    let many: Vec<String> = (0..101).map(|i| format!("u{i}@example.test")).collect();
    assert_eq!(
        invalid(
            world
                .chat
                .set_people(&alice.actor, &room.guid, Role::Member, &many, &[])
                .await
        ),
        (Field::People, Problem::TooLong { max: 100 })
    );
    assert_eq!(
        invalid(
            world
                .chat
                .set_people(
                    &alice.actor,
                    &room.guid,
                    Role::Manager,
                    &[],
                    &["alice@example.test".into()]
                )
                .await
        ),
        (Field::People, Problem::NotAllowedHere)
    );
    let denied = world.user("dave", "").await;
    world
        .store
        .set_category_scope(
            projects.id,
            denied.actor.principal.id,
            Some(ScopeEntry::Deny),
        )
        .await
        .unwrap();
    assert_eq!(
        invalid(
            world
                .chat
                .set_people(
                    &alice.actor,
                    &room.guid,
                    Role::Member,
                    &["dave@example.test".into()],
                    &[]
                )
                .await
        ),
        (
            Field::Person("dave@example.test".into()),
            Problem::NotAllowedHere
        )
    );
    world.finish().await;
}

#[tokio::test]
async fn the_people_search_is_literal_and_bounded() {
    let world = World::start().await;
    let alice = world.user("alice", "Alice 100%").await;
    world.user("bob", "Bob * Star").await;
    world.user("carol", "Carol").await;
    let search = |q: &'static str, limit| {
        let chat = &world.chat;
        let actor = alice.actor.clone();
        async move { chat.search_people(&actor, q, limit).await.unwrap() }
    };
    assert_eq!(uris(&search("%", 50).await), ["sip:alice@example.test"]);
    assert_eq!(uris(&search("*", 50).await), ["sip:bob@example.test"]);
    assert_eq!(search("Alice", 50).await[0].display, "Alice 100%");
    assert!(search("", 50).await.is_empty());
    assert_eq!(search("example", 1000).await.len(), 3);
    assert_eq!(search("example", 2).await.len(), 2);
    assert!(matches!(
        world
            .chat
            .search_people(&alice.actor, &"q".repeat(10_000), 50)
            .await,
        Err(ManageError::Invalid {
            field: Field::Query,
            ..
        })
    ));
    world.finish().await;
}

#[tokio::test]
async fn a_removed_member_gets_ntc_part_and_nothing_more() {
    let world = World::start().await;
    let alice = world.user("alice", "").await;
    let bob = world.user("bob", "").await;
    let projects = world.category("Projects", true, &[&alice]).await;
    let room = world
        .chat
        .create_room(&alice.actor, &form(&projects, "Plans"))
        .await
        .unwrap();
    world
        .give(&alice, &room, Role::Member, "sip:bob@example.test")
        .await;
    world.join(&alice, &room.uri).await;
    world.join(&bob, &room.uri).await;

    let from = world.mark();
    let page = world
        .chat
        .set_people(
            &alice.actor,
            &room.guid,
            Role::Member,
            &[],
            &["bob@example.test".into()],
        )
        .await
        .unwrap();
    assert_eq!(uris(&page.members), ["sip:alice@example.test"]);
    world.post(&alice, &room.uri, "after bob left").await;
    let to_bob = world.received(bob.session, from);
    assert_eq!(to_bob.len(), 1, "{to_bob:?}");
    match &to_bob[0] {
        Message::Notice(Notice::Part(chanibs)) => {
            assert_eq!(chanibs[0].uri, room.uri);
            assert_eq!(chanibs[0].uibs[0].uri, "sip:bob@example.test");
        }
        other => panic!("not ntc:part: {other:?}"),
    }
    let to_alice = world.received(alice.session, from);
    assert!(
        to_alice
            .iter()
            .any(|m| matches!(m, Message::Notice(Notice::Part(_))))
    );
    assert!(to_alice.iter().any(|m| matches!(m, Message::GrpChat(_))));
    let log = world
        .chat
        .room_page(&alice.actor, &room.guid)
        .await
        .unwrap()
        .changes;
    assert_eq!(log[0].detail, "member: -sip:bob@example.test");
    world.finish().await;
}

#[tokio::test]
async fn changes_reach_joined_sessions_as_notices() {
    let world = World::start().await;
    let alice = world.user("alice", "").await;
    let bob = world.user("bob", "").await;
    let projects = world.category("Projects", true, &[&alice]).await;
    let mut open = form(&projects, "Plans");
    open.privacy = Privacy::Open;
    let room = world.chat.create_room(&alice.actor, &open).await.unwrap();
    world.join(&bob, &room.uri).await;

    let from = world.mark();
    let mut edit = open.clone();
    edit.topic = "<b>launch</b> at noon".into();
    world
        .chat
        .edit_room(&alice.actor, &room.guid, &edit)
        .await
        .unwrap();
    let to_bob = world.received(bob.session, from);
    match to_bob.as_slice() {
        [Message::Notice(Notice::ChanUpd(chanibs))] => {
            assert_eq!(chanibs[0].uri, room.uri);
            assert_eq!(chanibs[0].topic.as_deref(), Some("<b>launch</b> at noon"));
            assert_eq!(chanibs[0].name.as_deref(), Some("Plans"));
        }
        other => panic!("not one ntc:chanupd: {other:?}"),
    }

    // Bob made a manager while present: the roster shows it.
    let from = world.mark();
    world
        .give(&alice, &room, Role::Manager, "bob@example.test")
        .await;
    match world.received(bob.session, from).as_slice() {
        [Message::Notice(Notice::Join(uibs))] => {
            assert_eq!(uibs[0].uri, "sip:bob@example.test");
            assert_eq!(uibs[0].aibs[0].key, xccos::AIB_KEY_MANAGER);
        }
        other => panic!("not one ntc:join: {other:?}"),
    }

    // Made Secret, the room keeps its members only: bob (a manager now) stays.
    let from = world.mark();
    let secret = RoomForm {
        privacy: Privacy::Secret,
        ..edit.clone()
    };
    world
        .chat
        .edit_room(&alice.actor, &room.guid, &secret)
        .await
        .unwrap();
    assert!(matches!(
        world.received(bob.session, from).as_slice(),
        [Message::Notice(Notice::ChanUpd(_))]
    ));
    // Disabled, it keeps nobody.
    let from = world.mark();
    let disabled = RoomForm {
        disabled: true,
        ..secret
    };
    world
        .chat
        .edit_room(&alice.actor, &room.guid, &disabled)
        .await
        .unwrap();
    assert!(matches!(
        world.received(bob.session, from).as_slice(),
        [Message::Notice(Notice::Part(_))]
    ));
    // Its managers still open its page, to enable it again.
    assert!(
        world
            .chat
            .room_page(&alice.actor, &room.guid)
            .await
            .unwrap()
            .disabled
    );
    world.finish().await;
}

#[tokio::test]
async fn a_manager_who_steps_down_from_a_secret_room_learns_how_it_ended() {
    let world = World::start().await;
    let alice = world.user("alice", "").await;
    let bob = world.user("bob", "").await;
    let projects = world.category("Projects", true, &[&alice]).await;
    let secret = RoomForm {
        privacy: Privacy::Secret,
        ..form(&projects, "Hidden")
    };
    let room = world.chat.create_room(&alice.actor, &secret).await.unwrap();
    let bob_manager = ["bob@example.test".to_owned()];
    world
        .chat
        .set_people(&alice.actor, &room.guid, Role::Manager, &bob_manager, &[])
        .await
        .unwrap();
    let after = world
        .chat
        .set_people(&bob.actor, &room.guid, Role::Manager, &[], &bob_manager)
        .await
        .unwrap();
    assert!(!after.can_edit && after.changes.is_empty());
    assert_eq!(uris(&after.managers), ["sip:alice@example.test"]);
    assert!(matches!(
        world.chat.room_page(&bob.actor, &room.guid).await,
        Err(ManageError::NotFound)
    ));
    world.finish().await;
}

#[tokio::test]
async fn administrators_manage_categories_and_the_rooms_feel_it() {
    let world = World::start().await;
    let (alice, admin) = world.admin("alice").await;
    let bob = world.user("bob", "").await;
    let projects = world.category("Projects", true, &[]).await;
    assert!(matches!(
        world.chat.categories_admin(&bob.actor).await,
        Err(ManageError::Forbidden)
    ));
    let listed = world.chat.categories_admin(&admin).await.unwrap();
    assert_eq!(listed.len(), 1, "the root is not managed");

    // Creators: bob may create once made one.
    let bob_list = ["bob@example.test".to_owned()];
    let page = world
        .chat
        .set_category_creators(&admin, &projects.guid, &bob_list, &[])
        .await
        .unwrap();
    assert_eq!(uris(&page.creators), ["sip:bob@example.test"]);
    let open = RoomForm {
        privacy: Privacy::Open,
        ..form(&projects, "Open plan")
    };
    let room = world.chat.create_room(&bob.actor, &open).await.unwrap();
    world.join(&alice, &room.uri).await;
    world.join(&bob, &room.uri).await;

    // Defaults: file posting off reaches the joined sessions.
    let from = world.mark();
    let settings = CategoryForm {
        name: "Projects".into(),
        description: "<i>team</i> rooms".into(),
        file_post: false,
        invitations: true,
        logged: true,
    };
    let page = world
        .chat
        .edit_category(&admin, &projects.guid.to_uppercase(), &settings)
        .await
        .unwrap();
    assert_eq!(page.category.description, "<i>team</i> rooms");
    assert_eq!(page.changes[0].action, "category.edit");
    match world.received(bob.session, from).as_slice() {
        [Message::Notice(Notice::ChanUpd(chanibs))] => {
            assert_eq!(chanibs[0].file_post, Some(false))
        }
        other => panic!("not one ntc:chanupd: {other:?}"),
    }
    let bad = CategoryForm {
        name: "\u{0}".into(),
        ..settings.clone()
    };
    assert_eq!(
        invalid(world.chat.edit_category(&admin, &projects.guid, &bad).await),
        (Field::Name, Problem::ControlCharacters)
    );
    // Category names are unique whatever their case.
    world.category("Other", true, &[]).await;
    let taken = CategoryForm {
        name: "OTHER".into(),
        ..settings.clone()
    };
    assert_eq!(
        invalid(
            world
                .chat
                .edit_category(&admin, &projects.guid, &taken)
                .await
        ),
        (Field::Name, Problem::Duplicate)
    );

    // Scope: alice, in the Open room without a role there, leaves it at once when denied
    // (administrators manage rooms in the application; in chat they are like anyone).
    let from = world.mark();
    let page = world
        .chat
        .set_category_scope(
            &admin,
            &projects.guid,
            Some(ScopeEntry::Deny),
            &["alice@example.test".into()],
        )
        .await
        .unwrap();
    assert_eq!(uris(&page.denied), ["sip:alice@example.test"]);
    assert!(matches!(
        world.received(alice.session, from).as_slice(),
        [Message::Notice(Notice::Part(_))]
    ));
    assert!(
        matches!(
            world.received(bob.session, from).as_slice(),
            [Message::Notice(Notice::Part(_))]
        ),
        "bob hears that alice left"
    );
    assert!(matches!(
        world.chat.category_admin(&admin, "nonsense").await,
        Err(ManageError::NotFound)
    ));
    world.finish().await;
}

#[tokio::test]
async fn web_tickets_sign_in_once_briefly_and_only_as_issued() {
    let world = World::start().await;
    let alice = world.user("alice", "").await;
    let principal: &Principal = &alice.actor.principal;
    let ticket = world.chat.web_ticket(principal);
    assert_eq!(ticket.len(), 64);
    assert!(
        ticket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    assert_eq!(
        world.chat.redeem_web_ticket(&ticket).await.unwrap(),
        Some(alice.actor.clone())
    );

    let mut forged = ticket.clone().into_bytes();
    forged[5] = if forged[5] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [
        forged.as_str(),
        "",
        "x",
        &ticket[..63],
        &format!("{ticket}A"),
        "%%%%",
    ] {
        assert_eq!(
            world.chat.redeem_web_ticket(bad).await.unwrap(),
            None,
            "{bad}"
        );
    }
    world
        .clock
        .advance(TICKET_LIFETIME + Duration::from_secs(1));
    assert_eq!(
        world.chat.redeem_web_ticket(&ticket).await.unwrap(),
        None,
        "expired"
    );

    let fresh = world.chat.web_ticket(principal);
    world
        .store
        .set_disabled("alice@example.test", true)
        .await
        .unwrap();
    assert_eq!(
        world.chat.redeem_web_ticket(&fresh).await.unwrap(),
        None,
        "disabled"
    );
    world.finish().await;
}

#[tokio::test]
async fn getserverinfo_hands_out_the_management_url_with_a_ticket() {
    let world = World::start().await;
    let alice = world.user("alice", "").await;
    let reply = world
        .command(&alice, CommandKind::GetServerInfo(Some(Sib::default())))
        .await;
    let ReplyData::GetServerInfo(Some(sib)) = reply.data else {
        panic!("no sib: {reply:?}");
    };
    let url = sib.room_management_url.unwrap();
    let ticket = url
        .strip_prefix(&format!("{RM_URL}&ticket="))
        .expect("the ticket appended after the URL's own parameters");
    assert_eq!(
        world
            .chat
            .redeem_web_ticket(ticket)
            .await
            .unwrap()
            .unwrap()
            .principal
            .uri,
        "sip:alice@example.test"
    );
    world.finish().await;
}

/// A change refused for bob@example.test, the person named.
fn refused(result: Result<impl std::fmt::Debug, ManageError>) {
    assert_eq!(
        invalid(result),
        (
            Field::Person("bob@example.test".into()),
            Problem::NotAllowedHere
        )
    );
}

/// Issue 17 item 4: the original's role rules through the application. A presenter must be a
/// member (PresenterNotInMemList), a presenter's member role goes only after the presenter
/// role, and nobody outside the category's scope is made creator.
#[tokio::test]
async fn presenters_are_members_and_creators_are_in_scope() {
    let world = World::start().await;
    let alice = world.user("alice", "").await;
    let bob = world.user("bob", "").await;
    let projects = world.category("Projects", true, &[&alice]).await;
    let room = world
        .chat
        .create_room(&alice.actor, &form(&projects, "Stage"))
        .await
        .unwrap();
    let bob_address = ["bob@example.test".to_owned()];

    refused(
        world
            .chat
            .set_people(&alice.actor, &room.guid, Role::Presenter, &bob_address, &[])
            .await,
    );
    let bob_id = bob.actor.principal.id;
    let room_id = world
        .store
        .room_by_guid(&room.guid)
        .await
        .unwrap()
        .unwrap()
        .room
        .id;
    let roles = world.store.roles_of(room_id, bob_id).await.unwrap();
    assert!(roles.is_empty(), "nothing changed: {roles:?}");

    world
        .give(&alice, &room, Role::Member, "bob@example.test")
        .await;
    world
        .give(&alice, &room, Role::Presenter, "bob@example.test")
        .await;
    refused(
        world
            .chat
            .set_people(&alice.actor, &room.guid, Role::Member, &[], &bob_address)
            .await,
    );
    world
        .chat
        .set_people(&alice.actor, &room.guid, Role::Presenter, &[], &bob_address)
        .await
        .unwrap();
    world
        .chat
        .set_people(&alice.actor, &room.guid, Role::Member, &[], &bob_address)
        .await
        .unwrap();
    assert!(
        world
            .store
            .roles_of(room_id, bob_id)
            .await
            .unwrap()
            .is_empty()
    );

    let (_, admin) = world.admin("root").await;
    world
        .store
        .set_category_scope(projects.id, bob_id, Some(ScopeEntry::Deny))
        .await
        .unwrap();
    refused(
        world
            .chat
            .set_category_creators(&admin, &projects.guid, &bob_address, &[])
            .await,
    );
    assert!(
        !world
            .store
            .category_creators(projects.id)
            .await
            .unwrap()
            .contains(&bob_id)
    );
    world.finish().await;
}
