//! What the room-management application asks of every engine: administrators, the people
//! search (its query taken literally), and changes written with their audit records in one
//! transaction.

mod common;

use common::{REALM, category, engines, key, new_room, room, user};
use parlance_store::audit::Audit;
use parlance_store::rooms::{
    CategoryUpdate, MAX_NAME_CHARS, Privacy, Role, RoomUpdate, ScopeEntry,
};
use parlance_store::{ChangeKind, Store, StoreError};

fn audit<'a>(actor_id: i64, action: &'a str, detail: &'a str) -> Audit<'a> {
    Audit {
        actor_id,
        action,
        detail,
        at: 1_700_000_000_000_000_000,
    }
}

async fn uris(store: &Store, query: &str) -> Vec<String> {
    let found = store.search_users(query, 50).await.unwrap();
    found.into_iter().map(|u| u.uri).collect()
}

#[tokio::test]
async fn the_people_search_takes_every_character_literally() {
    for engine in engines().await {
        let store = &engine.store;
        for (name, display) in [
            ("alice", "Alice Liddell"),
            ("bob_smith", "Bob 100% Smith"),
            ("carol", "Carol * Star"),
            ("dave", "Dave \\ Backslash"),
            ("erin", "Erin"),
        ] {
            let uri = format!("{name}@example.test");
            store
                .add_user(&uri, display, "pw", REALM, &key())
                .await
                .unwrap();
        }
        assert_eq!(uris(store, "LIDDELL").await, ["sip:alice@example.test"]);
        assert_eq!(uris(store, "%").await, ["sip:bob_smith@example.test"]);
        assert_eq!(uris(store, "_").await, ["sip:bob_smith@example.test"]);
        assert_eq!(uris(store, "*").await, ["sip:carol@example.test"]);
        assert_eq!(uris(store, "\\").await, ["sip:dave@example.test"]);
        assert!(
            uris(store, "").await.is_empty(),
            "an empty query finds nobody"
        );
        assert_eq!(store.search_users("example", 2).await.unwrap().len(), 2);

        store.set_disabled("erin@example.test", true).await.unwrap();
        store.remove_user("alice@example.test").await.unwrap();
        assert!(
            uris(store, "erin").await.is_empty(),
            "disabled accounts are not offered"
        );
        assert!(
            uris(store, "alice").await.is_empty(),
            "removed accounts are not offered"
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn the_admin_flag_is_kept_and_does_not_outlive_the_account() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        assert!(!store.user_by_id(alice).await.unwrap().unwrap().admin);
        let before = store.last_access_change().await.unwrap();
        store.set_admin("Alice@Example.test", true).await.unwrap();
        assert!(store.user_by_id(alice).await.unwrap().unwrap().admin);
        let changes = store.access_changes_after(before, 10).await.unwrap();
        assert_eq!(
            changes.iter().map(|c| c.kind.clone()).collect::<Vec<_>>(),
            [ChangeKind::Rights {
                principal_id: Some(alice),
                room_id: None,
                category_id: None
            }]
        );
        assert!(matches!(
            store.set_admin("nobody@example.test", true).await,
            Err(StoreError::NotFound(_))
        ));
        store.remove_user("alice@example.test").await.unwrap();
        let again = store
            .reuse_user("alice@example.test", "", "pw", REALM, &key())
            .await
            .unwrap();
        assert!(!again.admin, "a re-used address starts without the flag");
        assert!(!store.user_by_id(again.id).await.unwrap().unwrap().admin);
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_room_is_created_with_its_manager_and_its_record_or_not_at_all() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let projects = category(store, "Projects").await;
        let room = store
            .create_room(
                &new_room(projects.id, "<b>Launch</b>"),
                Some(false),
                &audit(alice, "room.create", "name: <b>Launch</b>"),
            )
            .await
            .unwrap();
        assert_eq!(room.name, "<b>Launch</b>", "stored as text");
        assert_eq!(room.file_post, Some(false));
        assert_eq!(
            store.roles_of(room.id, alice).await.unwrap(),
            [Role::Manager, Role::Member]
        );
        let log = store.audit_for_room(room.id, 10).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(
            (
                log[0].action.as_str(),
                log[0].detail.as_str(),
                log[0].actor_uri.as_str()
            ),
            (
                "room.create",
                "name: <b>Launch</b>",
                "sip:alice@example.test"
            )
        );

        let long = "x".repeat(10_000);
        let refused = [
            long.as_str(),
            "two\nlines",
            "bell\u{7}",
            "   ",
            "<B>LAUNCH</B>",
        ];
        for name in refused {
            let made = store
                .create_room(
                    &new_room(projects.id, name),
                    None,
                    &audit(alice, "room.create", ""),
                )
                .await;
            assert!(
                matches!(
                    made,
                    Err(StoreError::Invalid { .. } | StoreError::Duplicate(_))
                ),
                "{name:?}: {made:?}"
            );
        }
        let longest = "y".repeat(MAX_NAME_CHARS);
        store
            .create_room(
                &new_room(projects.id, &longest),
                None,
                &audit(alice, "room.create", ""),
            )
            .await
            .unwrap();
        assert_eq!(
            store.rooms().await.unwrap().len(),
            2,
            "nothing else was made"
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn edits_and_role_changes_carry_their_records_and_access_changes() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let lobby = room(store, "Lobby").await;
        let start = store.last_access_change().await.unwrap();

        let topic = RoomUpdate {
            topic: Some("new topic".into()),
            ..RoomUpdate::default()
        };
        store
            .edit_room(
                lobby.id,
                &topic,
                &audit(alice, "room.edit", "topic: → new topic"),
            )
            .await
            .unwrap();
        assert!(
            store
                .access_changes_after(start, 10)
                .await
                .unwrap()
                .is_empty(),
            "a topic shuts nobody out"
        );
        let private = RoomUpdate {
            privacy: Some(Privacy::Secret),
            file_post: Some(Some(false)),
            ..RoomUpdate::default()
        };
        let edited = store
            .edit_room(lobby.id, &private, &audit(alice, "room.edit", "privacy"))
            .await
            .unwrap();
        assert_eq!(
            (edited.privacy, edited.file_post),
            (Privacy::Secret, Some(false))
        );
        let inherit = RoomUpdate {
            file_post: Some(None),
            ..RoomUpdate::default()
        };
        let edited = store
            .edit_room(
                lobby.id,
                &inherit,
                &audit(alice, "room.edit", "file posting"),
            )
            .await
            .unwrap();
        assert_eq!(edited.file_post, None);

        store
            .change_roles(
                lobby.id,
                Role::Member,
                &[alice, bob],
                &[],
                &audit(alice, "room.people", "+bob"),
            )
            .await
            .unwrap();
        store
            .change_roles(
                lobby.id,
                Role::Member,
                &[],
                &[bob],
                &audit(alice, "room.people", "-bob"),
            )
            .await
            .unwrap();
        assert!(store.roles_of(lobby.id, bob).await.unwrap().is_empty());
        let kinds: Vec<ChangeKind> = store
            .access_changes_after(start, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.kind)
            .collect();
        let rights = |principal_id| ChangeKind::Rights {
            principal_id,
            room_id: Some(lobby.id),
            category_id: None,
        };
        // Privacy, file posting (who may post files), then bob's role taken away.
        assert_eq!(kinds, [rights(None), rights(None), rights(Some(bob))]);

        let log = store.audit_for_room(lobby.id, 10).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.detail.as_str()).collect();
        assert_eq!(
            actions,
            [
                "-bob",
                "+bob",
                "file posting",
                "privacy",
                "topic: → new topic"
            ],
            "newest first"
        );
        assert_eq!(store.audit_for_room(lobby.id, 2).await.unwrap().len(), 2);

        // A refused change leaves no record.
        let blank = RoomUpdate {
            name: Some(String::new()),
            ..RoomUpdate::default()
        };
        assert!(
            store
                .edit_room(lobby.id, &blank, &audit(alice, "room.edit", "x"))
                .await
                .is_err()
        );
        assert!(
            store
                .change_roles(
                    lobby.id,
                    Role::Member,
                    &[9_999],
                    &[],
                    &audit(alice, "room.people", "x")
                )
                .await
                .is_err()
        );
        assert_eq!(store.audit_for_room(lobby.id, 10).await.unwrap().len(), 5);
        assert_eq!(
            store.roles_of(lobby.id, alice).await.unwrap(),
            [Role::Member]
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn category_changes_carry_their_records() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let projects = category(store, "Projects").await;
        let update = CategoryUpdate {
            description: Some("team rooms".into()),
            file_post: Some(false),
            ..CategoryUpdate::default()
        };
        let edited = store
            .edit_category(projects.id, &update, &audit(alice, "category.edit", "d"))
            .await
            .unwrap();
        assert_eq!(
            (edited.description.as_str(), edited.file_post),
            ("team rooms", false)
        );
        assert_eq!(edited.name, "Projects");

        let start = store.last_access_change().await.unwrap();
        store
            .change_category_people(
                projects.id,
                &[(bob, true)],
                &[
                    (bob, Some(ScopeEntry::Allow)),
                    (alice, Some(ScopeEntry::Deny)),
                ],
                &audit(alice, "category.people", "p"),
            )
            .await
            .unwrap();
        assert_eq!(store.category_creators(projects.id).await.unwrap(), [bob]);
        assert_eq!(
            store.category_scope(projects.id).await.unwrap(),
            [(alice, ScopeEntry::Deny), (bob, ScopeEntry::Allow)]
        );
        assert_eq!(
            store.access_changes_after(start, 10).await.unwrap().len(),
            1
        );
        store
            .change_category_people(
                projects.id,
                &[(bob, false)],
                &[(alice, None)],
                &audit(alice, "category.people", "q"),
            )
            .await
            .unwrap();
        assert!(
            store
                .category_creators(projects.id)
                .await
                .unwrap()
                .is_empty()
        );
        let log = store.audit_for_category(projects.id, 10).await.unwrap();
        let details: Vec<&str> = log.iter().map(|e| e.detail.as_str()).collect();
        assert_eq!(details, ["q", "p", "d"]);
        assert!(
            log.iter()
                .all(|e| e.room_id.is_none() && e.category_id == Some(projects.id))
        );
        assert!(matches!(
            store
                .edit_category(
                    projects.id,
                    &CategoryUpdate {
                        name: Some("x".repeat(300)),
                        ..CategoryUpdate::default()
                    },
                    &audit(alice, "category.edit", "")
                )
                .await,
            Err(StoreError::Invalid { .. })
        ));

        // File posting is a right an upload in progress holds: changing it is recorded.
        let before = store.last_access_change().await.unwrap();
        let description = CategoryUpdate {
            description: Some("d2".into()),
            ..CategoryUpdate::default()
        };
        store
            .edit_category(
                projects.id,
                &description,
                &audit(alice, "category.edit", "e"),
            )
            .await
            .unwrap();
        assert_eq!(store.last_access_change().await.unwrap(), before);
        let files_on = CategoryUpdate {
            file_post: Some(true),
            ..CategoryUpdate::default()
        };
        store
            .edit_category(projects.id, &files_on, &audit(alice, "category.edit", "f"))
            .await
            .unwrap();
        let kinds: Vec<ChangeKind> = store
            .access_changes_after(before, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(
            kinds,
            [ChangeKind::Rights {
                principal_id: None,
                room_id: None,
                category_id: Some(projects.id),
            }]
        );
        engine.finish().await;
    }
}
