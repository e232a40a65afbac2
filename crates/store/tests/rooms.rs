//! The category, room, role and scope behaviour every storage engine must show. Engines are
//! listed in `common`.

mod common;

use common::{category, engines, new_room, room, user};
use parlance_store::rooms::{
    Behavior, Category, NewCategory, NewRoom, Privacy, Role, RoleHolder, Room, RoomInfo,
    RoomUpdate, ScopeEntry,
};
use parlance_store::{Store, StoreError};

/// The usual text form of a GUID: 8-4-4-4-12 lower-case hex digits.
fn is_guid(s: &str) -> bool {
    let lengths: Vec<usize> = s.split('-').map(str::len).collect();
    lengths == [8, 4, 4, 4, 12]
        && s.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn names(rooms: &[RoomInfo]) -> Vec<&str> {
    rooms.iter().map(|r| r.room.name.as_str()).collect()
}

async fn add_category(store: &Store, parent_id: i64, name: &str, inherited: bool) -> Category {
    let new = NewCategory {
        parent_id,
        name,
        description: "",
        file_post: inherited,
        invitations: inherited,
        logged: inherited,
    };
    store.add_category(&new).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_category_is_created_once_and_kept() {
    for mut engine in engines().await {
        // Several first callers at once must still end up with a single root.
        let calls: Vec<_> = (0..4)
            .map(|_| {
                let store = engine.store.clone();
                tokio::spawn(async move { store.root_category().await.unwrap() })
            })
            .collect();
        let mut roots = Vec::new();
        for call in calls {
            roots.push(call.await.unwrap());
        }
        let root = roots[0].clone();
        assert!(roots.iter().all(|r| *r == root), "{roots:?}");
        assert_eq!(root.parent_id, None);
        assert!(is_guid(&root.guid), "{}", root.guid);
        assert_eq!(engine.store.root_category().await.unwrap(), root);
        assert_eq!(
            engine.store.categories().await.unwrap(),
            std::slice::from_ref(&root)
        );

        engine.reopen().await;
        assert_eq!(engine.store.root_category().await.unwrap(), root);
        assert_eq!(engine.store.categories().await.unwrap().len(), 1);
        engine.finish().await;
    }
}

#[tokio::test]
async fn categories_nest_and_are_found_by_guid_or_name() {
    for engine in engines().await {
        let store = &engine.store;
        let root = store.root_category().await.unwrap();
        let new = NewCategory {
            parent_id: root.id,
            name: "Engineering",
            description: "builds things",
            file_post: false,
            invitations: true,
            logged: false,
        };
        let eng = store.add_category(&new).await.unwrap();
        assert_eq!(eng.parent_id, Some(root.id));
        assert_eq!(
            (
                eng.name.as_str(),
                eng.description.as_str(),
                eng.file_post,
                eng.invitations,
                eng.logged
            ),
            ("Engineering", "builds things", false, true, false)
        );
        assert!(is_guid(&eng.guid), "{}", eng.guid);
        assert_ne!(eng.guid, root.guid);
        let backend = add_category(store, eng.id, "Backend", true).await;
        assert_eq!(backend.parent_id, Some(eng.id));

        assert_eq!(
            store.find_category(&eng.guid).await.unwrap().as_ref(),
            Some(&eng)
        );
        assert_eq!(
            store.find_category(&backend.guid).await.unwrap().as_ref(),
            Some(&backend)
        );
        assert_eq!(
            store.find_category("engineering").await.unwrap().as_ref(),
            Some(&eng)
        );
        assert_eq!(
            store.find_category("BACKEND").await.unwrap().as_ref(),
            Some(&backend)
        );
        assert_eq!(store.find_category("Engineer").await.unwrap(), None);

        let all = store.categories().await.unwrap();
        assert_eq!(all.first(), Some(&root), "the root comes first");
        assert_eq!(all.len(), 3);
        assert!(all.contains(&eng) && all.contains(&backend));

        let orphan = NewCategory {
            parent_id: backend.id + 1000,
            name: "Orphan",
            ..new
        };
        assert!(matches!(
            store.add_category(&orphan).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(store.categories().await.unwrap().len(), 3);
        engine.finish().await;
    }
}

#[tokio::test]
async fn rooms_live_only_in_existing_categories_below_the_root() {
    for engine in engines().await {
        let store = &engine.store;
        let root = store.root_category().await.unwrap();
        let cat = category(store, "General").await;
        assert!(matches!(
            store.add_room(&new_room(root.id, "Lobby")).await,
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(
            store.add_room(&new_room(cat.id + 1000, "Lobby")).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(store.rooms().await.unwrap().is_empty());
        // Neither refusal left the name taken.
        store.add_room(&new_room(cat.id, "Lobby")).await.unwrap();
        engine.finish().await;
    }
}

#[tokio::test]
async fn new_rooms_get_fresh_guids_and_unique_names() {
    for engine in engines().await {
        let store = &engine.store;
        let cat = category(store, "General").await;
        let new = NewRoom {
            category_id: cat.id,
            name: "Lobby",
            description: "where everyone meets",
            topic: "welcome",
            privacy: Privacy::Closed,
            behavior: Behavior::Auditorium,
            invitations: false,
        };
        let lobby = store.add_room(&new).await.unwrap();
        assert!(is_guid(&lobby.guid), "{}", lobby.guid);
        assert_eq!(
            lobby,
            Room {
                id: lobby.id,
                guid: lobby.guid.clone(),
                category_id: cat.id,
                name: "Lobby".into(),
                description: "where everyone meets".into(),
                topic: "welcome".into(),
                privacy: Privacy::Closed,
                behavior: Behavior::Auditorium,
                invitations: false,
                disabled: false,
                file_post: None,
            }
        );
        let other = store.add_room(&new_room(cat.id, "Other")).await.unwrap();
        assert!(is_guid(&other.guid));
        assert_ne!(other.guid, lobby.guid);
        assert_ne!(other.id, lobby.id);

        for duplicate in ["Lobby", "LOBBY", "lobby"] {
            let got = store
                .add_room(&NewRoom {
                    name: duplicate,
                    ..new.clone()
                })
                .await;
            assert!(
                matches!(got, Err(StoreError::Duplicate(_))),
                "{duplicate}: {got:?}"
            );
        }
        for empty in ["", "   "] {
            let got = store
                .add_room(&NewRoom {
                    name: empty,
                    ..new.clone()
                })
                .await;
            assert!(
                matches!(got, Err(StoreError::Invalid { .. })),
                "{empty:?}: {got:?}"
            );
        }
        assert_eq!(store.rooms().await.unwrap().len(), 2);
        engine.finish().await;
    }
}

#[tokio::test]
async fn update_room_changes_only_the_given_fields() {
    for engine in engines().await {
        let store = &engine.store;
        let lobby = room(store, "Lobby").await;
        let other = room(store, "Other").await;

        let topic = RoomUpdate {
            topic: Some("new topic".into()),
            ..RoomUpdate::default()
        };
        let updated = store.update_room(lobby.id, &topic).await.unwrap();
        assert_eq!(
            updated,
            Room {
                topic: "new topic".into(),
                ..lobby.clone()
            }
        );

        let many = RoomUpdate {
            name: Some("Front Desk".into()),
            description: Some("ask here".into()),
            privacy: Some(Privacy::Secret),
            behavior: Some(Behavior::Auditorium),
            invitations: Some(false),
            ..RoomUpdate::default()
        };
        let updated = store.update_room(lobby.id, &many).await.unwrap();
        let expected = Room {
            name: "Front Desk".into(),
            description: "ask here".into(),
            topic: "new topic".into(),
            privacy: Privacy::Secret,
            behavior: Behavior::Auditorium,
            invitations: false,
            ..lobby.clone()
        };
        assert_eq!(updated, expected);
        assert_eq!(
            store
                .update_room(lobby.id, &RoomUpdate::default())
                .await
                .unwrap(),
            expected
        );
        assert_eq!(
            store.find_room(&lobby.guid).await.unwrap().unwrap().room,
            expected
        );
        assert_eq!(
            store.find_room("Other").await.unwrap().unwrap().room,
            other,
            "the other room is untouched"
        );

        let onto_other = RoomUpdate {
            name: Some("OTHER".into()),
            ..RoomUpdate::default()
        };
        assert!(matches!(
            store.update_room(lobby.id, &onto_other).await,
            Err(StoreError::Duplicate(_))
        ));
        for empty in ["", "  "] {
            let blank = RoomUpdate {
                name: Some(empty.into()),
                ..RoomUpdate::default()
            };
            let got = store.update_room(lobby.id, &blank).await;
            assert!(
                matches!(got, Err(StoreError::Invalid { .. })),
                "{empty:?}: {got:?}"
            );
        }
        assert_eq!(
            store.find_room(&lobby.guid).await.unwrap().unwrap().room,
            expected
        );
        // A room may change the case of its own name.
        let recased = RoomUpdate {
            name: Some("FRONT DESK".into()),
            ..RoomUpdate::default()
        };
        assert_eq!(
            store.update_room(lobby.id, &recased).await.unwrap().name,
            "FRONT DESK"
        );

        let missing = other.id.max(lobby.id) + 1000;
        assert!(matches!(
            store.update_room(missing, &topic).await,
            Err(StoreError::NotFound(_))
        ));
        engine.finish().await;
    }
}

#[tokio::test]
async fn rooms_are_disabled_and_enabled() {
    for engine in engines().await {
        let store = &engine.store;
        let lobby = room(store, "Lobby").await;
        let disable = RoomUpdate {
            disabled: Some(true),
            ..RoomUpdate::default()
        };
        assert!(
            store
                .update_room(lobby.id, &disable)
                .await
                .unwrap()
                .disabled
        );
        let found = store.find_room("Lobby").await.unwrap().unwrap().room;
        assert_eq!(
            found,
            Room {
                disabled: true,
                file_post: None,
                ..lobby.clone()
            }
        );
        let enable = RoomUpdate {
            disabled: Some(false),
            ..RoomUpdate::default()
        };
        assert_eq!(store.update_room(lobby.id, &enable).await.unwrap(), lobby);
        engine.finish().await;
    }
}

#[tokio::test]
async fn rooms_are_found_by_guid_or_name_and_listed() {
    for engine in engines().await {
        let store = &engine.store;
        let cat = category(store, "General").await;
        let lobby = store.add_room(&new_room(cat.id, "Lobby")).await.unwrap();
        let zoo = store.add_room(&new_room(cat.id, "zoo")).await.unwrap();
        let beta = store.add_room(&new_room(cat.id, "Beta")).await.unwrap();

        let info = store.find_room(&lobby.guid).await.unwrap().unwrap();
        assert_eq!(info.room, lobby);
        assert_eq!(info.category, cat);
        assert_eq!(
            store
                .find_room(&lobby.guid.to_uppercase())
                .await
                .unwrap()
                .map(|i| i.room.id),
            Some(lobby.id)
        );
        assert_eq!(
            store.room_by_guid(&zoo.guid).await.unwrap().map(|i| i.room),
            Some(zoo.clone())
        );
        assert_eq!(
            store.room_by_guid("Lobby").await.unwrap(),
            None,
            "room_by_guid takes GUIDs only"
        );
        assert_eq!(
            store.find_room("LOBBY").await.unwrap().map(|i| i.room.id),
            Some(lobby.id)
        );
        assert_eq!(store.find_room("Lob").await.unwrap(), None);

        let all = store.rooms().await.unwrap();
        assert_eq!(
            names(&all),
            ["Beta", "Lobby", "zoo"],
            "by name, ignoring case"
        );
        assert!(all.iter().all(|i| i.category == cat));
        assert_eq!(
            all.iter().map(|i| i.room.id).collect::<Vec<_>>(),
            [beta.id, lobby.id, zoo.id]
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn rooms_inherit_settings_from_their_category() {
    for engine in engines().await {
        let store = &engine.store;
        let root = store.root_category().await.unwrap();
        let on = add_category(store, root.id, "All on", true).await;
        let off = add_category(store, root.id, "All off", false).await;

        let open = store
            .find_room(&store.add_room(&new_room(on.id, "Open")).await.unwrap().guid)
            .await
            .unwrap()
            .unwrap();
        assert!(open.file_post() && open.logged() && open.invitations());

        let no_invites = NewRoom {
            invitations: false,
            ..new_room(on.id, "No invites")
        };
        let no_invites = store
            .find_room(&store.add_room(&no_invites).await.unwrap().guid)
            .await
            .unwrap()
            .unwrap();
        assert!(no_invites.file_post() && no_invites.logged());
        assert!(!no_invites.invitations(), "the room turned invitations off");

        let strict = store
            .find_room(
                &store
                    .add_room(&new_room(off.id, "Strict"))
                    .await
                    .unwrap()
                    .guid,
            )
            .await
            .unwrap()
            .unwrap();
        assert!(strict.room.invitations, "the room itself inherits");
        assert!(!strict.file_post() && !strict.logged() && !strict.invitations());
        engine.finish().await;
    }
}

#[tokio::test]
async fn search_rooms_matches_names_and_optionally_descriptions() {
    for engine in engines().await {
        let store = &engine.store;
        let cat = category(store, "General").await;
        for (name, description) in [
            ("Deploy Team", "release planning"),
            ("Deployments", ""),
            ("Random", "where we talk about DEPLOYS"),
            ("Watercooler", "nothing"),
        ] {
            store
                .add_room(&NewRoom {
                    description,
                    ..new_room(cat.id, name)
                })
                .await
                .unwrap();
        }
        let search = |text: Option<&'static str>, in_description: bool, limit: u32| async move {
            let found = store
                .search_rooms(text, in_description, None, limit)
                .await
                .unwrap();
            found.into_iter().map(|i| i.room.name).collect::<Vec<_>>()
        };
        assert_eq!(
            search(Some("deploy"), false, 10).await,
            ["Deploy Team", "Deployments"]
        );
        assert_eq!(
            search(Some("deploy"), true, 10).await,
            ["Deploy Team", "Deployments", "Random"]
        );
        assert_eq!(
            search(Some("planning"), false, 10).await,
            Vec::<String>::new()
        );
        assert_eq!(search(Some("planning"), true, 10).await, ["Deploy Team"]);
        assert_eq!(
            search(Some("ploy"), false, 10).await,
            ["Deploy Team", "Deployments"],
            "a substring, not a prefix"
        );
        assert_eq!(
            search(Some("deploy"), true, 2).await,
            ["Deploy Team", "Deployments"]
        );
        assert_eq!(
            search(None, false, 3).await,
            ["Deploy Team", "Deployments", "Random"]
        );
        assert_eq!(
            search(Some(""), false, 10).await.len(),
            4,
            "empty text matches everything"
        );
        assert_eq!(search(None, false, 0).await, Vec::<String>::new());
        engine.finish().await;
    }
}

#[tokio::test]
async fn search_rooms_takes_like_wildcards_literally() {
    for engine in engines().await {
        let store = &engine.store;
        let cat = category(store, "General").await;
        for name in [
            "100% Uptime",
            "1000 Uptime",
            "a_b",
            "axb",
            r"back\slash",
            "backslash",
        ] {
            store.add_room(&new_room(cat.id, name)).await.unwrap();
        }
        let search = |text: &'static str| async move {
            let found = store
                .search_rooms(Some(text), false, None, 100)
                .await
                .unwrap();
            found.into_iter().map(|i| i.room.name).collect::<Vec<_>>()
        };
        assert_eq!(search("%").await, ["100% Uptime"]);
        assert_eq!(search("100%").await, ["100% Uptime"]);
        assert_eq!(search("_").await, ["a_b"]);
        assert_eq!(search("a_b").await, ["a_b"]);
        assert_eq!(search(r"\").await, [r"back\slash"]);
        assert_eq!(search(r"k\s").await, [r"back\slash"]);
        engine.finish().await;
    }
}

#[tokio::test]
async fn secret_rooms_are_shown_only_to_role_holders() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let carol = user(store, "carol").await;
        let cat = category(store, "General").await;
        // Sorts first, so a limit of one shows whether hidden rooms use up the limit.
        let secret = store
            .add_room(&NewRoom {
                privacy: Privacy::Secret,
                ..new_room(cat.id, "Aardvark plans")
            })
            .await
            .unwrap();
        store
            .add_room(&NewRoom {
                privacy: Privacy::Closed,
                ..new_room(cat.id, "Closed room")
            })
            .await
            .unwrap();
        store
            .add_room(&new_room(cat.id, "Open room"))
            .await
            .unwrap();
        store
            .set_role(secret.id, alice, Role::Member, true)
            .await
            .unwrap();
        store
            .set_role(secret.id, bob, Role::Presenter, true)
            .await
            .unwrap();

        let visible = |viewer: Option<i64>, limit: u32| async move {
            let found = store
                .search_rooms(None, false, viewer, limit)
                .await
                .unwrap();
            found.into_iter().map(|i| i.room.name).collect::<Vec<_>>()
        };
        assert_eq!(visible(Some(carol), 10).await, ["Closed room", "Open room"]);
        assert_eq!(visible(Some(carol), 1).await, ["Closed room"]);
        assert_eq!(
            visible(Some(alice), 10).await,
            ["Aardvark plans", "Closed room", "Open room"]
        );
        assert_eq!(
            visible(Some(bob), 1).await,
            ["Aardvark plans"],
            "any role will do"
        );
        assert_eq!(
            visible(None, 10).await,
            ["Aardvark plans", "Closed room", "Open room"]
        );
        assert_eq!(store.rooms().await.unwrap().len(), 3);

        store
            .set_role(secret.id, alice, Role::Member, false)
            .await
            .unwrap();
        assert_eq!(visible(Some(alice), 10).await, ["Closed room", "Open room"]);
        engine.finish().await;
    }
}

#[tokio::test]
async fn roles_are_granted_listed_and_revoked() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let lobby = room(store, "Lobby").await;
        let other = room(store, "Other").await;
        let sorted = |mut roles: Vec<Role>| {
            roles.sort();
            roles
        };

        assert!(store.roles_of(lobby.id, alice).await.unwrap().is_empty());
        store
            .set_role(lobby.id, alice, Role::Member, true)
            .await
            .unwrap();
        store
            .set_role(lobby.id, alice, Role::Manager, true)
            .await
            .unwrap();
        store
            .set_role(lobby.id, alice, Role::Member, true)
            .await
            .unwrap();
        store
            .set_role(lobby.id, bob, Role::Presenter, true)
            .await
            .unwrap();
        assert_eq!(
            sorted(store.roles_of(lobby.id, alice).await.unwrap()),
            [Role::Member, Role::Manager]
        );
        assert_eq!(
            store.roles_of(lobby.id, bob).await.unwrap(),
            [Role::Presenter]
        );
        assert!(
            store.roles_of(other.id, alice).await.unwrap().is_empty(),
            "roles belong to one room"
        );
        let standing = |room: &Room, principal| {
            let guid = room.guid.clone();
            async move { store.room_standing(&guid, principal).await.unwrap() }
        };
        let alice_in_lobby = standing(&lobby, alice).await.unwrap();
        assert_eq!(alice_in_lobby.roles, [Role::Member, Role::Manager]);
        assert_eq!(
            alice_in_lobby.info,
            store.room_by_id(lobby.id).await.unwrap().unwrap()
        );
        assert!(
            alice_in_lobby.in_scope,
            "a category without scope lists: everyone"
        );
        assert_eq!(
            standing(&lobby, bob).await.unwrap().roles,
            [Role::Presenter]
        );
        assert!(standing(&other, alice).await.unwrap().roles.is_empty());
        let shouted = store
            .room_standing(&lobby.guid.to_uppercase(), alice)
            .await
            .unwrap();
        assert_eq!(
            shouted.map(|s| s.info.room.id),
            Some(lobby.id),
            "a GUID is found whatever its case, as by room_by_guid"
        );
        assert!(
            store
                .room_standing("00000000-0000-0000-0000-000000000000", alice)
                .await
                .unwrap()
                .is_none()
        );

        let mut holders = store.role_holders(lobby.id).await.unwrap();
        holders.sort_by_key(|h| (h.uri.clone(), h.role));
        let holder = |principal_id, uri: &str, role| RoleHolder {
            principal_id,
            uri: uri.into(),
            display_name: String::new(),
            role,
        };
        assert_eq!(
            holders,
            [
                holder(alice, "sip:alice@example.test", Role::Member),
                holder(alice, "sip:alice@example.test", Role::Manager),
                holder(bob, "sip:bob@example.test", Role::Presenter),
            ]
        );
        assert!(store.role_holders(other.id).await.unwrap().is_empty());

        store
            .set_role(lobby.id, alice, Role::Member, false)
            .await
            .unwrap();
        store
            .set_role(lobby.id, alice, Role::Member, false)
            .await
            .unwrap();
        assert_eq!(
            store.roles_of(lobby.id, alice).await.unwrap(),
            [Role::Manager]
        );
        assert_eq!(store.role_holders(lobby.id).await.unwrap().len(), 2);

        let missing_room = other.id.max(lobby.id) + 1000;
        let missing_user = alice.max(bob) + 1000;
        assert!(matches!(
            store
                .set_role(missing_room, alice, Role::Member, true)
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store
                .set_role(lobby.id, missing_user, Role::Member, true)
                .await,
            Err(StoreError::NotFound(_))
        ));
        engine.finish().await;
    }
}

#[tokio::test]
async fn category_creators_are_listed_per_principal() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let sales = category(store, "Sales").await;
        let eng = category(store, "Engineering").await;
        assert!(store.creator_categories(alice).await.unwrap().is_empty());

        store
            .set_category_creator(sales.id, alice, true)
            .await
            .unwrap();
        store
            .set_category_creator(eng.id, alice, true)
            .await
            .unwrap();
        store
            .set_category_creator(eng.id, alice, true)
            .await
            .unwrap();
        assert_eq!(
            store.creator_categories(alice).await.unwrap(),
            [eng.clone(), sales.clone()]
        );
        assert!(store.creator_categories(bob).await.unwrap().is_empty());

        store
            .set_category_creator(eng.id, alice, false)
            .await
            .unwrap();
        store
            .set_category_creator(eng.id, alice, false)
            .await
            .unwrap();
        assert_eq!(
            store.creator_categories(alice).await.unwrap(),
            std::slice::from_ref(&sales)
        );

        let missing_category = sales.id.max(eng.id) + 1000;
        let missing_user = alice.max(bob) + 1000;
        let got = store
            .set_category_creator(missing_category, alice, true)
            .await;
        assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
        let got = store
            .set_category_creator(sales.id, missing_user, true)
            .await;
        assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
        engine.finish().await;
    }
}

#[tokio::test]
async fn category_scope_allows_and_denies() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let carol = user(store, "carol").await;
        let cat = category(store, "Sales").await;
        let elsewhere = category(store, "Engineering").await;
        let rooms = &[
            store.add_room(&new_room(cat.id, "Pipeline")).await.unwrap(),
            store
                .add_room(&new_room(elsewhere.id, "Builds"))
                .await
                .unwrap(),
        ];
        let in_scope = |category_id: i64| async move {
            let room = rooms.iter().find(|r| r.category_id == category_id).unwrap();
            let mut who = Vec::new();
            for (name, id) in [("alice", alice), ("bob", bob), ("carol", carol)] {
                let scoped = store.in_scope(category_id, id).await.unwrap();
                let standing = store.room_standing(&room.guid, id).await.unwrap().unwrap();
                assert_eq!(
                    standing.in_scope, scoped,
                    "a room's standing reads its category's scope, for {name}"
                );
                if scoped {
                    who.push(name);
                }
            }
            who
        };
        assert_eq!(
            in_scope(cat.id).await,
            ["alice", "bob", "carol"],
            "no entries: everyone"
        );

        store
            .set_category_scope(cat.id, bob, Some(ScopeEntry::Deny))
            .await
            .unwrap();
        assert_eq!(
            in_scope(cat.id).await,
            ["alice", "carol"],
            "a deny entry alone shuts out only that one"
        );

        store
            .set_category_scope(cat.id, alice, Some(ScopeEntry::Allow))
            .await
            .unwrap();
        assert_eq!(
            in_scope(cat.id).await,
            ["alice"],
            "an allow list shuts out everyone unlisted"
        );
        store
            .set_category_scope(cat.id, carol, Some(ScopeEntry::Allow))
            .await
            .unwrap();
        assert_eq!(in_scope(cat.id).await, ["alice", "carol"]);
        assert_eq!(
            in_scope(elsewhere.id).await,
            ["alice", "bob", "carol"],
            "scope belongs to one category"
        );

        store.set_category_scope(cat.id, alice, None).await.unwrap();
        assert_eq!(in_scope(cat.id).await, ["carol"]);
        store
            .set_category_scope(cat.id, carol, Some(ScopeEntry::Deny))
            .await
            .unwrap();
        assert_eq!(
            in_scope(cat.id).await,
            ["alice"],
            "no allow list left: everyone not denied"
        );
        store
            .set_category_scope(cat.id, bob, Some(ScopeEntry::Allow))
            .await
            .unwrap();
        assert_eq!(
            in_scope(cat.id).await,
            ["bob"],
            "an entry is replaced, not added to"
        );
        store.set_category_scope(cat.id, bob, None).await.unwrap();
        store.set_category_scope(cat.id, carol, None).await.unwrap();
        store.set_category_scope(cat.id, carol, None).await.unwrap();
        assert_eq!(in_scope(cat.id).await, ["alice", "bob", "carol"]);

        let missing_category = cat.id.max(elsewhere.id) + 1000;
        let missing_user = alice.max(bob).max(carol) + 1000;
        let got = store
            .set_category_scope(missing_category, alice, Some(ScopeEntry::Allow))
            .await;
        assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
        let got = store
            .set_category_scope(cat.id, missing_user, Some(ScopeEntry::Deny))
            .await;
        assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
        engine.finish().await;
    }
}

#[tokio::test]
async fn rooms_roles_and_categories_survive_reopening() {
    for mut engine in engines().await {
        let alice = user(&engine.store, "alice").await;
        let cat = category(&engine.store, "Sales").await;
        let secret = NewRoom {
            privacy: Privacy::Secret,
            ..new_room(cat.id, "Deals")
        };
        let deals = engine.store.add_room(&secret).await.unwrap();
        engine
            .store
            .set_role(deals.id, alice, Role::Manager, true)
            .await
            .unwrap();
        engine
            .store
            .set_category_creator(cat.id, alice, true)
            .await
            .unwrap();
        engine
            .store
            .set_category_scope(cat.id, alice, Some(ScopeEntry::Allow))
            .await
            .unwrap();
        let categories = engine.store.categories().await.unwrap();
        let rooms = engine.store.rooms().await.unwrap();

        engine.reopen().await;
        let store = &engine.store;
        assert_eq!(store.categories().await.unwrap(), categories);
        assert_eq!(store.rooms().await.unwrap(), rooms);
        assert_eq!(
            store.roles_of(deals.id, alice).await.unwrap(),
            [Role::Manager]
        );
        assert_eq!(
            store.creator_categories(alice).await.unwrap(),
            std::slice::from_ref(&cat)
        );
        let bob = user(store, "bob").await;
        assert!(store.in_scope(cat.id, alice).await.unwrap());
        assert!(!store.in_scope(cat.id, bob).await.unwrap());
        // Names stay unique across the restart.
        assert!(matches!(
            store.add_room(&new_room(cat.id, "deals")).await,
            Err(StoreError::Duplicate(_))
        ));
        engine.finish().await;
    }
}
