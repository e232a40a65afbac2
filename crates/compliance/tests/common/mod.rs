//! What the compliance tests share: a data directory with a real SQLite store and file
//! store, events of every kind, and a reader of the archive that checks every file it
//! reads against the XSD with xmllint.

// Each test file is its own crate and uses only some of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use parlance_compliance::{ExportSettings, Exporter};
use parlance_files::FileStore;
use parlance_store::files::{Direction, NewFileToken, StoredFile};
use parlance_store::rooms::{Behavior, NewCategory, NewRoom, Privacy, Room};
use parlance_store::{ServerKey, Store};
use quick_xml::events::Event;

pub const DOMAIN: &str = "example.test";

/// A data directory: database, file store, output directory and lock.
#[derive(Debug)]
pub struct Fixture {
    pub dir: PathBuf,
    pub store: Store,
    pub files: FileStore,
}

impl Fixture {
    /// A fresh data directory with an empty output directory.
    pub async fn new() -> Fixture {
        let dir = scratch_dir();
        std::fs::create_dir_all(dir.join("out")).unwrap();
        Fixture::open(dir).await
    }

    /// The data directory `dir` as another process left it.
    pub async fn open(dir: PathBuf) -> Fixture {
        let store = Store::open_sqlite(&dir.join("parlance.db")).await.unwrap();
        let files = FileStore::open_local(&dir.join("files"), [7; 32])
            .await
            .unwrap();
        Fixture { dir, store, files }
    }

    pub fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    pub fn settings(&self) -> ExportSettings {
        ExportSettings::new(self.out(), self.dir.join("compliance.lock"), DOMAIN.into())
    }

    pub fn exporter(&self, settings: ExportSettings) -> Exporter {
        Exporter::new(self.store.clone(), self.files.clone(), settings)
    }

    pub async fn finish(self) {
        self.store.close().await;
        std::fs::remove_dir_all(&self.dir).unwrap();
    }
}

/// A directory no other test (in this process or another) uses.
pub fn scratch_dir() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "parlance-compliance-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Adds `name@example.test` with a display name; returns its principal id.
pub async fn user(store: &Store, name: &str, display_name: &str) -> i64 {
    let uri = format!("{name}@{DOMAIN}");
    let key = ServerKey::from_bytes(&[42; 32]).unwrap();
    store
        .add_user(&uri, display_name, "pw", DOMAIN, &key)
        .await
        .unwrap()
        .id
}

/// An open room in a category of its own.
pub async fn room(store: &Store, name: &str) -> Room {
    let root = store.root_category().await.unwrap();
    let category = store
        .add_category(&NewCategory {
            parent_id: root.id,
            name: &format!("{name} category"),
            description: "",
            file_post: true,
            invitations: true,
            logged: true,
        })
        .await
        .unwrap();
    store
        .add_room(&NewRoom {
            category_id: category.id,
            name,
            description: "",
            topic: "",
            privacy: Privacy::Open,
            behavior: Behavior::Normal,
            invitations: true,
        })
        .await
        .unwrap()
}

/// Posts `bytes` as `original_name` into `room` the way the file service does (token,
/// reserved name, encrypted blob, completion with its FILEUPLOAD row at `at`).
pub async fn upload(
    f: &Fixture,
    room: &Room,
    uploader: i64,
    original_name: &str,
    bytes: &[u8],
    at: i64,
) -> StoredFile {
    let token = f
        .store
        .issue_file_token(
            &NewFileToken {
                principal_id: uploader,
                room_id: room.id,
                direction: Direction::Upload,
                file_url: original_name,
                file_id: None,
                issued_at: at,
                expires_at: i64::MAX,
            },
            1_000,
        )
        .await
        .unwrap();
    let name = format!("{}.bin", parlance_store::new_guid());
    let file = f
        .store
        .reserve_upload(&token.token, &name, at)
        .await
        .unwrap();
    let mut blob = f.files.begin_upload(&room.guid, &name).await.unwrap();
    blob.write(bytes).await.unwrap();
    blob.finish().await.unwrap();
    f.store
        .complete_upload(&token.token, file.id, bytes.len() as u64, at)
        .await
        .unwrap()
}

/// A download of `file` by `who`, recorded at `at`.
pub async fn download(f: &Fixture, who: i64, file: &StoredFile, at: i64) {
    let token = f
        .store
        .issue_file_token(
            &NewFileToken {
                principal_id: who,
                room_id: file.room_id,
                direction: Direction::Download,
                file_url: &file.name,
                file_id: Some(file.id),
                issued_at: at,
                expires_at: i64::MAX,
            },
            1_000,
        )
        .await
        .unwrap();
    assert!(f.store.record_download(&token.token, at).await.unwrap());
}

/// Checks `file` against the shipped XSD. Fails (never skips) without xmllint.
pub fn assert_valid(file: &Path) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/conversations.xsd");
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmllint cannot run ({e}): install libxml2-utils (scripts/test does)")
        });
    assert!(
        output.status.success(),
        "{} is not valid: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A `Message` as the archive has it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Archived {
    /// `DateTimeUTC@long`: the tests give every event its own time.
    pub ticks: i64,
    pub kind: String,
    pub content: String,
    pub sender_uri: String,
    pub channel: String,
}

/// Every `Message` of every XML output file in `out` (not `FirstMessage`, a copy), each
/// file and manifest checked against the XSD first; no temporary file may be left.
pub fn archived_messages(out: &Path) -> Vec<Archived> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "a temporary file is left: {name}");
        if name.ends_with(".xml") || name.ends_with(".ATTACH") {
            assert_valid(&path);
        }
        if name.ends_with(".xml") {
            all.extend(messages_of(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    all.sort();
    all
}

fn messages_of(xml: &str) -> Vec<Archived> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut channel = String::new();
    let mut current: Option<Archived> = None;
    loop {
        match reader.read_event().unwrap() {
            Event::Eof => return out,
            Event::Start(e) | Event::Empty(e) => {
                let a = attributes(&e);
                match e.name().0 {
                    "Channel" => channel = a["uri"].clone(),
                    "Message" => {
                        current = Some(Archived {
                            ticks: 0,
                            kind: a["type"].clone(),
                            content: a["content"].clone(),
                            sender_uri: String::new(),
                            channel: channel.clone(),
                        })
                    }
                    "Sender" => {
                        if let Some(m) = current.as_mut() {
                            m.sender_uri = a["uri"].clone();
                        }
                    }
                    "DateTimeUTC" => {
                        if let Some(mut m) = current.take() {
                            m.ticks = a["long"].parse().unwrap();
                            out.push(m);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// An element's attributes, unescaped.
pub fn attributes(e: &quick_xml::events::BytesStart<'_>) -> BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.unwrap();
            (
                a.key.0.to_owned(),
                // As an XML 1.0 parser reads it: literal line breaks would become spaces.
                a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                    .unwrap()
                    .into_owned(),
            )
        })
        .collect()
}

/// The `Attachment` entries of every manifest in `out`.
pub fn manifest_entries(out: &Path) -> Vec<BTreeMap<String, String>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ATTACH") {
            assert_valid(&path);
            let xml = std::fs::read_to_string(&path).unwrap();
            let mut reader = quick_xml::Reader::from_str(&xml);
            loop {
                match reader.read_event().unwrap() {
                    Event::Eof => break,
                    Event::Empty(e) if e.name().0 == "Attachment" => {
                        entries.push(attributes(&e));
                    }
                    _ => {}
                }
            }
        }
    }
    entries.sort_by_key(|e| e["event"].parse::<i64>().unwrap());
    entries
}
