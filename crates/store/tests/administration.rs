//! What the admin commands need of every storage engine: unique category names, renaming
//! and deleting categories, the signed-in connections and the last sign-in. Engines are
//! listed in `common`.

mod common;

use common::{category, engines, new_room, user};
use parlance_store::audit::Audit;
use parlance_store::retention::HoldTarget;
use parlance_store::rooms::{Category, CategoryUpdate, NewCategory, Role};
use parlance_store::signed_in::SignedIn;
use parlance_store::{ChangeKind, Store, StoreError};

/// A category edited in the room-management application by `actor`, with its audit record.
async fn edit(
    store: &Store,
    category_id: i64,
    update: &CategoryUpdate,
    actor: i64,
) -> Result<Category, StoreError> {
    let audit = Audit {
        actor_id: actor,
        action: "category.edit",
        detail: "",
        at: 1,
    };
    store.edit_category(category_id, update, &audit).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn category_names_are_unique_whatever_their_case() {
    for engine in engines().await {
        let store = &engine.store;
        let eng = category(store, "Eng").await;
        let ops = category(store, "Ops").await;
        let again = store
            .add_category(&NewCategory {
                parent_id: eng.id,
                name: "ENG",
                description: "",
                file_post: true,
                invitations: true,
                logged: true,
            })
            .await;
        assert!(
            matches!(&again, Err(StoreError::Duplicate(what)) if what == "a category named ENG"),
            "{again:?}"
        );
        let renamed = store.rename_category(ops.id, "eng").await;
        assert!(
            matches!(renamed, Err(StoreError::Duplicate(_))),
            "{renamed:?}"
        );
        let admin = user(store, "admin").await;
        let update = CategoryUpdate {
            name: Some("eNg".into()),
            ..CategoryUpdate::default()
        };
        let edited = edit(store, ops.id, &update, admin).await;
        assert!(
            matches!(edited, Err(StoreError::Duplicate(_))),
            "{edited:?}"
        );

        let renamed = store.rename_category(ops.id, "Operations").await.unwrap();
        assert_eq!((renamed.id, renamed.name.as_str()), (ops.id, "Operations"));
        assert_eq!(
            store.find_category("operations").await.unwrap().unwrap().id,
            ops.id
        );
        let same_name_new_case = store.rename_category(eng.id, "ENG").await.unwrap();
        assert_eq!(
            same_name_new_case.name, "ENG",
            "its own name in another case"
        );
        let empty = store.rename_category(eng.id, "").await;
        assert!(
            matches!(empty, Err(StoreError::Invalid { .. })),
            "{empty:?}"
        );
        let missing = store.rename_category(9999, "Nowhere").await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );
        engine.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_category_is_deleted_only_once_nothing_lives_in_it() {
    for engine in engines().await {
        let store = &engine.store;
        let root = store.root_category().await.unwrap();
        let eng = category(store, "Eng").await;
        let ops = category(store, "Ops").await;
        let lobby = store.add_room(&new_room(eng.id, "Lobby")).await.unwrap();
        let alice = user(store, "alice").await;
        store
            .set_category_creator(eng.id, alice, true)
            .await
            .unwrap();
        let update = CategoryUpdate {
            description: Some("engineering".into()),
            ..CategoryUpdate::default()
        };
        edit(store, eng.id, &update, alice).await.unwrap();

        let refused = store.delete_category(eng.id, None).await;
        assert!(
            matches!(&refused, Err(StoreError::Invalid { why, .. }) if why.contains("1 rooms")),
            "{refused:?}"
        );
        let to_root = store.delete_category(eng.id, Some(root.id)).await;
        assert!(
            matches!(to_root, Err(StoreError::Invalid { .. })),
            "{to_root:?}"
        );
        let to_itself = store.delete_category(eng.id, Some(eng.id)).await;
        assert!(
            matches!(to_itself, Err(StoreError::Invalid { .. })),
            "{to_itself:?}"
        );
        let root_refused = store.delete_category(root.id, None).await;
        assert!(matches!(root_refused, Err(StoreError::Invalid { .. })));
        assert_eq!(
            store
                .room_by_id(lobby.id)
                .await
                .unwrap()
                .unwrap()
                .category
                .id,
            eng.id,
            "a refused delete changes nothing"
        );

        let before = store.last_access_change().await.unwrap();
        assert_eq!(
            store.delete_category(eng.id, Some(ops.id)).await.unwrap(),
            1
        );
        assert_eq!(
            store
                .room_by_id(lobby.id)
                .await
                .unwrap()
                .unwrap()
                .category
                .id,
            ops.id
        );
        assert!(store.find_category("Eng").await.unwrap().is_none());
        assert!(store.creator_categories(alice).await.unwrap().is_empty());
        let changes = store.access_changes_after(before, 10).await.unwrap();
        assert_eq!(
            changes.iter().map(|c| &c.kind).collect::<Vec<_>>(),
            [&ChangeKind::Rights {
                principal_id: None,
                room_id: None,
                category_id: Some(ops.id),
            }],
            "whoever is in the moved rooms is re-checked against their new category"
        );
        let missing = store.delete_category(eng.id, None).await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );

        let empty = category(store, "Empty").await;
        assert_eq!(store.delete_category(empty.id, None).await.unwrap(), 0);
        engine.finish().await;
    }
}

fn signed_in(connection: u64, account: &str, since: i64) -> SignedIn {
    SignedIn {
        connection,
        account: account.into(),
        transport: "tls".into(),
        remote: format!("192.0.2.1:{}", 40000 + connection),
        since,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_connections_and_the_last_sign_in() {
    for mut engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        assert!(store.last_sign_ins().await.unwrap().is_empty());

        let a1 = signed_in(1, "sip:Alice@example.test", 1000);
        let b2 = signed_in(2, "sip:bob@example.test", 1010);
        store
            .note_signed_in(&[], &[a1.clone(), b2.clone()])
            .await
            .unwrap();
        assert_eq!(store.signed_in().await.unwrap(), [a1.clone(), b2.clone()]);
        let last = store.last_sign_ins().await.unwrap();
        assert_eq!(
            (last[&alice], last[&bob]),
            (1000, 1010),
            "the account found whatever the case"
        );

        // Within a minute of the last one: not written again.
        let a3 = signed_in(3, "sip:alice@example.test", 1059);
        store
            .note_signed_in(&[1], std::slice::from_ref(&a3))
            .await
            .unwrap();
        assert_eq!(store.signed_in().await.unwrap(), [a3.clone(), b2.clone()]);
        assert_eq!(store.last_sign_ins().await.unwrap()[&alice], 1000);
        let a4 = signed_in(4, "sip:alice@example.test", 1061);
        store
            .note_signed_in(&[], std::slice::from_ref(&a4))
            .await
            .unwrap();
        assert_eq!(store.last_sign_ins().await.unwrap()[&alice], 1061);

        // Another process sees them, until a starting server empties the table.
        let beside = engine.beside().await;
        assert_eq!(beside.signed_in().await.unwrap().len(), 3);
        beside.close().await;
        assert_eq!(store.clear_signed_in().await.unwrap(), 3);
        assert!(store.signed_in().await.unwrap().is_empty());
        engine.reopen().await;
        assert_eq!(
            engine.store.last_sign_ins().await.unwrap()[&bob],
            1010,
            "kept"
        );
        engine.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_is_deleted_with_everything_of_it_unless_held() {
    for engine in engines().await {
        let store = &engine.store;
        let eng = category(store, "Eng").await;
        let lobby = store.add_room(&new_room(eng.id, "Lobby")).await.unwrap();
        let other = store.add_room(&new_room(eng.id, "Other")).await.unwrap();
        let alice = user(store, "alice").await;
        for room in [lobby.id, other.id] {
            store
                .set_role(room, alice, Role::Manager, true)
                .await
                .unwrap();
            store.invite(room, &[alice]).await.unwrap();
            store
                .post_message(
                    room,
                    alice,
                    &parlance_store::history::Post::text("hello", &[]),
                    1,
                )
                .await
                .unwrap();
        }
        store
            .place_hold(HoldTarget::Room(lobby.id), "case 1", "root", 2)
            .await
            .unwrap();
        let held = store.delete_room(lobby.id).await;
        assert!(matches!(held, Err(StoreError::Held(_))), "{held:?}");
        assert!(store.room_by_id(lobby.id).await.unwrap().is_some());
        store
            .release_hold(HoldTarget::Room(lobby.id), "root", 3)
            .await
            .unwrap();

        let before = store.last_access_change().await.unwrap();
        store.delete_room(lobby.id).await.unwrap();
        assert!(store.room_by_id(lobby.id).await.unwrap().is_none());
        assert!(store.find_room("Lobby").await.unwrap().is_none());
        let invited: Vec<i64> = store
            .invitations(alice, 0)
            .await
            .unwrap()
            .iter()
            .map(|i| i.room_id)
            .collect();
        assert_eq!(invited, [other.id], "the other room's invitation stays");
        let events: Vec<i64> = store
            .compliance_events(0, 100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.room_id)
            .collect();
        assert!(
            !events.is_empty() && events.iter().all(|r| *r == other.id),
            "{events:?}"
        );
        assert!(store.legal_holds(true).await.unwrap().is_empty());
        assert_eq!(
            store
                .rooms_with_role(alice, Role::Manager)
                .await
                .unwrap()
                .iter()
                .map(|r| r.room.id)
                .collect::<Vec<_>>(),
            [other.id]
        );
        let changes = store.access_changes_after(before, 10).await.unwrap();
        assert_eq!(
            changes.iter().map(|c| &c.kind).collect::<Vec<_>>(),
            [&ChangeKind::Rights {
                principal_id: None,
                room_id: Some(lobby.id),
                category_id: None,
            }],
            "a running server parts whoever is still in it"
        );
        let again = store.delete_room(lobby.id).await;
        assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");
        engine.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_invitation_is_written_with_its_access_change() {
    for engine in engines().await {
        let store = &engine.store;
        let eng = category(store, "Eng").await;
        let lobby = store.add_room(&new_room(eng.id, "Lobby")).await.unwrap();
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let before = store.last_access_change().await.unwrap();
        assert_eq!(store.invite(lobby.id, &[alice, bob]).await.unwrap(), 2);
        assert_eq!(
            store.invite(lobby.id, &[alice]).await.unwrap(),
            0,
            "invited already"
        );
        let changes = store.access_changes_after(before, 10).await.unwrap();
        assert_eq!(
            changes.iter().map(|c| &c.kind).collect::<Vec<_>>(),
            [
                &ChangeKind::Invite {
                    principal_id: alice,
                    room_id: lobby.id
                },
                &ChangeKind::Invite {
                    principal_id: bob,
                    room_id: lobby.id
                },
            ]
        );
        let missing = store.invite(lobby.id + 100, &[alice]).await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );
        engine.finish().await;
    }
}
