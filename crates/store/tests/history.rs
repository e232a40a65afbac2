//! The message, history, compliance, invitation and preference behaviour every storage
//! engine must show. Engines are listed in `common`.

mod common;

use common::{engines, room, user};
use parlance_store::history::{
    ComplianceEvent, ComplianceKind, HistoryQuery, Invitation, NewComplianceEvent, Post,
    StoredMessage, backchat_content,
};
use parlance_store::{Store, StoreError};

fn seqs(messages: &[StoredMessage]) -> Vec<i64> {
    messages.iter().map(|m| m.seq).collect()
}

async fn all_events(store: &Store) -> Vec<ComplianceEvent> {
    store.compliance_events(0, u32::MAX).await.unwrap()
}

/// Reads history as `viewer` and checks that the read left exactly one backchat event.
async fn read(store: &Store, room_id: i64, viewer: i64, query: HistoryQuery) -> Vec<StoredMessage> {
    let before = all_events(store).await.len();
    let messages = store
        .read_history(room_id, viewer, &query, 7)
        .await
        .unwrap();
    let events = all_events(store).await;
    assert_eq!(events.len(), before + 1, "one event for {query:?}");
    let event = events.last().unwrap();
    assert_eq!(
        (
            event.kind.as_str(),
            event.room_id,
            event.principal_id,
            event.message_seq,
            event.at
        ),
        ("backchat", room_id, viewer, None, 7),
        "{query:?}"
    );
    assert_eq!(
        event.content,
        backchat_content(&messages),
        "the row holds the history returned: {query:?}"
    );
    messages
}

/// The sequence numbers of the messages matching `text`, oldest first.
async fn search(store: &Store, room_id: i64, viewer: i64, text: &str, n: u32) -> Vec<i64> {
    seqs(
        &read(
            store,
            room_id,
            viewer,
            HistoryQuery::Search {
                text: text.into(),
                n,
            },
        )
        .await,
    )
}

#[tokio::test]
async fn sequence_numbers_are_dense_and_per_room() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let other = room(store, "Other").await;
        let mut got = Vec::new();
        for (i, room_id) in [lobby.id, lobby.id, other.id, lobby.id, other.id]
            .into_iter()
            .enumerate()
        {
            let at = 1_000 + i as i64;
            let message = store
                .post_message(
                    room_id,
                    alice,
                    &Post::text(&format!("message {i}"), &[]),
                    at,
                )
                .await
                .unwrap();
            assert_eq!(
                (
                    message.room_id,
                    message.author_uri.as_str(),
                    message.posted_at,
                    message.content.clone()
                ),
                (
                    room_id,
                    "sip:alice@example.test",
                    at,
                    format!("message {i}")
                )
            );
            got.push((room_id, message.seq));
        }
        assert_eq!(
            got,
            [
                (lobby.id, 1),
                (lobby.id, 2),
                (other.id, 1),
                (lobby.id, 3),
                (other.id, 2)
            ]
        );
        let history = read(store, lobby.id, alice, HistoryQuery::Last(10)).await;
        assert_eq!(seqs(&history), [1, 2, 3]);
        assert_eq!(history[2].content, "message 3");
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_pool_node_rereads_a_gap_and_the_newest_numbers_without_a_record() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let quiet = room(store, "Quiet").await;
        for i in 1..=5 {
            let text = format!("message {i}");
            let post = Post {
                alert: i == 3,
                rtf: (i == 4).then_some("{\\rtf1 four}"),
                ..Post::text(&text, &[])
            };
            store.post_message(lobby.id, alice, &post, i).await.unwrap();
        }
        let before = all_events(store).await.len();
        let gap = store.messages_after(lobby.id, 1, 3).await.unwrap();
        assert_eq!(seqs(&gap), [2, 3, 4], "oldest first, at most n");
        assert!(gap[1].alert && !gap[0].alert);
        assert_eq!(gap[2].rtf.as_deref(), Some("{\\rtf1 four}"));
        assert_eq!(gap[0].author_uri, "sip:alice@example.test");
        assert_eq!(seqs(&store.messages_after(lobby.id, 4, 10).await.unwrap()), [5]);
        assert!(store.messages_after(lobby.id, 5, 10).await.unwrap().is_empty());
        assert_eq!(all_events(store).await.len(), before, "nobody read history");
        assert_eq!(
            store
                .last_seqs(&[quiet.id, lobby.id, 999_999])
                .await
                .unwrap(),
            [(lobby.id, 5), (quiet.id, 0)]
        );
        assert!(store.last_seqs(&[]).await.unwrap().is_empty());
        engine.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_posts_take_every_sequence_number_once() {
    const TASKS: usize = 8;
    const POSTS: usize = 25;
    for engine in engines().await {
        let store = &engine.store;
        let lobby = room(store, "Lobby").await;
        let mut authors = Vec::new();
        for t in 0..TASKS {
            authors.push(user(store, &format!("user{t}")).await);
        }
        // Half the writers share the test's store; the others each have a store of their
        // own, as the servers of a pool (or admin commands) have.
        let mut stores = Vec::new();
        for t in 0..TASKS {
            stores.push(if t % 2 == 0 {
                store.clone()
            } else {
                engine.beside().await
            });
        }
        let tasks: Vec<_> = authors
            .iter()
            .zip(stores)
            .enumerate()
            .map(|(t, (&author, store))| {
                tokio::spawn(async move {
                    let mut seqs = Vec::new();
                    for i in 0..POSTS {
                        let content = format!("task {t} post {i}");
                        seqs.push(
                            store
                                .post_message(lobby.id, author, &Post::text(&content, &[]), 0)
                                .await
                                .unwrap()
                                .seq,
                        );
                    }
                    seqs
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            let own = task.await.unwrap();
            assert!(
                own.windows(2).all(|w| w[0] < w[1]),
                "one task's posts keep their order: {own:?}"
            );
            all.extend(own);
        }
        all.sort_unstable();
        assert_eq!(all, (1..=(TASKS * POSTS) as i64).collect::<Vec<_>>());

        let history = store
            .read_history(lobby.id, authors[0], &HistoryQuery::Last(1_000), 0)
            .await
            .unwrap();
        assert_eq!(
            seqs(&history),
            (1..=(TASKS * POSTS) as i64).collect::<Vec<_>>()
        );
        for t in 0..TASKS {
            let own: Vec<&str> = history
                .iter()
                .filter(|m| m.content.starts_with(&format!("task {t} ")))
                .map(|m| m.content.as_str())
                .collect();
            let posted: Vec<String> = (0..POSTS).map(|i| format!("task {t} post {i}")).collect();
            assert_eq!(own, posted, "history keeps task {t}'s order");
        }
        // The outbox's ids follow the commits: its chat rows come in sequence order, so a
        // reader that moves a cursor along the ids never passes a row still to commit.
        let chat: Vec<i64> = all_events(store)
            .await
            .into_iter()
            .filter(|e| e.kind == "chat")
            .filter_map(|e| e.message_seq)
            .collect();
        assert_eq!(chat, (1..=(TASKS * POSTS) as i64).collect::<Vec<_>>());
        engine.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cursor_reader_of_the_outbox_never_passes_a_row_still_to_commit() {
    const TASKS: usize = 6;
    const POSTS: usize = 40;
    for engine in engines().await {
        let store = &engine.store;
        let mut writers = Vec::new();
        for t in 0..TASKS {
            let author = user(store, &format!("user{t}")).await;
            let room = room(store, &format!("Room {t}")).await;
            let own = engine.beside().await;
            writers.push(tokio::spawn(async move {
                for i in 0..POSTS {
                    own.post_message(room.id, author, &Post::text(&format!("post {i}"), &[]), 0)
                        .await
                        .unwrap();
                }
                own.close().await;
            }));
        }
        // The exporter's way of reading: everything after the last id it has seen, over and
        // over while the writers run, then once more.
        let reader = store.clone();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writing = done.clone();
        let reading = tokio::spawn(async move {
            let (mut cursor, mut seen) = (0, Vec::new());
            loop {
                let last_round = writing.load(std::sync::atomic::Ordering::SeqCst);
                let events = reader.compliance_events(cursor, 1_000).await.unwrap();
                if let Some(last) = events.last() {
                    cursor = last.id;
                }
                seen.extend(events.into_iter().map(|e| e.id));
                if last_round {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        });
        for writer in writers {
            writer.await.unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = reading.await.unwrap();
        let all: Vec<i64> = all_events(store).await.iter().map(|e| e.id).collect();
        assert_eq!(all.len(), TASKS * POSTS);
        assert_eq!(seen, all);
        engine.finish().await;
    }
}

#[tokio::test]
async fn each_post_writes_one_chat_event() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let lobby = room(store, "Lobby").await;
        store
            .post_message(lobby.id, alice, &Post::text("hello", &[]), 10)
            .await
            .unwrap();
        store
            .post_message(lobby.id, bob, &Post::text("hi alice", &[]), 20)
            .await
            .unwrap();
        let events = all_events(store).await;
        let summary: Vec<_> = events
            .iter()
            .map(|e| {
                (
                    e.kind.as_str(),
                    e.room_id,
                    e.principal_id,
                    e.message_seq,
                    e.content.as_str(),
                    e.at,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("chat", lobby.id, alice, Some(1), "hello", 10),
                ("chat", lobby.id, bob, Some(2), "hi alice", 20)
            ]
        );

        let missing_room = lobby.id + 1000;
        let missing_user = alice.max(bob) + 1000;
        let got = store
            .post_message(missing_room, alice, &Post::text("into the void", &[]), 30)
            .await;
        assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
        let got = store
            .post_message(lobby.id, missing_user, &Post::text("from nobody", &[]), 30)
            .await;
        assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
        assert_eq!(
            all_events(store).await,
            events,
            "a refused post leaves no event"
        );
        let next = store
            .post_message(lobby.id, alice, &Post::text("still dense", &[]), 40)
            .await
            .unwrap();
        assert_eq!(next.seq, 3, "a refused post takes no sequence number");
        engine.finish().await;
    }
}

#[tokio::test]
async fn an_rtf_copy_is_kept_as_sent_and_compliance_keeps_the_text() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let rtf = "{\\rtf1\\ansi \\b bold\\b0  & <more>}";
        let posted = store
            .post_message(
                lobby.id,
                alice,
                &Post {
                    rtf: Some(rtf),
                    ..Post::text("bold & more", &[])
                },
                10,
            )
            .await
            .unwrap();
        assert_eq!(posted.rtf.as_deref(), Some(rtf));
        store
            .post_message(lobby.id, alice, &Post::text("plain", &[]), 20)
            .await
            .unwrap();
        let history = read(store, lobby.id, alice, HistoryQuery::Last(10)).await;
        let kept: Vec<_> = history.iter().map(|m| m.rtf.as_deref()).collect();
        assert_eq!(kept, [Some(rtf), None], "NULL when none was sent");
        let events = all_events(store).await;
        assert_eq!(
            events[0].content, "bold & more",
            "compliance keeps the text"
        );
    }
}

#[tokio::test]
async fn last_returns_the_newest_oldest_first() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let empty = room(store, "Empty").await;
        for i in 1..=10 {
            store
                .post_message(lobby.id, alice, &Post::text(&format!("m{i}"), &[]), i)
                .await
                .unwrap();
        }
        let last = read(store, lobby.id, alice, HistoryQuery::Last(3)).await;
        assert_eq!(seqs(&last), [8, 9, 10]);
        assert_eq!(
            last.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(),
            ["m8", "m9", "m10"]
        );
        assert_eq!(last[0].posted_at, 8);
        assert_eq!(
            seqs(&read(store, lobby.id, alice, HistoryQuery::Last(100)).await),
            (1..=10).collect::<Vec<_>>()
        );
        assert!(
            read(store, lobby.id, alice, HistoryQuery::Last(0))
                .await
                .is_empty()
        );
        assert!(
            read(store, empty.id, alice, HistoryQuery::Last(5))
                .await
                .is_empty()
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn before_and_after_page_through_the_whole_history() {
    const COUNT: i64 = 23;
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        for i in 1..=COUNT {
            store
                .post_message(lobby.id, alice, &Post::text(&format!("m{i}"), &[]), i)
                .await
                .unwrap();
        }
        assert_eq!(
            seqs(
                &read(
                    store,
                    lobby.id,
                    alice,
                    HistoryQuery::Before { seq: 10, n: 3 }
                )
                .await
            ),
            [7, 8, 9]
        );
        assert_eq!(
            seqs(
                &read(
                    store,
                    lobby.id,
                    alice,
                    HistoryQuery::After { seq: 10, n: 3 }
                )
                .await
            ),
            [11, 12, 13]
        );
        assert_eq!(
            seqs(
                &read(
                    store,
                    lobby.id,
                    alice,
                    HistoryQuery::Before { seq: 3, n: 5 }
                )
                .await
            ),
            [1, 2]
        );
        assert!(
            read(
                store,
                lobby.id,
                alice,
                HistoryQuery::Before { seq: 1, n: 5 }
            )
            .await
            .is_empty()
        );
        assert!(
            read(
                store,
                lobby.id,
                alice,
                HistoryQuery::After { seq: COUNT, n: 5 }
            )
            .await
            .is_empty()
        );

        // Backwards, as a client scrolling up: the newest page, then each older one.
        let mut page = read(store, lobby.id, alice, HistoryQuery::Last(5)).await;
        let mut backwards = Vec::new();
        while let Some(oldest) = page.first().map(|m| m.seq) {
            assert!(page.len() <= 5);
            backwards.splice(0..0, seqs(&page));
            page = read(
                store,
                lobby.id,
                alice,
                HistoryQuery::Before { seq: oldest, n: 5 },
            )
            .await;
        }
        assert_eq!(backwards, (1..=COUNT).collect::<Vec<_>>());

        // Forwards, as a client catching up from what it last saw.
        let mut forwards = Vec::new();
        let mut newest = 0;
        loop {
            let page = read(
                store,
                lobby.id,
                alice,
                HistoryQuery::After { seq: newest, n: 5 },
            )
            .await;
            let Some(last) = page.last() else { break };
            assert!(page.len() <= 5);
            newest = last.seq;
            forwards.extend(seqs(&page));
        }
        assert_eq!(forwards, (1..=COUNT).collect::<Vec<_>>());
        engine.finish().await;
    }
}

#[tokio::test]
async fn search_matches_every_word_and_takes_the_query_literally() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let other = room(store, "Other").await;
        for (i, content) in [
            "Deploy on Friday",
            "deploy postponed",
            "Friday lunch",
            "FRIDAY: deploy again!",
            "near friday we deploy",
            "deployment friday",
        ]
        .into_iter()
        .enumerate()
        {
            store
                .post_message(lobby.id, alice, &Post::text(content, &[]), i as i64)
                .await
                .unwrap();
        }
        store
            .post_message(
                other.id,
                alice,
                &Post::text("deploy friday elsewhere", &[]),
                99,
            )
            .await
            .unwrap();

        assert_eq!(
            search(store, lobby.id, alice, "deploy friday", 10).await,
            [1, 4, 5]
        );
        assert_eq!(
            search(store, lobby.id, alice, "DEPLOY", 10).await,
            [1, 2, 4, 5]
        );
        assert_eq!(
            search(store, lobby.id, alice, "friday", 2).await,
            [5, 6],
            "the newest matches"
        );
        assert_eq!(
            search(store, other.id, alice, "deploy friday", 10).await,
            [1],
            "one room only"
        );
        assert_eq!(
            search(store, lobby.id, alice, "elsewhere", 10).await,
            Vec::<i64>::new()
        );

        // FTS5 syntax would widen or narrow these matches; taken literally, it does neither.
        assert_eq!(
            search(store, lobby.id, alice, "deploy*", 10).await,
            [1, 2, 4, 5],
            "no prefix search"
        );
        assert_eq!(
            search(store, lobby.id, alice, "friday OR lunch", 10).await,
            Vec::<i64>::new()
        );
        assert_eq!(
            search(store, lobby.id, alice, "NEAR(deploy friday)", 10).await,
            [5]
        );
        assert_eq!(
            search(store, lobby.id, alice, "content:deploy", 10).await,
            Vec::<i64>::new()
        );
        assert_eq!(
            search(store, lobby.id, alice, "deploy \"friday", 10).await,
            [1, 4, 5]
        );
        assert_eq!(
            search(store, lobby.id, alice, "-lunch ^friday", 10).await,
            [3]
        );
        for nothing in ["", "   ", "\"", "*", "\"*(^)-:", "\" OR \""] {
            let got = search(store, lobby.id, alice, nothing, 10).await;
            assert_eq!(got, Vec::<i64>::new(), "{nothing:?}");
        }
        engine.finish().await;
    }
}

#[tokio::test]
async fn search_words_are_split_and_folded_alike_on_every_engine() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        for (i, content) in [
            "Crème brûlée at the CAFÉ",
            "mail alice@example.com about re-run v1.5",
            "Größe und Maße",
            "ünïcödé_under_score",
        ]
        .into_iter()
        .enumerate()
        {
            store
                .post_message(lobby.id, alice, &Post::text(content, &[]), i as i64)
                .await
                .unwrap();
        }
        let cases: [(&str, &[i64]); 12] = [
            ("creme", &[1]),
            ("BRÛLÉE cafe", &[1]),
            ("café", &[1]),
            ("example", &[2]),
            ("alice@example.com", &[2]),
            ("re", &[2]),
            ("rerun", &[]),
            ("v1 5", &[2]),
            ("GRÖSSE", &[]),
            ("größe masse", &[]),
            ("GRÖßE maße", &[3]),
            ("unicode under SCORE", &[4]),
        ];
        for (text, expected) in cases {
            assert_eq!(
                search(store, lobby.id, alice, text, 10).await,
                expected,
                "{text:?}"
            );
        }
        engine.finish().await;
    }
}

#[tokio::test]
async fn search_history_covers_only_the_given_rooms_newest_first() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let a = room(store, "A").await;
        let b = room(store, "B").await;
        let c = room(store, "C").await;
        for (room_id, content, at) in [
            (a.id, "alpha deploy", 1),
            (b.id, "beta deploy", 2),
            (c.id, "gamma deploy", 3),
            (a.id, "alpha deploy again", 4),
            (b.id, "beta unrelated", 5),
        ] {
            store
                .post_message(room_id, alice, &Post::text(content, &[]), at)
                .await
                .unwrap();
        }
        let found = |messages: Vec<StoredMessage>| {
            messages.into_iter().map(|m| m.content).collect::<Vec<_>>()
        };

        let before = all_events(store).await.len();
        let got = store
            .search_history(&[a.id, b.id], bob, "DEPLOY", 10, 77)
            .await
            .unwrap();
        assert_eq!(
            found(got),
            ["alpha deploy again", "beta deploy", "alpha deploy"]
        );
        let events = all_events(store).await;
        let mut searched: Vec<_> = events[before..]
            .iter()
            .map(|e| {
                (
                    e.kind.as_str(),
                    e.room_id,
                    e.principal_id,
                    e.message_seq,
                    e.at,
                )
            })
            .collect();
        searched.sort_unstable();
        let mut expected = [
            ("backchat", a.id, bob, None, 77),
            ("backchat", b.id, bob, None, 77),
        ];
        expected.sort_unstable();
        assert_eq!(searched, expected, "one event per room searched");

        let got = store
            .search_history(&[a.id, b.id, c.id], bob, "deploy", 2, 78)
            .await
            .unwrap();
        assert_eq!(found(got), ["alpha deploy again", "gamma deploy"]);
        let got = store
            .search_history(&[c.id], bob, "alpha", 10, 79)
            .await
            .unwrap();
        assert!(got.is_empty());
        let got = store
            .search_history(&[a.id], bob, "deploy OR unrelated", 10, 79)
            .await
            .unwrap();
        assert!(got.is_empty(), "OR is a word, not an operator");

        let before = all_events(store).await.len();
        assert!(
            store
                .search_history(&[], bob, "deploy", 10, 80)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .search_history(&[a.id, b.id], bob, "\"*", 10, 80)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            all_events(store).await.len(),
            before,
            "nothing searched, nothing recorded"
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn joins_and_parts_are_recorded_and_events_page_by_id() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        store
            .record_event(ComplianceKind::Join, lobby.id, alice, "", 1)
            .await
            .unwrap();
        store
            .post_message(lobby.id, alice, &Post::text("hello", &[]), 2)
            .await
            .unwrap();
        store
            .record_event(ComplianceKind::Part, lobby.id, alice, "bye", 3)
            .await
            .unwrap();
        store
            .record_event(ComplianceKind::Join, lobby.id, alice, "", 4)
            .await
            .unwrap();
        store
            .record_event(ComplianceKind::FileUpload, lobby.id, alice, "notes.txt", 5)
            .await
            .unwrap();

        let all = all_events(store).await;
        let summary: Vec<_> = all
            .iter()
            .map(|e| (e.kind.as_str(), e.message_seq, e.content.as_str(), e.at))
            .collect();
        assert_eq!(
            summary,
            [
                ("join", None, "", 1),
                ("chat", Some(1), "hello", 2),
                ("part", None, "bye", 3),
                ("join", None, "", 4),
                ("fileupload", None, "notes.txt", 5)
            ]
        );
        assert!(
            all.iter()
                .all(|e| e.room_id == lobby.id && e.principal_id == alice)
        );
        assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids grow");

        // An outbox reader pages by the last id it has handled.
        let mut paged = Vec::new();
        let mut after = 0;
        loop {
            let page = store.compliance_events(after, 2).await.unwrap();
            let Some(last) = page.last() else { break };
            assert!(page.len() <= 2);
            after = last.id;
            paged.extend(page);
        }
        assert_eq!(paged, all);
        assert!(
            store
                .compliance_events(all[4].id, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.compliance_events(all[1].id, 1).await.unwrap(),
            [all[2].clone()]
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn events_for_missing_rooms_or_principals_are_refused() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let (missing_room, missing_user) = (lobby.id + 1000, alice + 1000);
        let got = store
            .record_event(ComplianceKind::Join, missing_room, alice, "", 1)
            .await;
        assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
        let got = store
            .record_event(ComplianceKind::Join, lobby.id, missing_user, "", 1)
            .await;
        assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
        let got = store
            .read_history(missing_room, alice, &HistoryQuery::Last(5), 1)
            .await;
        assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
        let got = store
            .search_history(&[lobby.id, missing_room], alice, "hello", 5, 1)
            .await;
        assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
        assert!(
            all_events(store).await.is_empty(),
            "a refused action records nothing"
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn invitations_are_numbered_per_principal() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let carol = user(store, "carol").await;
        let r1 = room(store, "R1").await;
        let r2 = room(store, "R2").await;
        let r3 = room(store, "R3").await;
        let ids = |invitations: Vec<Invitation>| {
            invitations
                .into_iter()
                .map(|i| (i.invite_id, i.room_id))
                .collect::<Vec<_>>()
        };

        store.invite(r1.id, &[alice, bob]).await.unwrap();
        store.invite(r2.id, &[alice]).await.unwrap();
        store.invite(r1.id, &[alice]).await.unwrap();
        store.invite(r3.id, &[bob, alice]).await.unwrap();
        store.invite(r3.id, &[]).await.unwrap();

        let alices = store.invitations(alice, 1).await.unwrap();
        assert!(alices.iter().all(|i| i.created_at > 0));
        assert_eq!(
            ids(alices),
            [(1, r1.id), (2, r2.id), (3, r3.id)],
            "re-inviting is a no-op"
        );
        assert_eq!(
            ids(store.invitations(bob, 1).await.unwrap()),
            [(1, r1.id), (2, r3.id)]
        );
        assert_eq!(ids(store.invitations(alice, 0).await.unwrap()).len(), 3);
        assert_eq!(
            ids(store.invitations(alice, 2).await.unwrap()),
            [(2, r2.id), (3, r3.id)]
        );
        assert_eq!(
            ids(store.invitations(alice, 3).await.unwrap()),
            [(3, r3.id)]
        );
        assert!(store.invitations(alice, 4).await.unwrap().is_empty());
        assert!(store.invitations(carol, 1).await.unwrap().is_empty());
        engine.finish().await;
    }
}

/// A preference quota no test here comes near.
const QUOTA: u64 = 1 << 20;

#[tokio::test]
async fn preferences_are_versioned_per_principal_and_label() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        assert_eq!(store.preference(alice, "layout").await.unwrap(), None);

        let first = store
            .set_preference(alice, "layout", "<a/>", QUOTA)
            .await
            .unwrap();
        assert_eq!(
            (first.label.as_str(), first.seq, first.content.as_str()),
            ("layout", 1, "<a/>")
        );
        assert_eq!(
            store.preference(alice, "layout").await.unwrap(),
            Some(first)
        );
        let second = store
            .set_preference(alice, "layout", "<b/>", QUOTA)
            .await
            .unwrap();
        assert_eq!((second.seq, second.content.as_str()), (2, "<b/>"));
        assert_eq!(
            store.preference(alice, "layout").await.unwrap(),
            Some(second)
        );
        assert_eq!(
            store
                .set_preference(alice, "layout", "<b/>", QUOTA)
                .await
                .unwrap()
                .seq,
            3,
            "every set counts"
        );

        assert_eq!(
            store
                .set_preference(alice, "sounds", "off", QUOTA)
                .await
                .unwrap()
                .seq,
            1,
            "labels count apart"
        );
        assert_eq!(
            store.preference(bob, "layout").await.unwrap(),
            None,
            "principals count apart"
        );
        assert_eq!(
            store
                .set_preference(bob, "layout", "<c/>", QUOTA)
                .await
                .unwrap()
                .seq,
            1
        );
        assert_eq!(
            store
                .preference(alice, "layout")
                .await
                .unwrap()
                .unwrap()
                .content,
            "<b/>"
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn preferences_stay_within_the_quota() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        // 64 bytes of row overhead + label + content each.
        let quota = 2 * (64 + 1 + 100);
        store
            .set_preference(alice, "a", &"x".repeat(100), quota)
            .await
            .unwrap();
        store
            .set_preference(alice, "b", &"x".repeat(100), quota)
            .await
            .unwrap();
        let refused = store.set_preference(alice, "c", "", quota).await;
        assert!(
            matches!(refused, Err(StoreError::QuotaExceeded { .. })),
            "a third blob does not fit: {refused:?}"
        );
        assert_eq!(store.preference(alice, "c").await.unwrap(), None);
        let replaced = store
            .set_preference(alice, "b", "small", quota)
            .await
            .unwrap();
        assert_eq!(replaced.seq, 2, "replacing a blob counts only its new size");
        assert!(
            store
                .set_preference(alice, "b", &"x".repeat(101), quota)
                .await
                .is_err(),
            "growing past the quota is refused"
        );
        assert_eq!(
            store.preference(alice, "b").await.unwrap().unwrap().content,
            "small"
        );
        store
            .set_preference(bob, "a", &"x".repeat(100), quota)
            .await
            .unwrap();
        engine.finish().await;
    }
}

#[tokio::test]
async fn history_and_its_records_survive_reopening() {
    for mut engine in engines().await {
        let alice = user(&engine.store, "alice").await;
        let lobby = room(&engine.store, "Lobby").await;
        for i in 1..=3 {
            engine
                .store
                .post_message(lobby.id, alice, &Post::text(&format!("m{i}"), &[]), i)
                .await
                .unwrap();
        }
        engine.store.invite(lobby.id, &[alice]).await.unwrap();
        engine
            .store
            .set_preference(alice, "layout", "<a/>", QUOTA)
            .await
            .unwrap();
        let history = engine
            .store
            .read_history(lobby.id, alice, &HistoryQuery::Last(10), 4)
            .await
            .unwrap();
        let events = all_events(&engine.store).await;
        let invitations = engine.store.invitations(alice, 1).await.unwrap();

        engine.reopen().await;
        let store = &engine.store;
        assert_eq!(all_events(store).await, events);
        assert_eq!(
            read(store, lobby.id, alice, HistoryQuery::Last(10)).await,
            history
        );
        assert_eq!(
            search(store, lobby.id, alice, "m2", 10).await,
            [2],
            "the search index is kept too"
        );
        assert_eq!(
            store
                .post_message(lobby.id, alice, &Post::text("m4", &[]), 5)
                .await
                .unwrap()
                .seq,
            4,
            "numbering goes on"
        );
        assert_eq!(store.invitations(alice, 1).await.unwrap(), invitations);
        assert_eq!(
            store
                .set_preference(alice, "layout", "<b/>", QUOTA)
                .await
                .unwrap()
                .seq,
            2
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn imported_messages_continue_the_sequence_and_are_searchable() {
    for engine in engines().await {
        let store = &engine.store;
        let author = user(store, "importer").await;
        let r = room(store, "Imported").await;
        store
            .post_message(r.id, author, &Post::text("live one", &[]), 1)
            .await
            .unwrap();
        let texts: Vec<String> = (0..1203).map(|i| format!("imported line {i}")).collect();
        let rows: Vec<(&str, i64)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i as i64 + 2))
            .collect();
        let events = all_events(store).await.len();
        assert_eq!(
            store.import_messages(r.id, author, &rows).await.unwrap(),
            1204
        );
        assert_eq!(
            all_events(store).await.len(),
            events,
            "an import is no chat action"
        );
        assert_eq!(
            store.import_messages(r.id, author, &[]).await.unwrap(),
            1204
        );
        let last = store
            .read_history(r.id, author, &HistoryQuery::Last(2), 9)
            .await
            .unwrap();
        assert_eq!(seqs(&last), [1203, 1204]);
        assert_eq!(last[1].content, "imported line 1202");
        assert_eq!(last[1].author_uri, "sip:importer@example.test");
        let next = store
            .post_message(r.id, author, &Post::text("live two", &[]), 9)
            .await
            .unwrap();
        assert_eq!(next.seq, 1205);
        let found = store
            .search_history(&[r.id], author, "line 777", 10, 9)
            .await
            .unwrap();
        assert_eq!(seqs(&found), [779]);
        assert!(matches!(
            store.import_messages(r.id + 100, author, &rows[..1]).await,
            Err(StoreError::NotFound(_))
        ));
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_search_past_its_time_limit_is_stopped_and_still_recorded() {
    for mut engine in engines().await {
        let author = user(&engine.store, "searcher").await;
        let r = room(&engine.store, "Busy").await;
        let texts: Vec<String> = (0..3000).map(|i| format!("common word {i}")).collect();
        let rows: Vec<(&str, i64)> = texts.iter().map(|t| (t.as_str(), 1)).collect();
        engine
            .store
            .import_messages(r.id, author, &rows)
            .await
            .unwrap();
        // Every message matches: the statement steps through thousands of rows.
        let search = HistoryQuery::Search {
            text: "common word".into(),
            n: 3000,
        };
        // Within the default limit the same search answers.
        let found = read(&engine.store, r.id, author, search.clone()).await;
        assert_eq!(found.len(), 3000);

        // A limit already over stops the statement at SQLite's first progress check (a
        // few hundred steps in).
        engine
            .store
            .set_search_time_limit(std::time::Duration::ZERO);
        let store = &engine.store;
        let before = all_events(store).await.len();
        let got = store.read_history(r.id, author, &search, 8).await;
        assert!(
            matches!(got, Err(StoreError::SearchTimeLimit { limit_ms: 0 })),
            "{got:?}"
        );
        let got = store.search_history(&[r.id], author, "common", 10, 8).await;
        assert!(
            matches!(got, Err(StoreError::SearchTimeLimit { .. })),
            "{got:?}"
        );
        assert_eq!(
            all_events(store).await.len(),
            before + 2,
            "a stopped search was still asked for, and compliance sees it"
        );
        // Pages do not search: the limit does not touch them, and the connection the
        // stopped searches used serves the next one.
        assert_eq!(
            read(store, r.id, author, HistoryQuery::Last(3)).await.len(),
            3
        );
        let post = store
            .post_message(r.id, author, &Post::text("after", &[]), 9)
            .await
            .unwrap();
        assert_eq!(post.seq, 3001);
        engine.finish().await;
    }
}

#[tokio::test]
async fn compliance_events_written_straight_in_are_read_back_in_order() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let texts: Vec<String> = (0..1_200).map(|i| format!("line {i}")).collect();
        let events: Vec<NewComplianceEvent<'_>> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| NewComplianceEvent {
                kind: ComplianceKind::Chat,
                room_id: lobby.id,
                principal_id: alice,
                message_seq: Some(i as i64 + 1),
                content: text,
                at: i as i64,
            })
            .collect();
        store.import_compliance_events(&events).await.unwrap();
        let read = all_events(store).await;
        assert_eq!(read.len(), 1_200, "more rows than one statement holds");
        assert_eq!(
            (
                read[1_199].kind.as_str(),
                read[1_199].message_seq,
                read[1_199].content.as_str()
            ),
            ("chat", Some(1_200), "line 1199")
        );
        let unknown = NewComplianceEvent {
            room_id: lobby.id + 100,
            ..events[0]
        };
        assert!(matches!(
            store.import_compliance_events(&[events[1], unknown]).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(all_events(store).await.len(), 1_200, "all or nothing");
        engine.finish().await;
    }
}

/// A BACKCHAT row keeps whole messages up to its cap and says how many it left out; a first
/// message larger than the cap alone is cut at a character boundary.
#[test]
fn backchat_content_is_bounded() {
    use parlance_store::history::BACKCHAT_CONTENT_MAX_BYTES as MAX;
    let message = |seq: i64, content: String| StoredMessage {
        room_id: 1,
        seq,
        author_uri: "sip:bob@example.test".into(),
        posted_at: 0,
        content,
        alert: false,
        rtf: None,
    };
    let two = [message(1, "one\nline two".into()), message(2, "<b>".into())];
    assert_eq!(
        backchat_content(&two),
        "#1 sip:bob@example.test: one\nline two\n#2 sip:bob@example.test: <b>"
    );
    assert_eq!(backchat_content(&[]), "");

    let many: Vec<StoredMessage> = (1..=100).map(|i| message(i, "x".repeat(1000))).collect();
    let kept = backchat_content(&many);
    assert!(kept.len() <= MAX + 64, "{}", kept.len());
    let whole = kept.matches("#").count();
    assert!(whole > 0 && whole < 100);
    assert!(
        kept.ends_with(&format!("\n… {} more messages not kept", 100 - whole)),
        "{}",
        &kept[kept.len() - 60..]
    );

    let huge = [message(1, "é".repeat(MAX))];
    let cut = backchat_content(&huge);
    assert!(cut.len() <= MAX && cut.len() > MAX - 2);
    assert!(cut.starts_with("#1 sip:bob@example.test: é"));
}
