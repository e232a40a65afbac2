//! `kill -9` at each point of an export, then a run to the end: every event is in the
//! archive exactly once, every attachment whole.
//!
//! The exporter killed is a child process: this test binary run again with
//! `PARLANCE_EXPORT_CHILD` set, so that only `child_exporter` runs in it. It exports the
//! fixture's data directory and, at the chosen step of its progress, says so on stdout and
//! waits to be killed. The production binary has no part in it.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use common::{Fixture, archived_messages, manifest_entries, room, upload, user};
use parlance_compliance::{Adapter, ExportSettings, Progress, Step};
use parlance_store::history::ComplianceKind;
use parlance_store::rooms::Room;

const CHILD: &str = "PARLANCE_EXPORT_CHILD";
const STOP_AT: &str = "PARLANCE_EXPORT_STOP_AT";
const STOPPED: &str = "STOPPED AT";
/// Set for the layout with one JSON Lines file per room.
const PER_ROOM: &str = "PARLANCE_EXPORT_PER_ROOM";

/// Waits, forever, at the `n`th step named `name`.
struct StopAt {
    name: String,
    n: u32,
    seen: AtomicU32,
}

fn step_name(step: Step<'_>) -> &'static str {
    match step {
        Step::Written(_) => "written",
        Step::Synced(_) => "synced",
        Step::Published(_) => "published",
        Step::AttachmentCopied(_) => "attachment",
        Step::Durable { .. } => "durable",
        Step::Committed { .. } => "committed",
    }
}

impl Progress for StopAt {
    fn step(&self, step: Step<'_>) {
        if step_name(step) == self.name && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.n {
            println!("{STOPPED} {} {step:?}", self.name);
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
    }
}

/// The child's side: does nothing unless spawned by `crash_at`.
#[tokio::test]
async fn child_exporter() {
    let (Ok(dir), Ok(stop)) = (std::env::var(CHILD), std::env::var(STOP_AT)) else {
        return;
    };
    let (name, n) = stop.split_once(':').unwrap();
    let f = Fixture::open(PathBuf::from(dir)).await;
    let mut settings = layout(&f, std::env::var_os(PER_ROOM).is_some());
    settings.batch_events = 4;
    let progress = Arc::new(StopAt {
        name: name.into(),
        n: n.parse().unwrap(),
        seen: AtomicU32::new(0),
    });
    f.exporter(settings)
        .with_progress(progress)
        .export(None)
        .await
        .unwrap();
    println!("FINISHED");
}

/// Runs the child exporter on `f`'s data directory and kills it (SIGKILL) at the `n`th
/// `step`. Returns false when it finished before getting there.
fn crash_at(f: &Fixture, per_room: bool, step: &str, n: u32) -> bool {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "child_exporter",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &f.dir)
        .env(STOP_AT, format!("{step}:{n}"))
        .stdout(Stdio::piped());
    if per_room {
        command.env(PER_ROOM, "1");
    }
    let mut child = command.spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stopped = false;
    for line in stdout.lines() {
        let line = line.unwrap();
        if line.contains(STOPPED) {
            stopped = true;
            break;
        }
    }
    // Child::kill is SIGKILL: no destructor, no flush, no unlock but the kernel's.
    child.kill().unwrap();
    child.wait().unwrap();
    stopped
}

/// One XML file per batch, or one JSON Lines file per room and batch.
fn layout(f: &Fixture, per_room: bool) -> ExportSettings {
    let mut settings = f.settings();
    if per_room {
        settings.one_room_per_file = true;
        settings.adapter = Adapter::JsonLines;
    }
    settings
}

/// Events of every kind in two rooms, two uploads among them, each at its own time.
async fn traffic(f: &Fixture, rooms: &[Room; 2], who: [i64; 2], round: i64) {
    let at = |i: i64| 1_700_000_000_000_000_000 + round * 1_000_000_000 + i * 1_000;
    let store = &f.store;
    for (i, room) in rooms.iter().enumerate() {
        let i = i as i64 * 100;
        let [a, b] = who;
        store
            .record_event(ComplianceKind::Join, room.id, b, "", at(i))
            .await
            .unwrap();
        store
            .post_message(
                room.id,
                a,
                &parlance_store::history::Post::text(
                    &format!("round {round} in {}", room.name),
                    &[],
                ),
                at(i + 1),
            )
            .await
            .unwrap();
        let body = format!("round {round} file of {}", room.name).repeat(5_000);
        upload(f, room, a, "report.txt", body.as_bytes(), at(i + 2)).await;
        store
            .record_event(ComplianceKind::Backchat, room.id, b, "last 25", at(i + 3))
            .await
            .unwrap();
        store
            .record_event(ComplianceKind::Part, room.id, b, "", at(i + 4))
            .await
            .unwrap();
    }
}

/// Crashes a child exporter at each step in turn, with new events before each, then runs
/// an export to the end in batches of one event (so that a re-written batch has fewer
/// events, and rooms, than its crashed self); returns how many events there are.
async fn crash_everywhere(f: &Fixture, per_room: bool) -> usize {
    let who = [
        user(&f.store, "alice", "Alice").await,
        user(&f.store, "bob", "Bob").await,
    ];
    let rooms = [
        room(&f.store, "Lobby").await,
        room(&f.store, "Kitchen").await,
    ];
    let mut expected = 0;
    // Written, not synced; synced, not renamed; after a rename, before the cursor moves;
    // between attachment copies; a manifest published but not its output; after a batch
    // committed. The last crash leaves a whole batch (of two rooms) durable, to be redone
    // in batches of one event.
    for (round, (step, n)) in [
        ("written", 1),
        ("synced", 2),
        ("durable", 1),
        ("attachment", 2),
        ("published", 1),
        ("committed", 2),
        ("written", 3),
        ("durable", 1),
    ]
    .into_iter()
    .enumerate()
    {
        traffic(f, &rooms, who, round as i64).await;
        expected += 10;
        assert!(
            crash_at(f, per_room, step, n),
            "the child finished before {step} {n}"
        );
    }
    let mut settings = layout(f, per_room);
    settings.batch_events = 1;
    f.exporter(settings).export(None).await.unwrap();
    expected
}

/// Every upload's copy is complete and named once in a manifest, and no other file is in
/// `Attachment`; the outbox is empty (joins and parts left in pairs).
async fn assert_attachments_whole(f: &Fixture, uploads: usize) {
    let entries = manifest_entries(&f.out());
    assert_eq!(entries.len(), uploads);
    for entry in &entries {
        assert_eq!(entry["status"], "copied");
        let copy = std::fs::read(f.out().join(&entry["path"])).unwrap();
        assert_eq!(copy.len().to_string(), entry["size"]);
        assert!(copy.starts_with(b"round "), "{}", entry["path"]);
    }
    let copies = std::fs::read_dir(f.out().join("Attachment"))
        .unwrap()
        .count();
    assert_eq!(copies, uploads, "no stray or temporary copies");
    assert!(f.store.compliance_events(0, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn killed_at_any_step_the_next_run_archives_every_event_once() {
    let f = Fixture::new().await;
    let expected = crash_everywhere(&f, false).await;
    let messages = archived_messages(&f.out());
    assert_eq!(messages.len(), expected, "every event once");
    assert!(
        messages.windows(2).all(|w| w[0].ticks != w[1].ticks),
        "no event twice"
    );
    let uploads = messages.iter().filter(|m| m.kind == "FILEUPLOAD").count();
    assert_attachments_whole(&f, uploads).await;
    f.finish().await;
}

#[tokio::test]
async fn killed_at_any_step_one_file_per_room_keeps_every_event_once() {
    let f = Fixture::new().await;
    let expected = crash_everywhere(&f, true).await;
    let mut events = Vec::new();
    let mut uploads = 0;
    for entry in std::fs::read_dir(f.out()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                uploads += usize::from(v["type"] == "FILEUPLOAD");
                events.push(v["event"].as_i64().unwrap());
            }
        }
    }
    events.sort();
    assert_eq!(events.len(), expected);
    assert!(events.windows(2).all(|w| w[0] < w[1]), "no event twice");
    assert_attachments_whole(&f, uploads).await;
    f.finish().await;
}
