//! The administration commands, each run as a process of its own: on a data directory with
//! no server (they open it themselves), and beside a running server, which applies what
//! they change to live sessions.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_parlance");

fn run(data: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["--domain", "example.test"])
        .args(args)
        .env("PARLANCE_PASSWORD", "pw")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn ok(data: &Path, args: &[&str]) -> String {
    let (success, text) = run(data, args);
    assert!(success, "parlance {args:?}: {text}");
    text
}

/// `parlance user admin NAME on|off`: the flag the room-management application reads.
#[test]
fn administrators_are_made_and_unmade() {
    let data = std::env::temp_dir().join(format!("parlance-admin-flag-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    ok(&data, &["user", "add", "alice@example.test"]);
    let admin_line = |data: &Path| {
        ok(data, &["user", "list"])
            .lines()
            .find(|l| l.starts_with("sip:alice@example.test"))
            .unwrap()
            .to_owned()
    };
    assert!(!admin_line(&data).ends_with("admin"));
    assert_eq!(
        ok(&data, &["user", "admin", "alice@example.test", "on"]),
        "sip:alice@example.test is an administrator\n"
    );
    assert!(
        admin_line(&data).ends_with("\tadmin"),
        "{}",
        admin_line(&data)
    );
    ok(&data, &["user", "disable", "alice@example.test"]);
    assert!(admin_line(&data).ends_with("\tadmin,disabled"));
    ok(&data, &["user", "admin", "sip:alice@example.test", "off"]);
    assert!(admin_line(&data).ends_with("\tdisabled"));

    let (success, text) = run(&data, &["user", "admin", "nobody@example.test", "on"]);
    assert!(!success && text.contains("does not exist"), "{text}");
    let (success, text) = run(&data, &["user", "admin", "alice@example.test", "maybe"]);
    assert!(!success && text.contains("on"), "{text}");
    let (success, _) = run(&data, &["user", "admin", "alice@other.test", "on"]);
    assert!(!success, "another domain's user");
    std::fs::remove_dir_all(&data).unwrap();
}

/// Categories, rooms and roles on a data directory no server runs on.
#[test]
fn categories_rooms_and_roles_without_a_server() {
    let data = std::env::temp_dir().join(format!("parlance-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    ok(&data, &["user", "add", "alice@example.test"]);
    ok(
        &data,
        &["user", "add", "bob@example.test", "--mechanisms", "digest"],
    );
    assert!(ok(&data, &["user", "list"]).contains("sip:bob@example.test\tdigest"));

    let created = ok(
        &data,
        &["category", "add", "Engineering", "--description", "Build"],
    );
    assert!(
        created.starts_with("created category Engineering ma-cat://example.test/"),
        "{created}"
    );
    let list = ok(&data, &["category", "list"]);
    assert!(
        list.contains("(root)") && list.contains("Engineering"),
        "{list}"
    );
    ok(
        &data,
        &[
            "category",
            "creator",
            "add",
            "Engineering",
            "alice@example.test",
        ],
    );

    ok(
        &data,
        &[
            "room",
            "add",
            "Lobby",
            "--category",
            "Engineering",
            "--topic",
            "Welcome",
        ],
    );
    ok(
        &data,
        &[
            "room",
            "add",
            "Stage",
            "--category",
            "engineering",
            "--auditorium",
            "--privacy",
            "closed",
        ],
    );
    let (success, text) = run(
        &data,
        &["room", "add", "lobby", "--category", "Engineering"],
    );
    assert!(
        !success && text.contains("already exists"),
        "room names are unique: {text}"
    );
    let (success, text) = run(&data, &["room", "add", "X", "--category", "Nowhere"]);
    assert!(!success && text.contains("no category"), "{text}");
    let (success, text) = run(
        &data,
        &[
            "room",
            "add",
            "X",
            "--category",
            "Engineering",
            "--privacy",
            "hidden",
        ],
    );
    assert!(!success && text.contains("hidden"), "{text}");

    // A presenter must be a member first, as in the original (PresenterNotInMemList).
    let presenter = [
        "room",
        "member",
        "add",
        "Stage",
        "alice@example.test",
        "--role",
        "presenter",
    ];
    let (success, text) = run(&data, &presenter);
    assert!(
        !success && text.contains("must be a member"),
        "presenters are members: {text}"
    );
    ok(
        &data,
        &["room", "member", "add", "Stage", "alice@example.test"],
    );
    ok(&data, &presenter);
    let (success, text) = run(
        &data,
        &["room", "member", "remove", "Stage", "alice@example.test"],
    );
    assert!(
        !success && text.contains("still a presenter"),
        "a presenter stays a member: {text}"
    );
    ok(
        &data,
        &[
            "room",
            "member",
            "add",
            "Stage",
            "bob@example.test",
            "--role",
            "manager",
        ],
    );
    ok(
        &data,
        &[
            "room",
            "edit",
            "Lobby",
            "--topic",
            "Hello",
            "--privacy",
            "secret",
            "--invitations",
            "off",
        ],
    );
    let show = ok(&data, &["room", "show", "Stage"]);
    assert!(
        show.contains("presenter    sip:alice@example.test")
            && show.contains("manager      sip:bob@example.test"),
        "{show}"
    );
    assert!(
        show.contains("behavior     auditorium") && show.contains("privacy      closed"),
        "{show}"
    );
    let show = ok(&data, &["room", "show", "Lobby"]);
    assert!(
        show.contains("topic        Hello")
            && show.contains("privacy      secret")
            && show.contains("invitations  false"),
        "{show}"
    );

    ok(
        &data,
        &[
            "room",
            "member",
            "remove",
            "Stage",
            "bob@example.test",
            "--role",
            "manager",
        ],
    );
    assert!(!ok(&data, &["room", "show", "Stage"]).contains("bob"));
    ok(&data, &["room", "disable", "Lobby"]);
    assert!(
        ok(&data, &["room", "list"])
            .lines()
            .any(|l| l.starts_with("Lobby") && l.ends_with("disabled"))
    );
    ok(&data, &["room", "enable", "Lobby"]);
    assert!(!ok(&data, &["room", "list"]).contains("disabled"));
    let (success, text) = run(
        &data,
        &["room", "member", "add", "Stage", "nobody@example.test"],
    );
    assert!(!success && text.contains("no user"), "{text}");
    std::fs::remove_dir_all(&data).unwrap();
}

/// Runs the binary off the async workers, which serve the test's server meanwhile.
async fn cli(data: &Path, args: &[&str]) -> (bool, String) {
    let data = data.to_owned();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&data, &args)
    })
    .await
    .unwrap()
}

async fn cli_ok(data: &Path, args: &[&str]) -> String {
    let (success, text) = cli(data, args).await;
    assert!(success, "parlance {args:?}: {text}");
    text
}

/// The account commands, run as separate processes beside a serving server: the server
/// applies what they change to live sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_commands_reach_a_running_server() {
    use parlance_tests::chat::ChatClient;
    use parlance_tests::{DOMAIN, TestServer};

    // A first wait long enough that only the unlock can end it within the test.
    let s = TestServer::start_with(|c| {
        c.admin_changes_poll_ms = 10;
        c.auth.failure_delay_secs = 300;
    })
    .await;
    let data = s.config.data_dir.clone();
    cli_ok(&data, &["user", "add", "alice@example.test"]).await;
    cli_ok(&data, &["user", "add", "bob@example.test"]).await;
    cli_ok(&data, &["category", "add", "Team"]).await;
    cli_ok(&data, &["room", "add", "Lobby", "--category", "Team"]).await;
    let lobby = s.server().store.find_room("Lobby").await.unwrap().unwrap();
    let lobby = format!("ma-chan://{DOMAIN}/{}", lobby.room.guid);

    let mut alice = ChatClient::connect(&s, "alice", "pw").await;
    assert!(alice.join(&lobby).await.resp.is_success());
    assert_eq!(alice.post(&lobby, "hello from alice").await, 200);

    // disable: the session ends, sign-in is refused; enable: it works again.
    cli_ok(&data, &["user", "disable", "alice@example.test"]).await;
    alice.conn.until_closed().await;
    assert!(
        cli_ok(&data, &["user", "list"])
            .await
            .lines()
            .any(|l| l.starts_with("sip:alice@example.test") && l.ends_with("disabled"))
    );
    assert_eq!(s.tcp().await.register("alice", "pw").await.status, 403);
    cli_ok(&data, &["user", "enable", "alice@example.test"]).await;
    assert_eq!(s.tcp().await.register("alice", "pw").await.status, 200);

    // unlock: an address made to wait by failures may try again at once.
    let ip = "127.0.0.3".parse().unwrap();
    let mut guesser = s.tcp_from(ip).await;
    for _ in 0..s.config.auth.max_failures_per_account_address {
        assert_eq!(guesser.register("alice", "guess").await.status, 401);
    }
    let req = guesser.register_request("alice", &[]);
    guesser.send(req).await;
    assert_eq!(guesser.recv_response().await.status, 403, "waits");
    cli_ok(&data, &["user", "unlock", "alice@example.test"]).await;
    let deadline = tokio::time::Instant::now() + parlance_tests::WAIT;
    loop {
        let req = guesser.register_request("alice", &[]);
        guesser.send(req).await;
        if guesser.recv_response().await.status == 401 {
            break; // challenged: the attempt will be checked
        }
        assert!(tokio::time::Instant::now() < deadline, "unlock not applied");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // remove, with history: the messages keep their author, the address is not re-used
    // unless asked.
    cli_ok(&data, &["user", "remove", "alice@example.test"]).await;
    assert!(!cli_ok(&data, &["user", "list"]).await.contains("alice"));
    let mut bob = ChatClient::connect(&s, "bob", "pw").await;
    let history = bob.history(&lobby, "<last cnt=\"5\"/>").await;
    assert_eq!(history[0].author, format!("sip:alice@{DOMAIN}"));
    let (success, text) = cli(&data, &["user", "add", "alice@example.test"]).await;
    assert!(!success && text.contains("--reuse"), "{text}");
    cli_ok(&data, &["user", "add", "alice@example.test", "--reuse"]).await;
    assert_eq!(s.tcp().await.register("alice", "pw").await.status, 200);
}

/// `parlance compliance hold ARGS…`.
async fn hold(data: &Path, args: &[&str]) -> (bool, String) {
    let args: Vec<&str> = ["compliance", "hold"].iter().chain(args).copied().collect();
    cli(data, &args).await
}

async fn hold_ok(data: &Path, args: &[&str]) -> String {
    let (success, text) = hold(data, args).await;
    assert!(success, "parlance compliance hold {args:?}: {text}");
    text
}

/// The store and file store of the data directory the commands above work on.
async fn open_data(data: &Path) -> (parlance_store::Store, parlance_files::FileStore) {
    let config = parlance_server::config::Config {
        domain: "example.test".into(),
        data_dir: data.to_owned(),
        ..Default::default()
    };
    let (store, key) = parlance_server::open_data(&config).await.unwrap();
    let files = parlance_server::open_file_store(&config, &key)
        .await
        .unwrap();
    (store, files)
}

/// A complete file of `room` named `name`, as an upload leaves it: its row and its blob.
async fn stored_file(
    store: &parlance_store::Store,
    files: &parlance_files::FileStore,
    room: &parlance_store::rooms::RoomInfo,
    uploader: i64,
    name: &str,
) {
    use parlance_store::files::{Direction, NewFileToken};
    let token = store
        .issue_file_token(
            &NewFileToken {
                principal_id: uploader,
                room_id: room.room.id,
                direction: Direction::Upload,
                file_url: "notes.txt",
                file_id: None,
                issued_at: 1,
                expires_at: i64::MAX,
            },
            100,
        )
        .await
        .unwrap();
    let file = store.reserve_upload(&token.token, name, 1).await.unwrap();
    store
        .declare_upload_length(&token.token, file.id, 5, u64::MAX)
        .await
        .unwrap();
    let mut upload = files.begin_upload(&room.room.guid, name).await.unwrap();
    upload.write(b"hello").await.unwrap();
    upload.finish().await.unwrap();
    store
        .complete_upload(&token.token, file.id, 5, 2)
        .await
        .unwrap();
}

/// `file list`, `file remove` and `room purge` take a file's row and its stored bytes together.
#[tokio::test]
async fn files_are_listed_removed_and_purged_with_their_bytes() {
    let data = std::env::temp_dir().join(format!("parlance-admin-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    cli_ok(&data, &["user", "add", "alice@example.test"]).await;
    cli_ok(&data, &["category", "add", "Work"]).await;
    cli_ok(&data, &["room", "add", "Lobby", "--category", "Work"]).await;

    let (store, files) = open_data(&data).await;
    let lobby = store.find_room("Lobby").await.unwrap().unwrap();
    let alice = store
        .user("sip:alice@example.test")
        .await
        .unwrap()
        .unwrap()
        .id;
    let (posted, kept, removed) = (
        "11111111-1111-4111-8111-111111111111.txt",
        "22222222-2222-4222-8222-222222222222.txt",
        "33333333-3333-4333-8333-333333333333.txt",
    );
    for name in [posted, kept, removed] {
        stored_file(&store, &files, &lobby, alice, name).await;
    }
    // Posted long ago; `kept` is linked by a message of now.
    store
        .post_message(
            lobby.room.id,
            alice,
            &parlance_store::history::Post::text("old", &[posted]),
            10,
        )
        .await
        .unwrap();
    let now = jiff::Timestamp::now().as_nanosecond() as i64;
    store
        .post_message(
            lobby.room.id,
            alice,
            &parlance_store::history::Post::text("new", &[kept]),
            now,
        )
        .await
        .unwrap();

    let list = cli_ok(&data, &["file", "list", "Lobby"]).await;
    for name in [posted, kept, removed] {
        assert!(
            list.contains(&format!(
                "{name}\t5\tcomplete\tsip:alice@example.test\tnotes.txt"
            )),
            "{list}"
        );
    }

    cli_ok(&data, &["file", "remove", "Lobby", removed]).await;
    let (success, text) = cli(&data, &["file", "remove", "Lobby", removed]).await;
    assert!(!success && text.contains("no file"), "{text}");
    assert!(
        store
            .room_file(lobby.room.id, removed)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        files.open(&lobby.room.guid, removed).await,
        Err(parlance_files::FileError::NotFound)
    ));

    let purged = cli_ok(&data, &["room", "purge", "Lobby", "--before", "2001-09-09"]).await;
    assert!(purged.contains("purged 1 messages and 1 files"), "{purged}");
    assert!(files.open(&lobby.room.guid, posted).await.is_err());
    assert!(
        files.open(&lobby.room.guid, kept).await.is_ok(),
        "still linked"
    );

    let purged = cli_ok(&data, &["room", "purge", "Lobby"]).await;
    assert!(purged.contains("purged 1 messages and 1 files"), "{purged}");
    assert!(files.open(&lobby.room.guid, kept).await.is_err());
    assert!(store.room_files(lobby.room.id).await.unwrap().is_empty());
    store.close().await;
    std::fs::remove_dir_all(&data).unwrap();
}

/// `category set --retention-days`, `compliance purge` and `compliance hold`: retention
/// takes what is older than the category keeps, except what a hold covers, and `room purge`
/// refuses a held room; each purge leaves its compliance record.
#[tokio::test]
async fn retention_purges_what_no_legal_hold_covers() {
    let data =
        std::env::temp_dir().join(format!("parlance-admin-retention-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    cli_ok(&data, &["user", "add", "alice@example.test"]).await;
    cli_ok(&data, &["user", "add", "bob@example.test"]).await;
    cli_ok(&data, &["category", "add", "Work"]).await;
    cli_ok(&data, &["room", "add", "Lobby", "--category", "Work"]).await;
    cli_ok(&data, &["room", "add", "Evidence", "--category", "Work"]).await;

    let (store, files) = open_data(&data).await;
    let lobby = store.find_room("Lobby").await.unwrap().unwrap();
    let evidence = store.find_room("Evidence").await.unwrap().unwrap();
    let id = |uri: &'static str| {
        let store = store.clone();
        async move { store.user(uri).await.unwrap().unwrap().id }
    };
    let (alice, bob) = (
        id("sip:alice@example.test").await,
        id("sip:bob@example.test").await,
    );
    let (alices, bobs) = (
        "11111111-1111-4111-8111-111111111111.txt",
        "22222222-2222-4222-8222-222222222222.txt",
    );
    stored_file(&store, &files, &lobby, alice, alices).await;
    stored_file(&store, &files, &lobby, bob, bobs).await;
    let now = jiff::Timestamp::now().as_nanosecond() as i64;
    for (room, author, text, at) in [
        (&lobby, alice, "old alice", 10),
        (&lobby, bob, "old bob", 20),
        (&lobby, bob, "new bob", now),
        (&evidence, bob, "old evidence", 30),
    ] {
        store
            .post_message(
                room.room.id,
                author,
                &parlance_store::history::Post::text(text, &[]),
                at,
            )
            .await
            .unwrap();
    }
    let history = |room: &parlance_store::rooms::RoomInfo| {
        let (store, room_id) = (store.clone(), room.room.id);
        async move {
            let query = parlance_store::history::HistoryQuery::Last(10);
            let messages = store.read_history(room_id, alice, &query, 0).await.unwrap();
            messages.into_iter().map(|m| m.content).collect::<Vec<_>>()
        }
    };

    let (refused, text) = cli(&data, &["category", "set", "Work", "--retention-days", "0"]).await;
    assert!(!refused && text.contains("nor off"), "{text}");
    cli_ok(
        &data,
        &["category", "set", "Work", "--retention-days", "30"],
    )
    .await;
    let list = cli_ok(&data, &["category", "list"]).await;
    assert!(list.contains("\tretention 30 days"), "{list}");

    hold_ok(&data, &["add", "--room", "Evidence", "--reason", "case 42"]).await;
    hold_ok(
        &data,
        &[
            "add",
            "--user",
            "alice@example.test",
            "--reason",
            "custodian",
        ],
    )
    .await;
    let (again, text) = hold(&data, &["add", "--room", "Evidence", "--reason", "twice"]).await;
    assert!(
        !again && text.contains("under legal hold already"),
        "{text}"
    );
    let holds = hold_ok(&data, &["list"]).await;
    assert!(
        holds.contains("room Evidence\tcase 42\tplaced by uid "),
        "{holds}"
    );
    assert!(
        holds.contains("user sip:alice@example.test\tcustodian\tplaced by uid "),
        "{holds}"
    );

    let purged = cli_ok(&data, &["compliance", "purge"]).await;
    assert!(
        purged.contains("purged 1 messages and 1 files from Lobby (retention 30 days)"),
        "{purged}"
    );
    assert!(!purged.contains("Evidence"), "{purged}");
    assert_eq!(history(&lobby).await, ["old alice", "new bob"]);
    assert_eq!(history(&evidence).await, ["old evidence"]);
    assert!(files.open(&lobby.room.guid, bobs).await.is_err());
    assert!(files.open(&lobby.room.guid, alices).await.is_ok(), "held");
    let (refused, text) = cli(&data, &["room", "purge", "Evidence"]).await;
    assert!(
        !refused && text.contains("Evidence is under legal hold"),
        "{text}"
    );
    assert_eq!(history(&evidence).await, ["old evidence"]);

    hold_ok(&data, &["remove", "--room", "Evidence"]).await;
    hold_ok(&data, &["remove", "--user", "alice@example.test"]).await;
    let (again, text) = hold(&data, &["remove", "--room", "Evidence"]).await;
    assert!(!again && text.contains("not under legal hold"), "{text}");
    assert_eq!(hold_ok(&data, &["list"]).await, "");
    let all = hold_ok(&data, &["list", "--all"]).await;
    assert_eq!(all.matches("\treleased by uid ").count(), 2, "{all}");

    let purged = cli_ok(&data, &["compliance", "purge"]).await;
    assert!(purged.contains("purged 2 messages in all"), "{purged}");
    assert_eq!(history(&lobby).await, ["new bob"]);
    assert!(history(&evidence).await.is_empty());
    assert!(files.open(&lobby.room.guid, alices).await.is_err());

    let records: Vec<(i64, i64, String)> = store
        .compliance_events(0, u32::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "purge")
        .map(|e| (e.room_id, e.principal_id, e.content))
        .collect();
    assert_eq!(
        records,
        [
            (
                lobby.room.id,
                bob,
                "retention 30 days: 1 messages, seq 2-2".into()
            ),
            (
                lobby.room.id,
                bob,
                format!("retention 30 days: file {bobs} (notes.txt)")
            ),
            (
                lobby.room.id,
                alice,
                "retention 30 days: 1 messages, seq 1-1".into()
            ),
            (
                lobby.room.id,
                alice,
                format!("retention 30 days: file {alices} (notes.txt)")
            ),
            (
                evidence.room.id,
                bob,
                "retention 30 days: 1 messages, seq 1-1".into()
            ),
        ]
    );

    cli_ok(
        &data,
        &["category", "set", "Work", "--retention-days", "off"],
    )
    .await;
    assert!(
        !cli_ok(&data, &["category", "list"])
            .await
            .contains("retention")
    );
    store.close().await;
    std::fs::remove_dir_all(&data).unwrap();
}

/// A running server applies the categories' retention by itself, every
/// `retention.interval_secs`, and records what it purged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_server_purges_what_retention_lets_go() {
    use parlance_tests::TestServer;

    let s = TestServer::start_with(|c| c.retention.interval_secs = 1).await;
    let data = s.config.data_dir.clone();
    cli_ok(&data, &["user", "add", "alice@example.test"]).await;
    cli_ok(&data, &["category", "add", "Team"]).await;
    cli_ok(&data, &["room", "add", "Lobby", "--category", "Team"]).await;
    let store = &s.server().store;
    let lobby = store.find_room("Lobby").await.unwrap().unwrap();
    let alice = store
        .user("sip:alice@example.test")
        .await
        .unwrap()
        .unwrap()
        .id;
    let now = jiff::Timestamp::now().as_nanosecond() as i64;
    for (text, at) in [("long ago", 10), ("today", now)] {
        store
            .post_message(
                lobby.room.id,
                alice,
                &parlance_store::history::Post::text(text, &[]),
                at,
            )
            .await
            .unwrap();
    }
    cli_ok(&data, &["category", "set", "Team", "--retention-days", "7"]).await;

    let query = parlance_store::history::HistoryQuery::Last(10);
    let deadline = tokio::time::Instant::now() + parlance_tests::WAIT;
    loop {
        let left = store
            .read_history(lobby.room.id, alice, &query, now)
            .await
            .unwrap();
        if left.len() == 1 {
            assert_eq!(left[0].content, "today");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "retention not applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let purges: Vec<String> = store
        .compliance_events(0, u32::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "purge")
        .map(|e| e.content)
        .collect();
    assert_eq!(purges, ["retention 7 days: 1 messages, seq 1-1"]);
}
