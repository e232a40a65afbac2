//! `Store::migrate`: a populated SQLite installation copied into PostgreSQL reads back the
//! same through every engine method the test asks, and carries on where it left off.

mod common;

use common::uploads::uploaded;
use common::{REALM, key, room, scratch_dir, user};
use parlance_store::history::{ComplianceKind, HistoryQuery, Post};
use parlance_store::retention::HoldTarget;
use parlance_store::rooms::Role;
use parlance_store::signed_in::SignedIn;
use parlance_store::{Store, StoreError};

/// Everything a store's reads show of the installation, in one comparable value.
async fn snapshot(store: &Store, rooms: &[i64], alice: i64) -> String {
    let mut out = Vec::new();
    out.push(format!("{:?}", store.users().await.unwrap()));
    out.push(format!("{:?}", store.installation().await.unwrap()));
    out.push(format!("{:?}", store.signed_in().await.unwrap()));
    out.push(format!("{:?}", store.last_sign_ins().await.unwrap()));
    out.push(format!("{:?}", store.categories().await.unwrap()));
    let listed: Vec<_> = store
        .rooms()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.room)
        .collect();
    out.push(format!("{listed:?}"));
    for &r in rooms {
        out.push(format!("{:?}", store.role_holders(r).await.unwrap()));
        out.push(format!("{:?}", store.room_files(r).await.unwrap()));
        out.push(format!("{:?}", store.audit_for_room(r, 100).await.unwrap()));
    }
    out.push(format!("{:?}", store.invitations(alice, 0).await.unwrap()));
    out.push(format!(
        "{:?}",
        store.preference(alice, "tabs").await.unwrap()
    ));
    out.push(format!(
        "{:?}",
        store.access_changes_after(0, 1_000).await.unwrap()
    ));
    out.push(format!("{:?}", store.legal_holds(true).await.unwrap()));
    out.push(format!("{:?}", store.category_retentions().await.unwrap()));
    out.push(format!("{:?}", store.export_cursor().await.unwrap()));
    out.push(format!(
        "{:?}",
        store.compliance_pages(0, 10_000).next().await.unwrap()
    ));
    out.join("\n")
}

#[tokio::test]
async fn a_populated_sqlite_store_moves_to_postgres_whole() {
    let dir = scratch_dir();
    let from = format!("sqlite:{}", dir.join("parlance.db").display());
    let source = Store::open(&from).await.unwrap();
    let alice = user(&source, "alice").await;
    let bob = user(&source, "bob").await;
    let gone = user(&source, "gone").await;
    source.set_admin("alice@example.test", true).await.unwrap();
    source.remove_user("gone@example.test").await.unwrap();
    let lobby = room(&source, "Lobby").await;
    let quiet = room(&source, "Quiet").await;
    source
        .set_role(lobby.id, bob, Role::Manager, true)
        .await
        .unwrap();
    source
        .set_category_retention(lobby.category_id, Some(30))
        .await
        .unwrap();
    let file = uploaded(&source, alice, lobby.id, "a1b2.txt", 12).await;
    for i in 0..2_500 {
        let (author, text) = if i % 3 == 0 {
            (bob, "Déploiement vendredi")
        } else {
            (alice, "lunch at noon")
        };
        source
            .post_message(
                lobby.id,
                author,
                &Post::text(&format!("{text} {i}"), &[]),
                i,
            )
            .await
            .unwrap();
    }
    source
        .post_message(
            lobby.id,
            gone,
            &Post::text("linking", &[file.name.as_str()]),
            3_000,
        )
        .await
        .ok();
    source
        .post_message(
            quiet.id,
            alice,
            &Post {
                alert: true,
                ..Post::text("quiet one", &[])
            },
            4_000,
        )
        .await
        .unwrap();
    source
        .record_installation("example.test", &key().check_value())
        .await
        .unwrap();
    source
        .set_persistent_chat("bob@example.test", false)
        .await
        .unwrap();
    let signed_in = SignedIn {
        connection: 7,
        account: "sip:alice@example.test".into(),
        transport: "tls".into(),
        remote: "192.0.2.1:50000".into(),
        since: 1_700_000_000,
    };
    source.note_signed_in(&[], &[signed_in]).await.unwrap();
    source
        .record_event(ComplianceKind::Join, lobby.id, alice, "", 5_000)
        .await
        .unwrap();
    source.invite(quiet.id, &[alice]).await.unwrap();
    source
        .set_preference(alice, "tabs", "<tabs/>", 10_000)
        .await
        .unwrap();
    source
        .place_hold(HoldTarget::User(bob), "case 7", "root", 6_000)
        .await
        .unwrap();
    // The exporter archived and pruned the first rows: their ids must never come back.
    let last = source
        .compliance_events(0, 10)
        .await
        .unwrap()
        .last()
        .unwrap()
        .id;
    source.move_export_cursor(0, last, 7_000).await.unwrap();
    source.prune_exported(last, i64::MAX).await.unwrap();
    let before = snapshot(&source, &[lobby.id, quiet.id], alice).await;
    let highest_outbox = source
        .compliance_events(0, 10_000)
        .await
        .unwrap()
        .last()
        .unwrap()
        .id;
    source.close().await;

    let to = common::postgres::fresh_database().await;
    let copied = Store::migrate(&from, &to).await.unwrap();
    let count = |table: &str| copied.iter().find(|c| c.table == table).unwrap().rows;
    assert_eq!(count("messages"), 2_501 + 1);
    assert_eq!(count("principals"), 3);
    assert_eq!(count("files"), 1);
    assert!(copied.iter().all(|c| c.checksum.len() == 32));

    let target = Store::open(&to).await.unwrap();
    assert!(matches!(target, Store::Postgres(_)));
    assert_eq!(
        snapshot(&target, &[lobby.id, quiet.id], alice).await,
        before
    );
    // Sign-in secrets moved sealed as they were.
    assert!(
        target
            .verify_password("alice@example.test", "pw")
            .await
            .unwrap()
    );
    assert!(
        target
            .nt_hash("bob@example.test", &key())
            .await
            .unwrap()
            .is_some()
    );
    let history = target
        .read_history(lobby.id, alice, &HistoryQuery::Last(3), 8_000)
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [2_499, 2_500, 2_501]
    );
    let found = target
        .search_history(
            &[lobby.id, quiet.id],
            alice,
            "deploiement VENDREDI 2499",
            10,
            8_000,
        )
        .await
        .unwrap();
    assert_eq!(found.iter().map(|m| m.seq).collect::<Vec<_>>(), [2_500]);
    assert!(target.file_linked(file.id).await.unwrap());
    let quiet_history = target
        .read_history(quiet.id, alice, &HistoryQuery::Last(1), 8_000)
        .await
        .unwrap();
    assert!(quiet_history[0].alert, "{quiet_history:?}");

    // Ids and sequence numbers continue after the copied ones.
    let next = target
        .post_message(lobby.id, alice, &Post::text("after the move", &[]), 9_000)
        .await
        .unwrap();
    assert_eq!(next.seq, 2_502);
    let events = target.compliance_events(0, 10_000).await.unwrap();
    assert!(
        events.last().unwrap().id > highest_outbox + 2,
        "{:?}",
        events.last()
    );
    let carol = user(&target, "carol").await;
    assert!(carol > gone);
    target
        .add_user("dave@example.test", "", "pw", REALM, &key())
        .await
        .unwrap();
    target.close().await;

    // A target holding anything is refused, and left as it was.
    let again = Store::migrate(&from, &to).await;
    assert!(
        matches!(&again, Err(StoreError::Invalid { .. })),
        "{again:?}"
    );
    let target = Store::open(&to).await.unwrap();
    assert_eq!(target.users().await.unwrap().len(), 4);
    target.close().await;
    common::postgres::drop_database(&to).await;

    // Neither a missing source nor engines the wrong way round.
    let missing = format!("sqlite:{}", dir.join("missing.db").display());
    assert!(matches!(
        Store::migrate(&missing, &to).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(!dir.join("missing.db").exists());
    assert!(matches!(
        Store::migrate(&to, &from).await,
        Err(StoreError::Invalid { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
