//! History retention and legal holds every storage engine must keep: policies per category,
//! purges in bounded steps with their compliance records, and holds that suspend them.
//! Engines are listed in `common`.

mod common;

use common::uploads::uploaded;
use common::{category, engines, new_room, room, user};
use parlance_store::retention::{HoldTarget, Purged, RetainedRoom};
use parlance_store::{Store, StoreError};

/// The `purge` rows of the outbox, as (room, principal, last seq, content).
async fn purge_rows(store: &Store) -> Vec<(i64, i64, Option<i64>, String)> {
    store
        .compliance_events(0, u32::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "purge")
        .map(|e| {
            (
                e.room_id,
                e.principal_id,
                e.message_seq,
                e.content.to_string(),
            )
        })
        .collect()
}

/// Posts `content` by `author` at `at` (nanoseconds).
async fn post(store: &Store, room_id: i64, author: i64, content: &str, at: i64) {
    store
        .post_message(
            room_id,
            author,
            &parlance_store::history::Post::text(content, &[]),
            at,
        )
        .await
        .unwrap();
}

async fn messages_left(store: &Store, room_id: i64, viewer: i64) -> Vec<String> {
    store
        .read_history(
            room_id,
            viewer,
            &parlance_store::history::HistoryQuery::Last(100),
            0,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect()
}

#[tokio::test]
async fn a_category_keeps_its_rooms_history_as_long_as_its_retention_says() {
    for engine in engines().await {
        let store = &engine.store;
        let work = category(store, "Work").await;
        let kept = category(store, "Kept").await;
        let lobby = store.add_room(&new_room(work.id, "Lobby")).await.unwrap();
        store.add_room(&new_room(kept.id, "Archive")).await.unwrap();
        assert!(store.category_retentions().await.unwrap().is_empty());
        assert!(store.retained_rooms().await.unwrap().is_empty());

        store
            .set_category_retention(work.id, Some(30))
            .await
            .unwrap();
        assert_eq!(
            store
                .category_retentions()
                .await
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            [(work.id, 30)]
        );
        assert_eq!(
            store.retained_rooms().await.unwrap(),
            [RetainedRoom {
                room_id: lobby.id,
                room_guid: lobby.guid.clone(),
                days: 30
            }]
        );

        store.set_category_retention(work.id, None).await.unwrap();
        assert!(store.retained_rooms().await.unwrap().is_empty());
        assert!(matches!(
            store.set_category_retention(work.id + 100, Some(1)).await,
            Err(StoreError::NotFound(_))
        ));
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_purge_goes_in_bounded_steps_and_records_what_each_removed() {
    for engine in engines().await {
        let store = &engine.store;
        let (alice, bob) = (user(store, "alice").await, user(store, "bob").await);
        let lobby = room(store, "Lobby").await;
        for (i, author) in [alice, bob, alice, alice, bob].into_iter().enumerate() {
            post(
                store,
                lobby.id,
                author,
                &format!("m{}", i + 1),
                10 * (i as i64 + 1),
            )
            .await;
        }

        // Messages m1..m4 are older than 45; two go per step.
        let first = store
            .purge_history(lobby.id, Some(45), 2, "retention 30 days", 100)
            .await
            .unwrap();
        assert_eq!(first.messages, 2);
        assert!(first.full(2));
        let second = store
            .purge_history(lobby.id, Some(45), 2, "retention 30 days", 101)
            .await
            .unwrap();
        assert_eq!(second.messages, 2);
        let last = store
            .purge_history(lobby.id, Some(45), 2, "retention 30 days", 102)
            .await
            .unwrap();
        assert_eq!(last, Purged::default());
        assert!(!last.full(2));
        assert_eq!(messages_left(store, lobby.id, alice).await, ["m5"]);
        assert_eq!(
            purge_rows(store).await,
            [
                (
                    lobby.id,
                    alice,
                    Some(1),
                    "retention 30 days: 1 messages, seq 1-1".into()
                ),
                (
                    lobby.id,
                    bob,
                    Some(2),
                    "retention 30 days: 1 messages, seq 2-2".into()
                ),
                (
                    lobby.id,
                    alice,
                    Some(4),
                    "retention 30 days: 2 messages, seq 3-4".into()
                ),
            ]
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_held_room_loses_nothing_until_its_hold_is_released() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        store
            .set_category_retention(lobby.category_id, Some(1))
            .await
            .unwrap();
        post(store, lobby.id, alice, "evidence", 10).await;

        let hold = store
            .place_hold(HoldTarget::Room(lobby.id), "case 42", "uid 0 (root)", 20)
            .await
            .unwrap();
        assert_eq!(
            (
                hold.target,
                hold.reason.as_str(),
                hold.placed_by.as_str(),
                hold.placed_at
            ),
            (HoldTarget::Room(lobby.id), "case 42", "uid 0 (root)", 20)
        );
        assert!(matches!(
            store
                .place_hold(HoldTarget::Room(lobby.id), "again", "x", 21)
                .await,
            Err(StoreError::Duplicate(_))
        ));
        assert!(store.retained_rooms().await.unwrap().is_empty(), "held");
        assert!(matches!(
            store
                .purge_history(lobby.id, None, 10, "room purge", 30)
                .await,
            Err(StoreError::Held(_))
        ));
        assert_eq!(messages_left(store, lobby.id, alice).await, ["evidence"]);
        assert!(purge_rows(store).await.is_empty());

        assert!(
            store
                .release_hold(HoldTarget::Room(lobby.id), "uid 0 (root)", 40)
                .await
                .unwrap()
        );
        assert!(
            !store
                .release_hold(HoldTarget::Room(lobby.id), "uid 0 (root)", 41)
                .await
                .unwrap()
        );
        assert!(store.legal_holds(false).await.unwrap().is_empty());
        let history = store.legal_holds(true).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(
            (history[0].released_by.as_deref(), history[0].released_at),
            (Some("uid 0 (root)"), Some(40))
        );
        assert_eq!(store.retained_rooms().await.unwrap().len(), 1);
        let purged = store
            .purge_history(lobby.id, None, 10, "room purge", 50)
            .await
            .unwrap();
        assert_eq!(purged.messages, 1);
        assert!(messages_left(store, lobby.id, alice).await.is_empty());
        // A hold may be placed again once released.
        store
            .place_hold(HoldTarget::Room(lobby.id), "case 43", "uid 0 (root)", 60)
            .await
            .unwrap();
        assert_eq!(store.legal_holds(false).await.unwrap().len(), 1);
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_held_users_messages_and_files_stay_when_the_rest_of_the_room_goes() {
    for engine in engines().await {
        let store = &engine.store;
        let (alice, bob) = (user(store, "alice").await, user(store, "bob").await);
        let lobby = room(store, "Lobby").await;
        post(store, lobby.id, alice, "from alice", 10).await;
        post(store, lobby.id, bob, "from bob", 20).await;
        let alices = uploaded(
            store,
            alice,
            lobby.id,
            "11111111-1111-4111-8111-111111111111",
            3,
        )
        .await;
        let bobs = uploaded(
            store,
            bob,
            lobby.id,
            "22222222-2222-4222-8222-222222222222",
            3,
        )
        .await;
        store
            .place_hold(HoldTarget::User(alice), "custodian", "uid 0 (root)", 30)
            .await
            .unwrap();
        assert!(matches!(
            store
                .place_hold(HoldTarget::User(alice + 100), "nobody", "x", 31)
                .await,
            Err(StoreError::NotFound(_))
        ));

        let purged = store
            .purge_history(lobby.id, None, 10, "room purge", 40)
            .await
            .unwrap();
        assert_eq!(purged.messages, 1);
        assert_eq!(purged.files, std::slice::from_ref(&bobs));
        assert_eq!(messages_left(store, lobby.id, alice).await, ["from alice"]);
        assert_eq!(store.room_files(lobby.id).await.unwrap(), [alices]);
        assert_eq!(
            purge_rows(store).await,
            [
                (
                    lobby.id,
                    bob,
                    Some(2),
                    "room purge: 1 messages, seq 2-2".into()
                ),
                (
                    lobby.id,
                    bob,
                    None,
                    format!("room purge: file {} ({})", bobs.name, bobs.original_name)
                ),
            ]
        );

        store
            .release_hold(HoldTarget::User(alice), "uid 0 (root)", 50)
            .await
            .unwrap();
        let purged = store
            .purge_history(lobby.id, None, 10, "room purge", 60)
            .await
            .unwrap();
        assert_eq!((purged.messages, purged.files.len()), (1, 1));
        engine.finish().await;
    }
}
