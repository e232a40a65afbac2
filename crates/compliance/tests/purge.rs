//! Purges are archived like any event: the rows a retention or room purge writes come out
//! as `PURGE` messages of the room, after the messages they removed, in files the XSD
//! accepts.

mod common;

use common::{Fixture, archived_messages, room, user};

#[tokio::test]
async fn a_purge_is_archived_after_what_it_removed() {
    let f = Fixture::new().await;
    let alice = user(&f.store, "alice", "Alice").await;
    let lobby = room(&f.store, "Lobby").await;
    for (text, at) in [("old <one>", 1_000_000), ("old two", 2_000_000)] {
        f.store
            .post_message(
                lobby.id,
                alice,
                &parlance_store::history::Post::text(text, &[]),
                at,
            )
            .await
            .unwrap();
    }
    let purged = f
        .store
        .purge_history(
            lobby.id,
            Some(3_000_000),
            100,
            "retention 30 days",
            4_000_000,
        )
        .await
        .unwrap();
    assert_eq!(purged.messages, 2);

    let report = f.exporter(f.settings()).export(None).await.unwrap();
    assert_eq!(report.events, 3);
    let archived: Vec<(String, String)> = archived_messages(&f.out())
        .into_iter()
        .map(|m| (m.kind, m.content))
        .collect();
    assert_eq!(
        archived,
        [
            ("CHAT".to_owned(), "old <one>".to_owned()),
            ("CHAT".to_owned(), "old two".to_owned()),
            (
                "PURGE".to_owned(),
                "retention 30 days: 2 messages, seq 1-2".to_owned()
            ),
        ]
    );
    f.finish().await;
}
