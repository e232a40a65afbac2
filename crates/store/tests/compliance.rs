//! The compliance exporter's part of the store every engine must show: the export cursor,
//! outbox pages read with their principals and rooms, and pruning of exported rows that
//! keeps the joins a stopped server left open findable.

mod common;

use common::{engines, room, user};
use parlance_store::StoreError;
use std::collections::BTreeMap;

use parlance_store::history::{
    ComplianceKind, CompliancePage, CompliancePrincipal, ComplianceRoom, Post,
};

#[tokio::test]
async fn the_cursor_moves_only_from_where_it_is() {
    for engine in engines().await {
        let store = &engine.store;
        assert_eq!(store.export_cursor().await.unwrap(), 0);
        store.move_export_cursor(0, 5, 1).await.unwrap();
        assert_eq!(store.export_cursor().await.unwrap(), 5);
        let got = store.move_export_cursor(0, 9, 2).await;
        assert!(
            matches!(
                got,
                Err(StoreError::ExportCursorMoved {
                    expected: 0,
                    found: 5
                })
            ),
            "{got:?}"
        );
        assert_eq!(store.export_cursor().await.unwrap(), 5);
        engine.finish().await;
    }
}

#[tokio::test]
async fn the_backlog_is_what_the_cursor_has_not_passed() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let before = store.compliance_backlog().await.unwrap();
        for i in 0..3 {
            store
                .post_message(lobby.id, alice, &Post::text("hello", &[]), i)
                .await
                .unwrap();
        }
        assert_eq!(store.compliance_backlog().await.unwrap(), before + 3);
        let newest = store.compliance_events(0, 1000).await.unwrap();
        let last = newest.last().unwrap().id;
        store.move_export_cursor(0, last, 9).await.unwrap();
        assert_eq!(store.compliance_backlog().await.unwrap(), 0);
        engine.finish().await;
    }
}

/// The export command writes its cursor while the server writes messages: a transaction
/// that reads before it writes waits for the other's lock, rather than failing with
/// "database is locked" because the other wrote after it began to read.
#[tokio::test]
async fn the_cursor_moves_while_another_process_writes() {
    for engine in engines().await {
        let server = &engine.store;
        let export = engine.beside().await;
        let alice = user(server, "alice").await;
        let lobby = room(server, "Lobby").await;
        let posts = async {
            for i in 0..300 {
                server
                    .post_message(lobby.id, alice, &Post::text("hello", &[]), i)
                    .await
                    .unwrap();
            }
        };
        let cursor = async {
            for i in 0..300 {
                export.move_export_cursor(i, i + 1, i).await.unwrap();
            }
        };
        tokio::join!(posts, cursor);
        assert_eq!(server.export_cursor().await.unwrap(), 300);
        export.close().await;
        engine.finish().await;
    }
}

#[tokio::test]
async fn a_page_names_its_principals_and_rooms_even_once_the_account_is_removed() {
    for engine in engines().await {
        let store = &engine.store;
        let (alice, bob) = (user(store, "alice").await, user(store, "bob").await);
        let (lobby, other) = (room(store, "Lobby").await, room(store, "Other").await);
        store
            .record_event(ComplianceKind::Join, lobby.id, alice, "", 1)
            .await
            .unwrap();
        store
            .post_message(lobby.id, alice, &Post::text("hello", &[]), 2)
            .await
            .unwrap();
        store
            .record_event(ComplianceKind::Join, other.id, bob, "", 3)
            .await
            .unwrap();
        store.remove_user("alice@example.test").await.unwrap();
        let mut pages = store.compliance_pages(0, 2);
        let page = pages.next().await.unwrap();
        assert_eq!(page.events.len(), 2);
        assert_eq!(page.events[1].message_seq, Some(1));
        // Only what the page's rows name, each once.
        assert_eq!(
            page.principals,
            BTreeMap::from([(
                alice,
                CompliancePrincipal {
                    uri: "sip:alice@example.test".into(),
                    display_name: String::new(),
                }
            )])
        );
        assert_eq!(
            page.rooms,
            BTreeMap::from([(
                lobby.id,
                ComplianceRoom {
                    guid: lobby.guid.clone(),
                    name: "Lobby".into(),
                }
            )])
        );
        let rest = pages.next().await.unwrap();
        assert_eq!(rest.events.len(), 1);
        assert_eq!(rest.principals.keys().collect::<Vec<_>>(), [&bob]);
        assert_eq!(rest.rooms[&other.id].name, "Other");
        assert_eq!(pages.next().await.unwrap(), CompliancePage::default());
        let after_first = store
            .compliance_pages(page.events[0].id, 1)
            .next()
            .await
            .unwrap();
        assert_eq!(after_first.events, page.events[1..]);
        assert_eq!(after_first.principals, page.principals);
        engine.finish().await;
    }
}

/// Pages carry their rows exactly, whatever the content holds (SQLite packs a page of
/// them into one value: separators, markup and line breaks must not confuse it), and a
/// page stops at its limit. (NUL, which PostgreSQL's text cannot hold, passes through
/// SQLite's page in the exporter's golden-file test.)
#[tokio::test]
async fn pages_carry_any_content_and_time_exactly() {
    let contents = [
        "",
        "a,b;c:d 7,2,3,,5;",
        "<b>&amp;</b> \"q\" 'a'\r\n\ttab",
        "bell\u{7}",
        "é 😀 \u{FFFE}\u{FFFF}",
        "12,34",
    ];
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby, <the> \"first\"").await;
        for (i, content) in contents.iter().enumerate() {
            let at = [i64::MIN + 1, -1, 0, 1, i64::MAX][i % 5] - i as i64 % 2;
            store
                .record_event(ComplianceKind::Backchat, lobby.id, alice, content, at)
                .await
                .unwrap();
        }
        let events = store.compliance_events(0, 100).await.unwrap();
        let page = store.compliance_pages(0, 100).next().await.unwrap();
        assert_eq!(page.events, events);
        assert_eq!(page.rooms[&lobby.id].name, "Lobby, <the> \"first\"");
        let mut pages = store.compliance_pages(events[1].id, 2);
        assert_eq!(pages.next().await.unwrap().events, events[2..4]);
        assert_eq!(pages.next().await.unwrap().events, events[4..]);
        assert!(pages.next().await.unwrap().events.is_empty());
        engine.finish().await;
    }
}

/// Read page after page, the outbox comes whole and in order, each page with its own
/// names, over more pages than SQLite reads in one snapshot; past the end, the same reader
/// finds what is recorded later.
#[tokio::test]
async fn pages_read_one_after_another_hold_every_row_once() {
    for engine in engines().await {
        let store = &engine.store;
        let (alice, bob) = (user(store, "alice").await, user(store, "bob").await);
        let lobby = room(store, "Lobby").await;
        for i in 0..75 {
            let who = if i % 3 == 0 { bob } else { alice };
            store
                .record_event(ComplianceKind::Chat, lobby.id, who, &format!("line {i}"), i)
                .await
                .unwrap();
        }
        let all = store.compliance_events(0, 1000).await.unwrap();
        let mut pages = store.compliance_pages(0, 1);
        let mut read = Vec::new();
        loop {
            let page = pages.next().await.unwrap();
            if page.events.is_empty() {
                break;
            }
            assert_eq!(page.events.len(), 1);
            let mut named: Vec<i64> = page.events.iter().map(|e| e.principal_id).collect();
            named.sort_unstable();
            named.dedup();
            assert_eq!(page.principals.keys().copied().collect::<Vec<_>>(), named);
            assert_eq!(page.rooms.keys().collect::<Vec<_>>(), [&lobby.id]);
            read.extend(page.events);
        }
        assert_eq!(read, all);
        store
            .record_event(ComplianceKind::Part, lobby.id, alice, "", 99)
            .await
            .unwrap();
        let later = pages.next().await.unwrap();
        assert_eq!(later.events.len(), 1);
        assert_eq!(later.events[0].content, "");
        assert!(later.events[0].id > all[74].id);
        assert!(pages.next().await.unwrap().events.is_empty());
        engine.finish().await;
    }
}

#[tokio::test]
async fn pruning_ends_at_the_first_row_not_old_enough() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        // The clock was stepped back after the second row: the third is dated before it.
        for at in [1, 10, 2, 3] {
            store
                .record_event(ComplianceKind::Backchat, lobby.id, alice, "", at)
                .await
                .unwrap();
        }
        let all = store.compliance_events(0, 100).await.unwrap();
        let exported = all[3].id;
        store.move_export_cursor(0, exported, 11).await.unwrap();

        // Recorded before 5: the first, third and fourth; the second is not, and the rows
        // after it wait for it.
        assert_eq!(store.prune_exported(exported, 5).await.unwrap(), 1);
        let left: Vec<i64> = (store.compliance_events(0, 100).await.unwrap().iter())
            .map(|e| e.at)
            .collect();
        assert_eq!(left, [10, 2, 3]);
        assert_eq!(store.prune_exported(exported, 11).await.unwrap(), 3);
        engine.finish().await;
    }
}

#[tokio::test]
async fn pruning_keeps_open_joins_and_unexported_rows_and_never_reuses_ids() {
    for mut engine in engines().await {
        let store = &engine.store;
        let (alice, bob) = (user(store, "alice").await, user(store, "bob").await);
        let lobby = room(store, "Lobby").await;
        let event = |kind, who, at| store.record_event(kind, lobby.id, who, "", at);
        event(ComplianceKind::Join, alice, 1).await.unwrap();
        event(ComplianceKind::Join, bob, 2).await.unwrap();
        store
            .post_message(lobby.id, alice, &Post::text("hi", &[]), 3)
            .await
            .unwrap();
        event(ComplianceKind::Part, alice, 4).await.unwrap();
        event(ComplianceKind::Join, alice, 5).await.unwrap();
        event(ComplianceKind::Backchat, bob, 6).await.unwrap();
        let all = store.compliance_events(0, 100).await.unwrap();
        let exported = all[4].id; // up to alice's second join
        store.move_export_cursor(0, exported, 7).await.unwrap();

        // Only rows recorded before 3 may go: the two joins, which wait for their parts.
        assert_eq!(store.prune_exported(exported, 3).await.unwrap(), 0);
        // Everything exported may go: the chat, alice's first join with its part. Bob's
        // join and alice's second are open; the backchat is not exported.
        assert_eq!(store.prune_exported(exported, i64::MAX).await.unwrap(), 3);
        let left: Vec<(String, i64)> = store
            .compliance_events(0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind.to_string(), e.at))
            .collect();
        assert_eq!(
            left,
            [
                ("join".into(), 2),
                ("join".into(), 5),
                ("backchat".into(), 6)
            ]
        );
        // A restart after a crash still finds both open joins.
        assert_eq!(store.close_open_joins("crash", 8).await.unwrap(), 2);

        // With every row gone, a new row still gets an id past every one given before.
        let last = store
            .compliance_events(0, 100)
            .await
            .unwrap()
            .last()
            .unwrap()
            .id;
        store.move_export_cursor(exported, last, 9).await.unwrap();
        store.prune_exported(last, i64::MAX).await.unwrap();
        assert!(store.compliance_events(0, 100).await.unwrap().is_empty());
        engine.reopen().await;
        let store = &engine.store;
        store
            .record_event(ComplianceKind::Join, lobby.id, alice, "", 10)
            .await
            .unwrap();
        let fresh = store.compliance_events(last, 10).await.unwrap();
        assert_eq!(fresh.len(), 1, "the new row is after the cursor");
        engine.finish().await;
    }
}

/// A reader reads every row once: over spans of ids whose rows are gone (a room deleted
/// with its events), and when rows are recorded while it reads, whatever snapshot each
/// page was read in.
#[tokio::test]
async fn pages_skip_gaps_and_miss_nothing_recorded_while_they_are_read() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let (lobby, gone) = (room(store, "Lobby").await, room(store, "Gone").await);
        let record =
            |room: i64, at: i64| store.record_event(ComplianceKind::Backchat, room, alice, "", at);
        for (room, at) in [(lobby.id, 1), (gone.id, 2), (gone.id, 3), (gone.id, 4)] {
            record(room, at).await.unwrap();
        }
        for at in 5..8 {
            record(lobby.id, at).await.unwrap();
        }
        store.delete_room(gone.id).await.unwrap();

        let mut pages = store.compliance_pages(0, 2);
        let mut read = Vec::new();
        // The first page is read, and the ones after it may be read ahead, before these.
        let first = pages.next().await.unwrap();
        read.extend(first.events.iter().map(|e| e.at));
        for at in 8..11 {
            record(lobby.id, at).await.unwrap();
        }
        loop {
            let page = pages.next().await.unwrap();
            if page.events.is_empty() {
                // Once more: the end as the last page found it, then what came since.
                let page = pages.next().await.unwrap();
                if page.events.is_empty() {
                    break;
                }
                read.extend(page.events.iter().map(|e| e.at));
                continue;
            }
            read.extend(page.events.iter().map(|e| e.at));
        }
        assert_eq!(read, [1, 5, 6, 7, 8, 9, 10]);
        engine.finish().await;
    }
}
