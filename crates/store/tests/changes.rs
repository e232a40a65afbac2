//! Disabled and removed accounts, and the access change feed a running server follows: every
//! engine must record each change with the change itself.

mod common;

use common::{REALM, engines, key, room, user};
use parlance_store::history::HistoryQuery;
use parlance_store::rooms::{Privacy, Role, RoomUpdate, ScopeEntry};
use parlance_store::{ChangeKind, StoreError};
use sip_proto::auth::Algorithm;

const ALICE: &str = "sip:alice@example.test";

#[tokio::test]
async fn admin_changes_reach_the_feed_in_order() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let start = store.last_access_change().await.unwrap();

        store
            .set_role(lobby.id, alice, Role::Member, true)
            .await
            .unwrap();
        store
            .set_role(lobby.id, alice, Role::Member, false)
            .await
            .unwrap();
        let update = RoomUpdate {
            privacy: Some(Privacy::Closed),
            ..RoomUpdate::default()
        };
        store.update_room(lobby.id, &update).await.unwrap();
        let topic = RoomUpdate {
            topic: Some("nothing to re-check".into()),
            ..RoomUpdate::default()
        };
        store.update_room(lobby.id, &topic).await.unwrap();
        store
            .set_category_scope(lobby.category_id, alice, Some(ScopeEntry::Deny))
            .await
            .unwrap();
        store
            .set_password(ALICE, "new", REALM, &key())
            .await
            .unwrap();
        store.set_disabled(ALICE, true).await.unwrap();
        store.set_disabled(ALICE, false).await.unwrap();
        store.request_unlock("alice@example.test").await.unwrap();
        store.remove_user(ALICE).await.unwrap();

        let changes = store.access_changes_after(start, 100).await.unwrap();
        let kinds: Vec<ChangeKind> = changes.iter().map(|c| c.kind.clone()).collect();
        let sign_out = |reason: &str| ChangeKind::SignOut {
            account: ALICE.into(),
            reason: reason.into(),
        };
        assert_eq!(
            kinds,
            [
                ChangeKind::Rights {
                    principal_id: Some(alice),
                    room_id: Some(lobby.id),
                    category_id: None
                },
                ChangeKind::Rights {
                    principal_id: None,
                    room_id: Some(lobby.id),
                    category_id: None
                },
                ChangeKind::RoomChanged { room_id: lobby.id },
                ChangeKind::RoomChanged { room_id: lobby.id },
                ChangeKind::Rights {
                    principal_id: None,
                    room_id: None,
                    category_id: Some(lobby.category_id)
                },
                sign_out("password changed"),
                sign_out("account disabled"),
                ChangeKind::Unlock {
                    account: ALICE.into()
                },
                sign_out("account removed"),
            ]
        );
        assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
        let last = changes.last().unwrap().seq;
        assert_eq!(store.last_access_change().await.unwrap(), last);
        assert!(
            store
                .access_changes_after(last, 100)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.access_changes_after(start, 2).await.unwrap().len(), 2);
        engine.finish().await;
    }
}

#[tokio::test]
async fn disabled_accounts_keep_everything_but_say_so() {
    for engine in engines().await {
        let store = &engine.store;
        user(store, "alice").await;
        store.set_disabled(ALICE, true).await.unwrap();
        let alice = store.user(ALICE).await.unwrap().unwrap();
        assert!(alice.disabled);
        assert!(store.users().await.unwrap()[0].disabled);
        store.set_disabled(ALICE, false).await.unwrap();
        assert!(!store.user(ALICE).await.unwrap().unwrap().disabled);
        assert!(matches!(
            store.set_disabled("nobody@example.test", true).await,
            Err(StoreError::NotFound(_))
        ));
        engine.finish().await;
    }
}

#[tokio::test]
async fn persistent_chat_is_on_until_turned_off_and_turning_it_off_signs_out() {
    for engine in engines().await {
        let store = &engine.store;
        user(store, "alice").await;
        assert!(store.user(ALICE).await.unwrap().unwrap().persistent_chat);
        let start = store.last_access_change().await.unwrap();
        store
            .set_persistent_chat("Alice@Example.test", false)
            .await
            .unwrap();
        assert!(!store.user(ALICE).await.unwrap().unwrap().persistent_chat);
        assert!(!store.users().await.unwrap()[0].persistent_chat);
        store.set_persistent_chat(ALICE, true).await.unwrap();
        assert!(store.user(ALICE).await.unwrap().unwrap().persistent_chat);
        let kinds: Vec<ChangeKind> = store
            .access_changes_after(start, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(
            kinds,
            [ChangeKind::SignOut {
                account: ALICE.into(),
                reason: "persistent chat turned off".into(),
            }],
            "turning it on ends nothing"
        );
        // A re-used address starts with the default again.
        store.set_persistent_chat(ALICE, false).await.unwrap();
        store.remove_user(ALICE).await.unwrap();
        store
            .reuse_user(ALICE, "", "pw", REALM, &key())
            .await
            .unwrap();
        assert!(store.user(ALICE).await.unwrap().unwrap().persistent_chat);
        assert!(matches!(
            store
                .set_persistent_chat("nobody@example.test", false)
                .await,
            Err(StoreError::NotFound(_))
        ));
        engine.finish().await;
    }
}

#[tokio::test]
async fn removed_accounts_keep_their_messages_and_their_address() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let lobby = room(store, "Lobby").await;
        store
            .set_role(lobby.id, alice, Role::Manager, true)
            .await
            .unwrap();
        store
            .post_message(
                lobby.id,
                alice,
                &parlance_store::history::Post::text("hello", &[]),
                1,
            )
            .await
            .unwrap();
        store
            .set_preference(alice, "p", "x", 1 << 20)
            .await
            .unwrap();
        store.invite(lobby.id, &[alice]).await.unwrap();
        assert_eq!(
            store.user_by_id(alice).await.unwrap(),
            store.user(ALICE).await.unwrap()
        );

        store.remove_user(ALICE).await.unwrap();
        assert!(store.user(ALICE).await.unwrap().is_none());
        assert!(store.user_by_id(alice).await.unwrap().is_none());
        assert_eq!(store.users().await.unwrap().len(), 1, "only bob is listed");
        assert!(store.roles_of(lobby.id, alice).await.unwrap().is_empty());
        assert!(store.preference(alice, "p").await.unwrap().is_none());
        assert!(
            store
                .digest_ha1(ALICE, Algorithm::Md5, "alice", REALM, &key())
                .await
                .unwrap()
                .is_none()
        );
        let history = store
            .read_history(lobby.id, bob, &HistoryQuery::Last(10), 2)
            .await
            .unwrap();
        assert_eq!(history[0].author_uri, ALICE, "the message keeps its author");
        assert!(matches!(
            store.remove_user(ALICE).await,
            Err(StoreError::NotFound(_))
        ));

        // The address is not handed out again unless asked.
        assert!(matches!(
            store.add_user(ALICE, "", "pw2", REALM, &key()).await,
            Err(StoreError::Removed(_))
        ));
        let again = store
            .reuse_user(ALICE, "Alice II", "pw2", REALM, &key())
            .await
            .unwrap();
        assert_eq!(again.id, alice, "the tombstone becomes the new account");
        assert!(store.verify_password(ALICE, "pw2").await.unwrap());
        assert!(store.roles_of(lobby.id, alice).await.unwrap().is_empty());
        let fresh = store
            .reuse_user("carol@example.test", "", "pw", REALM, &key())
            .await
            .unwrap();
        assert_ne!(fresh.id, alice, "a never-used address is simply added");
        engine.finish().await;
    }
}
