//! Files through the client library against a real server over real sockets: one user
//! uploads, another downloads the same bytes; partial downloads resume; refusals arrive as
//! typed errors. The file service is reached through a relay, so that a test can break a
//! transfer off at a known point.

// Helpers shared by the client's test binaries, each of which uses its own share of them.
#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use parlance_client::{Client, ClientError, Events, FileLink, posted_files};
use parlance_store::rooms::{Behavior, Privacy, Role};
use parlance_tests::TestServer;
use support::relay::Relay;
use support::{connect, next_line, server_with};

/// The largest file the test server takes, in KiB.
const MAX_FILE_KB: u64 = 4 * 1024;

/// A server with files on, whose file service is announced at a relay in front of it.
async fn files_server(users: &[&str]) -> (TestServer, Relay) {
    let relay = Relay::start("127.0.0.1:9".parse().unwrap()).await;
    let public_url = format!("https://127.0.0.1:{}", relay.addr().port());
    let s = server_with(users, |c| {
        c.web.public_url = Some(public_url);
        c.files.max_file_size_kb = MAX_FILE_KB;
    })
    .await;
    relay.up(s.https_addr());
    (s, relay)
}

/// A directory for one test's files, removed with it.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("parlance-files-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Every name in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes that differ from one position to the next, so that a shifted or repeated piece
/// shows.
fn content(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 11) as u8)
        .collect()
}

/// Every progress report of a transfer.
#[derive(Default)]
struct Reports(Mutex<Vec<(u64, u64)>>);

impl Reports {
    fn record(&self) -> impl Fn(u64, u64) + '_ {
        |done, total| self.0.lock().unwrap().push((done, total))
    }

    fn take(&self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

async fn joined(s: &TestServer, user: &str, room: &str) -> (Client, Events) {
    let (client, events) = connect(s, user).await;
    client.join(room).await.unwrap();
    (client, events)
}

/// The link of the file in the next message `events` bring, checked against `name`.
async fn posted(events: &mut Events, name: &str) -> FileLink {
    let line = next_line(events).await;
    let files = posted_files(&line.text);
    assert_eq!(files.len(), 1, "{}", line.text);
    assert_eq!(files[0].original_name, name);
    files[0].link.clone()
}

#[tokio::test]
async fn a_file_one_posts_another_fetches_byte_for_byte() {
    let (s, _relay) = files_server(&["alice", "bob"]).await;
    let lobby = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let (alice, _) = joined(&s, "alice", &lobby).await;
    let (bob, mut bob_events) = joined(&s, "bob", &lobby).await;
    let up = Scratch::new();
    let down = Scratch::new();
    let bytes = content(3 * 1024 * 1024 + 7);
    let path = up.file("Q3 report.pdf", &bytes);

    let reports = Reports::default();
    let link = alice.upload(&lobby, &path, reports.record()).await.unwrap();
    let sent = reports.take();
    let total = bytes.len() as u64;
    assert_eq!(sent.first(), Some(&(0, total)));
    assert_eq!(sent.last(), Some(&(total, total)));
    assert!(
        sent.windows(2).all(|w| w[0].0 < w[1].0),
        "progress only grows"
    );
    assert_eq!(link.room_uri(), lobby);
    assert!(link.name.ends_with(".pdf"), "{}", link.name);

    let seen = posted(&mut bob_events, "Q3 report.pdf").await;
    assert_eq!(seen, link);
    let copy = down.path("copy.pdf");
    let size = bob
        .download(&lobby, &seen.to_string(), &copy, reports.record())
        .await
        .unwrap();
    assert_eq!(size, total);
    assert!(std::fs::read(&copy).unwrap() == bytes, "the same bytes");
    assert_eq!(reports.take().last(), Some(&(total, total)));
    assert_eq!(down.names(), ["copy.pdf"], "no partial file is left");

    let again = bob.download(&lobby, &link.name, &copy, |_, _| {}).await;
    assert_eq!(
        again,
        Err(ClientError::FileExists {
            path: copy.display().to_string()
        }),
        "a download never replaces a file"
    );
    let by_name = down.path("by name.pdf");
    alice
        .download(&lobby, &link.name, &by_name, |_, _| {})
        .await
        .unwrap();
    assert!(
        std::fs::read(&by_name).unwrap() == bytes,
        "the repository name works too"
    );
}

/// Alice alone in an open room of a server with files on, with a directory for her files.
struct Alone {
    relay: Relay,
    lobby: String,
    alice: Client,
    events: Events,
    dir: Scratch,
    _server: TestServer,
}

impl Alone {
    async fn start() -> Alone {
        let (s, relay) = files_server(&["alice"]).await;
        let lobby = s
            .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
            .await;
        let (alice, events) = joined(&s, "alice", &lobby).await;
        Alone {
            relay,
            lobby,
            alice,
            events,
            dir: Scratch::new(),
            _server: s,
        }
    }

    /// Uploads `bytes` as `name`; the link the room shows.
    async fn share(&mut self, name: &str, bytes: &[u8]) -> FileLink {
        let path = self.dir.file(name, bytes);
        self.alice
            .upload(&self.lobby, &path, |_, _| {})
            .await
            .unwrap();
        posted(&mut self.events, name).await
    }

    async fn download(
        &self,
        link: &FileLink,
        to: &Path,
        progress: impl Fn(u64, u64),
    ) -> Result<u64, ClientError> {
        self.alice
            .download(&self.lobby, &link.to_string(), to, progress)
            .await
    }
}

#[tokio::test]
async fn empty_and_one_byte_files() {
    let mut a = Alone::start().await;
    for (name, bytes) in [("empty.txt", &b""[..]), ("one.bin", &b"x"[..])] {
        let link = a.share(name, bytes).await;
        let copy = a.dir.path(&format!("copy of {name}"));
        let size = a.download(&link, &copy, |_, _| {}).await.unwrap();
        assert_eq!(size, bytes.len() as u64);
        assert_eq!(std::fs::read(&copy).unwrap(), bytes);
    }
}

#[tokio::test]
async fn a_broken_download_resumes_where_it_stopped() {
    let mut a = Alone::start().await;
    let bytes = content(2 * 1024 * 1024 + 3);
    let total = bytes.len() as u64;
    let link = a.share("big.bin", &bytes).await;
    let copy = a.dir.path("copy.bin");
    let guid = link.name.trim_end_matches(".bin");
    let part = a.dir.path(&format!("copy.bin.{guid}.part"));

    a.relay.cut_after(Some(512 * 1024));
    let broken = a.download(&link, &copy, |_, _| {}).await;
    assert!(
        matches!(broken, Err(ClientError::Transfer(_))),
        "{broken:?}"
    );
    let kept = std::fs::metadata(&part)
        .expect("the partial file stays")
        .len();
    assert!(kept > 0 && kept < total, "{kept} of {total}");
    assert!(!copy.exists());

    a.relay.cut_after(None);
    let reports = Reports::default();
    a.download(&link, &copy, reports.record()).await.unwrap();
    assert_eq!(
        reports.take().first(),
        Some(&(kept, total)),
        "it went on from the partial file"
    );
    assert!(std::fs::read(&copy).unwrap() == bytes);
    assert!(!part.exists());
}

#[tokio::test]
async fn a_partial_file_that_does_not_fit_is_started_over() {
    let mut a = Alone::start().await;
    let bytes = content(100_000);
    let link = a.share("a.bin", &bytes).await;
    let guid = link.name.trim_end_matches(".bin");
    let copy = a.dir.path("copy.bin");
    for stale in [content(150_000), bytes.clone()] {
        // Longer than the file: not its bytes. Exactly the file: a rename that never happened.
        std::fs::write(a.dir.path(&format!("copy.bin.{guid}.part")), &stale).unwrap();
        a.download(&link, &copy, |_, _| {}).await.unwrap();
        assert!(std::fs::read(&copy).unwrap() == bytes);
        std::fs::remove_file(&copy).unwrap();
        assert_eq!(a.dir.names(), ["a.bin"]);
    }
}

#[tokio::test]
async fn refusals_are_typed() {
    let (s, _relay) = files_server(&["alice", "bob"]).await;
    let closed = s
        .add_room(
            "Closed",
            Privacy::Closed,
            Behavior::Normal,
            &[("alice", Role::Member)],
        )
        .await;
    let (alice, _) = joined(&s, "alice", &closed).await;
    let (bob, _) = connect(&s, "bob").await;
    let dir = Scratch::new();
    let small = dir.file("small.txt", b"hello");

    let outsider = bob.upload(&closed, &small, |_, _| {}).await;
    assert!(
        matches!(
            outsider,
            Err(ClientError::Forbidden {
                action: "post files in",
                ..
            })
        ),
        "{outsider:?}"
    );

    let unknown = format!("{}.txt", uuid::Uuid::new_v4());
    let missing = alice
        .download(&closed, &unknown, &dir.path("x"), |_, _| {})
        .await;
    assert_eq!(
        missing,
        Err(ClientError::NoSuchFile {
            name: unknown,
            room: "Closed".into()
        })
    );

    let big = dir.file("big.bin", &content(MAX_FILE_KB as usize * 1024 + 1));
    let refused = alice.upload(&closed, &big, |_, _| {}).await;
    assert!(
        matches!(refused, Err(ClientError::FileRefused { status: 413, .. })),
        "{refused:?}"
    );

    let not_there = alice
        .upload(&closed, &dir.path("not there.txt"), |_, _| {})
        .await;
    assert!(
        matches!(not_there, Err(ClientError::LocalFile { .. })),
        "{not_there:?}"
    );
    assert_eq!(
        dir.names(),
        ["big.bin", "small.txt"],
        "nothing downloaded, nothing partial"
    );
}

#[tokio::test]
async fn without_the_file_service_there_are_no_tokens() {
    let s = server_with(&["alice"], |c| c.web.listen = None).await;
    let lobby = s
        .add_room("Lobby", Privacy::Open, Behavior::Normal, &[])
        .await;
    let (alice, _) = joined(&s, "alice", &lobby).await;
    let dir = Scratch::new();
    let error = alice
        .upload(&lobby, &dir.file("notes.txt", b"hi"), |_, _| {})
        .await;
    assert_eq!(
        error,
        Err(ClientError::Unsupported {
            command: "cmd:getfutok".into()
        })
    );
}
