//! The exporter against a real store and file store: the XML (golden files, checked against
//! the XSD), JSON Lines, attachments and manifests, and the faults an operator meets.

mod common;

use std::path::Path;

use common::{
    DOMAIN, Fixture, archived_messages, assert_valid, download, manifest_entries, room, upload,
    user,
};
use parlance_compliance::{Adapter, Details, ExportError};
use parlance_store::history::{ComplianceKind, HistoryQuery};
use parlance_store::rooms::Room;

/// The reference's example instant (xccos.md §6): 2008-06-04T20:15:40.9535482Z.
const T0: i64 = 1_212_610_540_953_548_200;
/// Markup, quotes, line breaks, a tab and control characters XML 1.0 cannot carry.
const TRICKY: &str = "<b>bold</b> & \"quoted\" 'apos'\r\nline two\ttabbed\u{7}bell\u{0}nul";
const ATTACHED: &[u8] = b"quarterly numbers\x00\xff binary and all";

/// Every kind of event, at T0 plus a few milliseconds each; returns the room and the
/// uploaded file's repository name.
async fn every_kind(f: &Fixture) -> (Room, String) {
    let store = &f.store;
    let alice = user(store, "alice", "Alice <Admin> & \"Co\"").await;
    let bob = user(store, "bob", "Bob").await;
    let lobby = room(store, "Lobby & <Friends>").await;
    let at = |ms: i64| T0 + ms * 1_000_000;
    store
        .record_event(ComplianceKind::Join, lobby.id, alice, "", at(0))
        .await
        .unwrap();
    store
        .post_message(
            lobby.id,
            alice,
            &parlance_store::history::Post::text(TRICKY, &[]),
            at(1),
        )
        .await
        .unwrap();
    store
        .record_event(ComplianceKind::Join, lobby.id, bob, "", at(2))
        .await
        .unwrap();
    // bob reads the history: the BACKCHAT row holds what he was shown, TRICKY included.
    store
        .read_history(lobby.id, bob, &HistoryQuery::Last(25), at(3))
        .await
        .unwrap();
    let file = upload(f, &lobby, alice, "numbers.xlsx", ATTACHED, at(4)).await;
    download(f, bob, &file, at(5)).await;
    store
        .record_event(ComplianceKind::Part, lobby.id, bob, "", at(6))
        .await
        .unwrap();
    (lobby, file.name)
}

/// `path`'s text with the random GUIDs and names replaced by fixed ones.
fn normalized(path: &Path, room: &Room, file: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .replace(&room.guid, "ROOM-GUID")
        .replace(file, "FILE-GUID.bin")
}

/// Compares with the golden file, or writes it when `UPDATE_GOLDEN` is set.
fn assert_golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(actual, expected, "{name} differs from the golden file");
}

/// The archived messages' contents, in time order.
fn contents(out: &Path) -> Vec<String> {
    archived_messages(out)
        .into_iter()
        .map(|m| m.content)
        .collect()
}

/// The single output file with `extension` in `out`.
fn only_output(out: &Path, extension: &str) -> std::path::PathBuf {
    let found: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

#[tokio::test]
async fn every_event_type_comes_out_as_the_original_xml_with_its_attachment() {
    let f = Fixture::new().await;
    let (lobby, file) = every_kind(&f).await;
    let report = f.exporter(f.settings()).export(None).await.unwrap();
    assert_eq!(
        (
            report.events,
            report.files,
            report.attachments,
            report.missing_attachments
        ),
        (7, 1, 1, 0)
    );

    let xml = only_output(&f.out(), "xml");
    assert_valid(&xml);
    assert_golden("every_kind.xml", &normalized(&xml, &lobby, &file));
    let manifest = only_output(&f.out(), "ATTACH");
    assert_valid(&manifest);
    assert_golden("every_kind.ATTACH", &normalized(&manifest, &lobby, &file));

    // Read back, the content is the chat text exactly, but for the characters XML cannot
    // carry, which are U+FFFD.
    let messages = archived_messages(&f.out());
    let chat = messages.iter().find(|m| m.kind == "CHAT").unwrap();
    assert_eq!(chat.content, TRICKY.replace(['\u{7}', '\u{0}'], "\u{FFFD}"));
    // The attachment is the posted file, decrypted, byte for byte.
    let entries = manifest_entries(&f.out());
    let copy = f.out().join(&entries[0]["path"]);
    assert_eq!(std::fs::read(copy).unwrap(), ATTACHED);

    // Everything exported is pruned but bob's part and its join (pairs) and alice's open
    // join: the outbox keeps only that join.
    let left = f.store.compliance_events(0, 100).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].kind, "join");
    // A second run finds nothing new and writes nothing.
    let again = f.exporter(f.settings()).export(None).await.unwrap();
    assert_eq!((again.events, again.files), (0, 0));
    f.finish().await;
}

#[tokio::test]
async fn json_lines_and_the_options_for_rooms_users_and_files() {
    let f = Fixture::new().await;
    let (lobby, file) = every_kind(&f).await;
    let alice = f.store.user("alice@example.test").await.unwrap().unwrap();
    let kitchen = room(&f.store, "Kitchen").await;
    f.store
        .post_message(
            kitchen.id,
            alice.id,
            &parlance_store::history::Post::text("in the kitchen", &[]),
            T0 + 10_000_000,
        )
        .await
        .unwrap();
    let mut settings = f.settings();
    settings.adapter = Adapter::JsonLines;
    settings.details = Details {
        rooms: false,
        users: false,
    };
    settings.one_room_per_file = true;
    let report = f.exporter(settings).export(None).await.unwrap();
    assert_eq!((report.events, report.files), (8, 2));

    let mut lines = Vec::new();
    for entry in std::fs::read_dir(f.out()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(&path).unwrap();
            let values: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            // One room per file.
            let channels: std::collections::BTreeSet<_> = values
                .iter()
                .map(|v| v["Channel"]["uri"].to_string())
                .collect();
            assert_eq!(channels.len(), 1, "{}", path.display());
            lines.extend(values);
        }
    }
    lines.sort_by_key(|v| v["event"].as_i64().unwrap());
    let kinds: Vec<&str> = lines.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "JOIN",
            "CHAT",
            "JOIN",
            "BACKCHAT",
            "FILEUPLOAD",
            "FILEDOWNLOAD",
            "PART",
            "CHAT"
        ]
    );
    // JSON carries every character exactly.
    assert_eq!(lines[1]["content"], TRICKY);
    assert_eq!(lines[1]["id"], 1);
    assert_eq!(lines[4]["content"], file.as_str());
    // Without room and user details: the room is named by its URI, the sender by id and uri.
    let channel = format!("ma-chan://{DOMAIN}/{}", lobby.guid);
    assert_eq!(lines[0]["Channel"]["name"], channel.as_str());
    assert_eq!(
        lines[0]["Sender"],
        serde_json::json!({"id": alice.id, "uri": "alice@example.test"})
    );
    assert_eq!(
        lines[0]["DateTimeUTC"],
        serde_json::json!({
            "since1970": 1_212_610_540_953_i64,
            "string": "2008-06-04T20:15:40.9535482Z",
            "long": 633_482_073_409_535_482_i64
        })
    );
    // The manifest sits beside the room's file that has the upload.
    assert_eq!(manifest_entries(&f.out()).len(), 1);
    f.finish().await;
}

#[tokio::test]
async fn files_removed_before_the_export_are_listed_as_missing() {
    let f = Fixture::new().await;
    let alice = user(&f.store, "alice", "Alice").await;
    let lobby = room(&f.store, "Lobby").await;
    // One whose record and bytes went (parlance file remove), one whose bytes alone went.
    let removed = upload(&f, &lobby, alice, "gone.txt", b"gone", T0).await;
    let lost = upload(&f, &lobby, alice, "lost.txt", b"lost", T0 + 1).await;
    let kept = upload(&f, &lobby, alice, "kept.txt", b"kept", T0 + 2).await;
    f.store.remove_file(removed.id).await.unwrap();
    f.files.remove(&lobby.guid, &removed.name).await.unwrap();
    f.files.remove(&lobby.guid, &lost.name).await.unwrap();

    let report = f.exporter(f.settings()).export(None).await.unwrap();
    assert_eq!(
        (
            report.events,
            report.attachments,
            report.missing_attachments
        ),
        (3, 1, 2)
    );
    // Every FILEUPLOAD is archived all the same.
    let messages = archived_messages(&f.out());
    assert_eq!(messages.len(), 3);
    let entries = manifest_entries(&f.out());
    let status: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["content"].as_str(), e["status"].as_str()))
        .collect();
    assert_eq!(
        status,
        [
            (removed.name.as_str(), "missing"),
            (lost.name.as_str(), "missing"),
            (kept.name.as_str(), "copied")
        ]
    );
    assert_eq!(entries[0]["reason"], "removed from the room");
    assert_eq!(entries[1]["reason"], "not in the file store");
    assert_eq!(entries[1]["originalName"], "lost.txt");
    f.finish().await;
}

#[tokio::test]
async fn a_removed_users_events_are_archived_under_their_address() {
    let f = Fixture::new().await;
    let carol = user(&f.store, "carol", "Carol").await;
    let lobby = room(&f.store, "Lobby").await;
    f.store
        .post_message(
            lobby.id,
            carol,
            &parlance_store::history::Post::text("before I go", &[]),
            T0,
        )
        .await
        .unwrap();
    f.store.remove_user("carol@example.test").await.unwrap();
    f.exporter(f.settings()).export(None).await.unwrap();
    let messages = archived_messages(&f.out());
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].sender_uri, "carol@example.test");
    assert_eq!(messages[0].content, "before I go");
    f.finish().await;
}

#[tokio::test]
async fn an_unusable_output_directory_moves_nothing_and_the_next_run_catches_up() {
    let f = Fixture::new().await;
    let alice = user(&f.store, "alice", "Alice").await;
    let lobby = room(&f.store, "Lobby").await;
    f.store
        .post_message(
            lobby.id,
            alice,
            &parlance_store::history::Post::text("one", &[]),
            T0,
        )
        .await
        .unwrap();

    // Missing.
    std::fs::remove_dir(f.out()).unwrap();
    let got = f.exporter(f.settings()).export(None).await;
    assert!(matches!(got, Err(ExportError::Directory { .. })), "{got:?}");
    // A file where the directory should be.
    std::fs::write(f.out(), b"not a directory").unwrap();
    let got = f.exporter(f.settings()).export(None).await;
    assert!(matches!(got, Err(ExportError::Directory { .. })), "{got:?}");
    std::fs::remove_file(f.out()).unwrap();
    std::fs::create_dir(f.out()).unwrap();
    // The output file's name cannot be written (a directory is in the way).
    let blocker = f.out().join(format!(
        "conversations-{:012}.xml",
        f.store.compliance_events(0, 1).await.unwrap()[0].id
    ));
    std::fs::create_dir(&blocker).unwrap();
    let got = f.exporter(f.settings()).export(None).await;
    assert!(matches!(got, Err(ExportError::Write { .. })), "{got:?}");
    assert_eq!(f.store.export_cursor().await.unwrap(), 0, "nothing moved");

    std::fs::remove_dir(&blocker).unwrap();
    f.store
        .post_message(
            lobby.id,
            alice,
            &parlance_store::history::Post::text("two", &[]),
            T0 + 1,
        )
        .await
        .unwrap();
    let report = f.exporter(f.settings()).export(None).await.unwrap();
    assert_eq!(report.events, 2);
    let contents = contents(&f.out());
    assert_eq!(contents, ["one", "two"]);
    f.finish().await;
}

#[tokio::test]
async fn one_exporter_at_a_time_and_until_stops_at_the_first_later_event() {
    let f = Fixture::new().await;
    let alice = user(&f.store, "alice", "Alice").await;
    let lobby = room(&f.store, "Lobby").await;
    for (i, text) in ["early", "on time", "late"].iter().enumerate() {
        f.store
            .post_message(
                lobby.id,
                alice,
                &parlance_store::history::Post::text(text, &[]),
                T0 + i as i64 * 1_000_000_000,
            )
            .await
            .unwrap();
    }
    // Another exporter holds the lock.
    let held = std::fs::File::create(f.dir.join("compliance.lock")).unwrap();
    held.try_lock().unwrap();
    let got = f.exporter(f.settings()).export(None).await;
    assert!(matches!(got, Err(ExportError::Busy(_))), "{got:?}");
    held.unlock().unwrap();

    let until = jiff::Timestamp::from_nanosecond(i128::from(T0 + 1_000_000_000)).unwrap();
    let report = f.exporter(f.settings()).export(Some(until)).await.unwrap();
    assert_eq!(report.events, 2);
    let report = f.exporter(f.settings()).export(None).await.unwrap();
    assert_eq!(report.events, 1);
    let contents = contents(&f.out());
    assert_eq!(contents, ["early", "on time", "late"]);
    f.finish().await;
}

#[tokio::test]
async fn a_clock_stepped_back_keeps_outbox_order_and_spans_earliest_to_latest() {
    let f = Fixture::new().await;
    let alice = user(&f.store, "alice", "Alice").await;
    let lobby = room(&f.store, "Lobby").await;
    for (text, at) in [
        ("first", T0 + 10_000),
        ("second", T0),
        ("third", T0 + 5_000),
    ] {
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
    f.exporter(f.settings()).export(None).await.unwrap();
    let output = only_output(&f.out(), "xml");
    assert_valid(&output);
    let xml = std::fs::read_to_string(output).unwrap();
    let order: Vec<usize> = ["first", "second", "third"]
        .iter()
        .map(|t| {
            xml.find(&format!("<Message type=\"CHAT\" content=\"{t}\""))
                .unwrap()
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "outbox order");
    let ticks = |at: i64| at / 100 + 621_355_968_000_000_000;
    assert!(xml.contains(&format!("<StartTimeUTC since1970=\"1212610540953\" string=\"2008-06-04T20:15:40.9535482Z\" long=\"{}\"/>", ticks(T0))));
    assert!(
        xml.contains(&format!(
            "long=\"{}\"/>\n  </Conversation>",
            ticks(T0 + 10_000)
        )),
        "{xml}"
    );
    f.finish().await;
}
