//! The file records, file-transfer tokens and message links every storage engine must keep.
//! Engines are listed in `common`.

mod common;

use common::uploads::{EXPIRES, ISSUED, QUOTA, issue, reserved, uploaded};
use common::{engines, room, user};
use parlance_store::files::{Direction, FileState, NewFileToken};
use parlance_store::history::ComplianceEvent;
use parlance_store::retention::Purged;
use parlance_store::{Store, StoreError};

async fn file_events(store: &Store) -> Vec<ComplianceEvent> {
    store
        .compliance_events(0, u32::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.starts_with("file"))
        .collect()
}

#[tokio::test]
async fn tokens_are_stored_read_back_and_counted_against_a_limit() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let lobby = room(store, "Lobby").await;
        let new = |principal_id, issued_at, expires_at| NewFileToken {
            principal_id,
            room_id: lobby.id,
            direction: Direction::Upload,
            file_url: "notes.txt",
            file_id: None,
            issued_at,
            expires_at,
        };

        let first = store
            .issue_file_token(&new(alice, ISSUED, EXPIRES), 2)
            .await
            .unwrap();
        assert_eq!(
            first.token,
            first.token.to_lowercase(),
            "GUIDs are lower-case"
        );
        assert_eq!(first.token.len(), 36);
        assert_eq!(
            store.file_token(&first.token).await.unwrap().as_ref(),
            Some(&first)
        );
        assert_eq!(
            (first.direction, first.file_url.as_str(), first.spent),
            (Direction::Upload, "notes.txt", false)
        );
        assert!(store.file_token("not-a-token").await.unwrap().is_none());

        let second = store
            .issue_file_token(&new(alice, ISSUED, EXPIRES), 2)
            .await
            .unwrap();
        assert_ne!(first.token, second.token);
        assert_eq!(store.live_file_tokens(alice, ISSUED).await.unwrap(), 2);
        let refused = store
            .issue_file_token(&new(alice, ISSUED, EXPIRES), 2)
            .await;
        assert!(
            matches!(refused, Err(StoreError::TooMany { limit: 2, .. })),
            "{refused:?}"
        );
        store
            .issue_file_token(&new(bob, ISSUED, EXPIRES), 2)
            .await
            .expect("the limit is per principal");

        // Expired tokens count no more.
        assert_eq!(store.live_file_tokens(alice, EXPIRES).await.unwrap(), 0);
        store
            .issue_file_token(&new(alice, EXPIRES, EXPIRES + 1_000), 2)
            .await
            .unwrap();

        let missing = store
            .issue_file_token(&new(alice + bob + 100, ISSUED, EXPIRES), 2)
            .await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn an_upload_reserves_one_name_and_completes_with_its_compliance_row() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let token = issue(store, alice, lobby.id, Direction::Upload, None).await;

        let file = store
            .reserve_upload(&token.token, "a.pdf", 1_100)
            .await
            .unwrap();
        assert_eq!(
            (
                file.room_id,
                file.name.as_str(),
                file.original_name.as_str(),
                file.uploader_id,
                file.size,
                file.state,
                file.created_at,
                file.completed_at
            ),
            (
                lobby.id,
                "a.pdf",
                "report.pdf",
                alice,
                0,
                FileState::Uploading,
                1_100,
                None
            )
        );
        let again = store
            .reserve_upload(&token.token, "b.pdf", 1_200)
            .await
            .unwrap();
        assert_eq!(again, file, "the first reservation fixes the name");
        assert_eq!(
            store
                .file_token(&token.token)
                .await
                .unwrap()
                .unwrap()
                .file_id,
            Some(file.id)
        );

        store
            .declare_upload_length(&token.token, file.id, 43, QUOTA)
            .await
            .unwrap();
        assert_eq!(store.room_file_bytes(lobby.id).await.unwrap(), 43);
        assert!(
            file_events(store).await.is_empty(),
            "nothing before completion"
        );

        let done = store
            .complete_upload(&token.token, file.id, 43, 1_500)
            .await
            .unwrap();
        assert_eq!(
            (done.state, done.size, done.completed_at),
            (FileState::Complete, 43, Some(1_500))
        );
        assert_eq!(
            store.room_file(lobby.id, "a.pdf").await.unwrap(),
            Some(done.clone())
        );
        assert_eq!(store.file(file.id).await.unwrap(), Some(done.clone()));
        assert!(store.file_token(&token.token).await.unwrap().unwrap().spent);
        let events = file_events(store).await;
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(
            (
                event.kind.as_str(),
                event.room_id,
                event.principal_id,
                event.message_seq,
                event.content.as_str(),
                event.at
            ),
            ("fileupload", lobby.id, alice, None, "a.pdf", 1_500)
        );

        // A spent token neither completes again nor reserves another name.
        let twice = store
            .complete_upload(&token.token, file.id, 43, 1_600)
            .await;
        assert!(matches!(twice, Err(StoreError::NotFound(_))), "{twice:?}");
        let reserve = store.reserve_upload(&token.token, "c.pdf", 1_600).await;
        assert!(
            matches!(reserve, Err(StoreError::NotFound(_))),
            "{reserve:?}"
        );
        assert_eq!(file_events(store).await.len(), 1);
        assert!(matches!(store.abandon_upload(file.id).await, Ok(false)));
        assert_eq!(store.room_files(lobby.id).await.unwrap(), [done]);
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_completion_whose_compliance_row_fails_changes_nothing() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let (token, file) = reserved(store, alice, lobby.id, "a.txt").await;
        engine.refuse_outbox("fileupload", "outbox refused").await;

        let failed = store
            .complete_upload(&token.token, file.id, 3, ISSUED + 1)
            .await;
        assert!(
            matches!(&failed, Err(StoreError::Database(e)) if e.to_string().contains("outbox refused")),
            "{failed:?}"
        );
        assert_eq!(
            store.file(file.id).await.unwrap().unwrap().state,
            FileState::Uploading,
            "the file is not complete without its compliance row"
        );
        assert!(
            !store.file_token(&token.token).await.unwrap().unwrap().spent,
            "nor the token spent"
        );
        assert!(file_events(store).await.is_empty());

        engine.accept_outbox().await;
        store
            .complete_upload(&token.token, file.id, 3, ISSUED + 2)
            .await
            .expect("the same completion goes through once the outbox takes it");
        assert_eq!(file_events(store).await.len(), 1);
        engine.finish().await;
    }
}

#[tokio::test]
async fn declared_lengths_count_toward_the_room_quota() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let other = room(store, "Other").await;
        uploaded(store, alice, lobby.id, "done.bin", 600).await;
        uploaded(store, alice, other.id, "elsewhere.bin", 900).await;

        let (token, file) = reserved(store, alice, lobby.id, "new.bin").await;
        store
            .declare_upload_length(&token.token, file.id, 300, 1_000)
            .await
            .unwrap();
        assert_eq!(store.room_file_bytes(lobby.id).await.unwrap(), 900);
        // Declaring again replaces the length rather than adding to it.
        store
            .declare_upload_length(&token.token, file.id, 400, 1_000)
            .await
            .unwrap();
        assert_eq!(store.room_file_bytes(lobby.id).await.unwrap(), 1_000);

        let (second, next) = reserved(store, alice, lobby.id, "next.bin").await;
        let over = store
            .declare_upload_length(&second.token, next.id, 1, 1_000)
            .await;
        assert!(
            matches!(over, Err(StoreError::QuotaExceeded { limit: 1_000, .. })),
            "the upload in progress holds its declared length: {over:?}"
        );
        assert_eq!(store.file(next.id).await.unwrap().unwrap().size, 0);

        store.abandon_upload(file.id).await.unwrap();
        store
            .declare_upload_length(&second.token, next.id, 400, 1_000)
            .await
            .expect("an abandoned upload frees its share");
        assert_eq!(store.room_file_bytes(other.id).await.unwrap(), 900);
        let complete = store
            .room_file(lobby.id, "done.bin")
            .await
            .unwrap()
            .unwrap();
        for (token, file_id) in [(&token.token, complete.id), (&second.token, file.id)] {
            assert!(
                matches!(
                    store.declare_upload_length(token, file_id, 1, QUOTA).await,
                    Err(StoreError::NotFound(_))
                ),
                "only the upload in progress of the token"
            );
        }
        engine.finish().await;
    }
}

#[tokio::test]
async fn an_abandoned_upload_leaves_its_token_free_to_start_over() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let (token, file) = reserved(store, alice, lobby.id, "first.txt").await;
        assert!(store.abandon_upload(file.id).await.unwrap());
        assert!(!store.abandon_upload(file.id).await.unwrap(), "once");
        assert!(store.file(file.id).await.unwrap().is_none());
        let token_now = store.file_token(&token.token).await.unwrap().unwrap();
        assert_eq!((token_now.file_id, token_now.spent), (None, false));

        let again = store
            .reserve_upload(&token.token, "second.txt", ISSUED)
            .await
            .unwrap();
        assert_eq!(again.name, "second.txt");
        assert!(
            store
                .room_file(lobby.id, "first.txt")
                .await
                .unwrap()
                .is_none()
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_download_is_recorded_once_per_token() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let lobby = room(store, "Lobby").await;
        let file = uploaded(store, alice, lobby.id, "a.txt", 5).await;
        let uploads = file_events(store).await.len();

        let token = issue(store, bob, lobby.id, Direction::Download, Some(file.id)).await;
        assert!(store.record_download(&token.token, 1_300).await.unwrap());
        assert!(!store.record_download(&token.token, 1_400).await.unwrap());
        assert!(
            store
                .file_token(&token.token)
                .await
                .unwrap()
                .unwrap()
                .download_recorded
        );
        let events = file_events(store).await;
        assert_eq!(events.len(), uploads + 1);
        let event = events.last().unwrap();
        assert_eq!(
            (
                event.kind.as_str(),
                event.room_id,
                event.principal_id,
                event.content.as_str(),
                event.at
            ),
            ("filedownload", lobby.id, bob, "a.txt", 1_300)
        );

        // Another token is another download.
        let other = issue(store, bob, lobby.id, Direction::Download, Some(file.id)).await;
        assert!(store.record_download(&other.token, 1_500).await.unwrap());
        // An upload token, or a token unknown, records nothing.
        let upload = issue(store, bob, lobby.id, Direction::Upload, None).await;
        assert!(!store.record_download(&upload.token, 1_500).await.unwrap());
        assert!(!store.record_download("nope", 1_500).await.unwrap());
        assert_eq!(file_events(store).await.len(), uploads + 2);
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_post_links_only_complete_files_of_its_room() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let other = room(store, "Other").await;
        let here = uploaded(store, alice, lobby.id, "here.txt", 1).await;
        let there = uploaded(store, alice, other.id, "there.txt", 1).await;
        let unlinked = uploaded(store, alice, lobby.id, "unlinked.txt", 1).await;
        let (_, partial) = reserved(store, alice, lobby.id, "partial.txt").await;

        let message = store
            .post_message(
                lobby.id,
                alice,
                &parlance_store::history::Post::text(
                    "files",
                    &[
                        "here.txt",
                        "here.txt",
                        "there.txt",
                        "partial.txt",
                        "missing.txt",
                    ],
                ),
                1_700,
            )
            .await
            .unwrap();
        assert_eq!(message.content, "files");
        assert!(store.file_linked(here.id).await.unwrap());
        assert!(
            !store.file_linked(there.id).await.unwrap(),
            "another room's"
        );
        assert!(
            !store.file_linked(partial.id).await.unwrap(),
            "not complete"
        );
        assert!(!store.file_linked(unlinked.id).await.unwrap());

        // Linking it from its own room works; the earlier post granted nothing.
        store
            .post_message(
                other.id,
                alice,
                &parlance_store::history::Post::text("there", &["there.txt"]),
                1_800,
            )
            .await
            .unwrap();
        assert!(store.file_linked(there.id).await.unwrap());
        engine.finish().await;
    }
}

#[tokio::test]
async fn expired_uploads_are_found_and_unfinished_ones_discarded() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let complete = uploaded(store, alice, lobby.id, "kept.txt", 2).await;
        let (token, partial) = reserved(store, alice, lobby.id, "partial.txt").await;
        let idle = issue(store, alice, lobby.id, Direction::Upload, None).await;

        assert!(store.expired_uploads(EXPIRES - 1).await.unwrap().is_empty());
        assert_eq!(
            store.expired_uploads(EXPIRES).await.unwrap(),
            std::slice::from_ref(&partial)
        );
        // Pruning keeps the expired token that still holds an upload, so that the upload is
        // found until it is abandoned; the others go.
        assert_eq!(store.prune_file_tokens(EXPIRES - 1).await.unwrap(), 0);
        assert_eq!(store.prune_file_tokens(EXPIRES).await.unwrap(), 2);
        assert!(store.file_token(&idle.token).await.unwrap().is_none());
        assert!(store.file_token(&token.token).await.unwrap().is_some());
        assert_eq!(
            store.expired_uploads(EXPIRES).await.unwrap(),
            std::slice::from_ref(&partial)
        );
        store.abandon_upload(partial.id).await.unwrap();
        assert_eq!(store.prune_file_tokens(EXPIRES).await.unwrap(), 1);

        // At start, every upload in progress goes: its partial blob did not survive.
        let (fresh, unfinished) = reserved(store, alice, lobby.id, "unfinished.txt").await;
        assert_eq!(store.delete_unfinished_uploads().await.unwrap(), 1);
        assert!(store.file(unfinished.id).await.unwrap().is_none());
        assert_eq!(
            store
                .file_token(&fresh.token)
                .await
                .unwrap()
                .unwrap()
                .file_id,
            None
        );
        assert_eq!(store.room_files(lobby.id).await.unwrap(), [complete]);
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_removed_file_takes_its_links_and_its_tokens_with_it() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let lobby = room(store, "Lobby").await;
        let file = uploaded(store, alice, lobby.id, "gone.txt", 7).await;
        let kept = uploaded(store, alice, lobby.id, "kept.txt", 3).await;
        store
            .post_message(
                lobby.id,
                alice,
                &parlance_store::history::Post::text("two", &["gone.txt", "kept.txt"]),
                1_700,
            )
            .await
            .unwrap();
        let token = issue(store, bob, lobby.id, Direction::Download, Some(file.id)).await;

        assert!(store.remove_file(file.id).await.unwrap());
        assert!(!store.remove_file(file.id).await.unwrap());
        assert!(store.file(file.id).await.unwrap().is_none());
        assert!(!store.file_linked(file.id).await.unwrap());
        assert!(store.file_linked(kept.id).await.unwrap());
        let token = store.file_token(&token.token).await.unwrap().unwrap();
        assert_eq!((token.file_id, token.spent), (None, true));
        assert!(!store.record_download(&token.token, 1_800).await.unwrap());
        assert_eq!(store.room_file_bytes(lobby.id).await.unwrap(), 3);
        engine.finish().await;
    }
}

#[tokio::test]
async fn tokens_and_files_survive_a_restart() {
    for mut engine in engines().await {
        let alice = user(&engine.store, "alice").await;
        let lobby = room(&engine.store, "Lobby").await;
        let file = uploaded(&engine.store, alice, lobby.id, "a.txt", 1).await;
        let token = issue(
            &engine.store,
            alice,
            lobby.id,
            Direction::Download,
            Some(file.id),
        )
        .await;
        engine.reopen().await;
        let store = &engine.store;
        assert_eq!(store.file_token(&token.token).await.unwrap(), Some(token));
        assert_eq!(store.file(file.id).await.unwrap(), Some(file));
        engine.finish().await;
    }
}

#[tokio::test]
async fn purging_history_removes_its_messages_and_the_files_nothing_left_links() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let other = room(store, "Other").await;
        let old_post = uploaded(
            store,
            alice,
            lobby.id,
            "11111111-1111-4111-8111-111111111111.txt",
            3,
        )
        .await;
        let kept_post = uploaded(
            store,
            alice,
            lobby.id,
            "22222222-2222-4222-8222-222222222222.txt",
            3,
        )
        .await;
        let never_posted = uploaded(
            store,
            alice,
            lobby.id,
            "33333333-3333-4333-8333-333333333333",
            3,
        )
        .await;
        let elsewhere = uploaded(
            store,
            alice,
            other.id,
            "44444444-4444-4444-8444-444444444444",
            3,
        )
        .await;
        let (_, in_progress) = reserved(
            store,
            alice,
            lobby.id,
            "55555555-5555-4555-8555-555555555555",
        )
        .await;
        store
            .post_message(
                lobby.id,
                alice,
                &parlance_store::history::Post::text("old", &[old_post.name.as_str()]),
                10,
            )
            .await
            .unwrap();
        store
            .post_message(
                lobby.id,
                alice,
                &parlance_store::history::Post::text("kept", &[kept_post.name.as_str()]),
                5_000,
            )
            .await
            .unwrap();

        let Purged {
            messages,
            files: removed,
        } = store
            .purge_history(lobby.id, Some(4_000), 100, "test", 6_000)
            .await
            .unwrap();
        assert_eq!(messages, 1, "only the message before the cut");
        let mut names: Vec<_> = removed.iter().map(|f| f.name.as_str()).collect();
        names.sort();
        assert_eq!(names, [old_post.name.as_str(), never_posted.name.as_str()]);
        let left: Vec<_> = store
            .room_files(lobby.id)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(
            left,
            [kept_post.id, in_progress.id],
            "linked and in-progress files stay"
        );
        assert!(store.file_linked(kept_post.id).await.unwrap());
        assert_eq!(store.room_files(other.id).await.unwrap(), [elsewhere]);

        let Purged {
            messages,
            files: removed,
        } = store
            .purge_history(lobby.id, None, 100, "test", 7_000)
            .await
            .unwrap();
        assert_eq!(messages, 1);
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].id, kept_post.id);
    }
}
