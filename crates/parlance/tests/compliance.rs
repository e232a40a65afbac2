//! `parlance compliance export`, run as a process of its own on a data directory: the
//! archive it writes, `--until`, and the lock that keeps it from racing the server's export.

mod common;

use std::path::Path;
use std::process::Command;

use common::{DataDir, admin, outcome, parlance};
use parlance_store::Store;

fn export(data: &DataDir, args: &[&str]) -> (bool, String) {
    let out = parlance(&data.0)
        .args(["compliance", "export"])
        .args(args)
        .output()
        .unwrap();
    outcome(out)
}

/// 2026-01-31T00:00:00Z, in Unix nanoseconds.
const JAN_31: i64 = 1_769_817_600_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_archives_up_to_a_moment_then_the_rest_and_waits_for_no_one() {
    let data = DataDir::new("compliance-cli");
    admin(&data.0, &["init"]);
    admin(&data.0, &["user", "add", "alice@example.test"]);
    admin(&data.0, &["category", "add", "Eng"]);
    admin(&data.0, &["room", "add", "Lobby", "--category", "Eng"]);
    let store = Store::open_sqlite(&data.0.join("parlance.db"))
        .await
        .unwrap();
    let alice = store.user("alice@example.test").await.unwrap().unwrap().id;
    let lobby = store.find_room("Lobby").await.unwrap().unwrap().room.id;
    for (text, at) in [
        ("january", JAN_31 - 1),
        ("february", JAN_31 + 86_400_000_000_000),
    ] {
        store
            .post_message(
                lobby,
                alice,
                &parlance_store::history::Post::text(text, &[]),
                at,
            )
            .await
            .unwrap();
    }
    store.close().await;

    let (ok, text) = export(&data, &["--until", "2026-01-31"]);
    assert!(ok, "{text}");
    assert!(text.contains("exported 1 events in 1 files"), "{text}");
    let archive = data.0.join("compliance");
    let first: Vec<_> = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    assert_eq!(first.len(), 1);
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../compliance/schema/conversations.xsd");
    let valid = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(&first[0])
        .status()
        .expect("xmllint (Debian libxml2-utils; scripts/test installs it)");
    assert!(valid.success(), "{} is not valid", first[0].display());
    let xml = std::fs::read_to_string(&first[0]).unwrap();
    assert!(xml.contains("content=\"january\"") && !xml.contains("february"));
    assert!(
        text.contains(&format!("wrote {}", first[0].display())),
        "{text}"
    );

    // The server's export holds the lock beside the database: the command stops at once.
    let lock = std::fs::File::create(data.0.join("compliance-export.lock")).unwrap();
    lock.try_lock().unwrap();
    let (ok, text) = export(&data, &[]);
    assert!(
        !ok && text.contains("another compliance export is running"),
        "{text}"
    );
    lock.unlock().unwrap();

    let (ok, text) = export(&data, &[]);
    assert!(ok, "{text}");
    assert!(text.contains("exported 1 events in 1 files"), "{text}");
    let (ok, text) = export(&data, &["--until", "yesterday-ish"]);
    assert!(!ok && text.contains("2026-01-31"), "{text}");
}
