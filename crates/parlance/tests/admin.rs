//! The administration commands, each run as a process of its own: on a data directory with
//! no server (they open it themselves), and beside a running server, which applies what
//! they change to live sessions.

mod common;

use std::path::Path;
use std::process::Command;

use common::{BIN, open_data, outcome, stored_file};
/// Every user's password: as long as `[auth] min_password_length` asks by default.
const PASSWORD: &str = "correct horse";

fn run(data: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["--domain", "example.test"])
        .args(args)
        .env("PARLANCE_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    outcome(out)
}

fn ok(data: &Path, args: &[&str]) -> String {
    let (success, text) = run(data, args);
    assert!(success, "parlance {args:?}: {text}");
    text
}

/// Alice's line of `parlance user list`.
fn alice_listed(data: &Path) -> String {
    ok(data, &["user", "list"])
        .lines()
        .find(|l| l.starts_with("sip:alice@example.test"))
        .unwrap()
        .to_owned()
}

/// `parlance user admin NAME on|off`: the flag the room-management application reads.
#[test]
fn administrators_are_made_and_unmade() {
    let data = std::env::temp_dir().join(format!("parlance-admin-flag-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    ok(&data, &["init"]);
    ok(&data, &["user", "add", "alice@example.test"]);
    assert!(!alice_listed(&data).ends_with("admin"));
    assert_eq!(
        ok(&data, &["user", "admin", "alice@example.test", "on"]),
        "sip:alice@example.test is an administrator\n"
    );
    assert!(
        alice_listed(&data).ends_with("\tadmin"),
        "{}",
        alice_listed(&data)
    );
    ok(&data, &["user", "disable", "alice@example.test"]);
    assert!(alice_listed(&data).ends_with("\tadmin,disabled"));
    ok(&data, &["user", "admin", "sip:alice@example.test", "off"]);
    assert!(alice_listed(&data).ends_with("\tdisabled"));

    let (success, text) = run(&data, &["user", "admin", "nobody@example.test", "on"]);
    assert!(!success && text.contains("does not exist"), "{text}");
    let (success, text) = run(&data, &["user", "admin", "alice@example.test", "maybe"]);
    assert!(!success && text.contains("on"), "{text}");
    let (success, _) = run(&data, &["user", "admin", "alice@other.test", "on"]);
    assert!(!success, "another domain's user");
    std::fs::remove_dir_all(&data).unwrap();
}

/// `parlance user chat NAME on|off`: the persistent chat policy provisioning reads.
#[test]
fn persistent_chat_is_turned_off_and_on_again() {
    let data = std::env::temp_dir().join(format!("parlance-chat-policy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    ok(&data, &["init"]);
    ok(&data, &["user", "add", "alice@example.test"]);
    assert!(!alice_listed(&data).contains("no-chat"), "on by default");
    assert_eq!(
        ok(&data, &["user", "chat", "alice@example.test", "off"]),
        "sip:alice@example.test may not use persistent chat\n"
    );
    assert!(
        alice_listed(&data).ends_with("\tno-chat"),
        "{}",
        alice_listed(&data)
    );
    ok(&data, &["user", "chat", "alice@example.test", "on"]);
    assert!(!alice_listed(&data).contains("no-chat"));
    let (success, text) = run(&data, &["user", "chat", "nobody@example.test", "off"]);
    assert!(!success && text.contains("does not exist"), "{text}");
    std::fs::remove_dir_all(&data).unwrap();
}

/// Categories, rooms and roles on a data directory no server runs on.
#[test]
fn categories_rooms_and_roles_without_a_server() {
    let data = std::env::temp_dir().join(format!("parlance-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    ok(&data, &["init"]);
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

    let mut alice = ChatClient::connect(&s, "alice", PASSWORD).await;
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
    assert_eq!(s.tcp().await.register("alice", PASSWORD).await.status, 403);
    cli_ok(&data, &["user", "enable", "alice@example.test"]).await;
    assert_eq!(s.tcp().await.register("alice", PASSWORD).await.status, 200);

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
    let mut bob = ChatClient::connect(&s, "bob", PASSWORD).await;
    let history = bob.history(&lobby, "<last cnt=\"5\"/>").await;
    assert_eq!(history[0].author, format!("sip:alice@{DOMAIN}"));
    let (success, text) = cli(&data, &["user", "add", "alice@example.test"]).await;
    assert!(!success && text.contains("--reuse"), "{text}");
    cli_ok(&data, &["user", "add", "alice@example.test", "--reuse"]).await;
    assert_eq!(s.tcp().await.register("alice", PASSWORD).await.status, 200);
}

/// Runs `parlance user ARGS…` with `password` in PARLANCE_PASSWORD.
fn user_with_password(data: &Path, args: &[&str], password: &str) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["--domain", "example.test", "user"])
        .args(args)
        .env("PARLANCE_PASSWORD", password)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Passwords shorter than `[auth] min_password_length` (8 by default) are refused wherever
/// one is set, counted in characters.
#[test]
fn short_passwords_are_refused() {
    let data = std::env::temp_dir().join(format!("parlance-admin-pw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    ok(&data, &["init"]);
    let (success, text) = user_with_password(&data, &["add", "alice@example.test"], "seven77");
    assert!(!success, "{text}");
    assert_eq!(
        text,
        "error: the password has 7 characters; at least 8 are needed ([auth] min_password_length)\n"
    );
    assert!(
        !ok(&data, &["user", "list"]).contains("alice"),
        "nothing written"
    );
    let (success, text) = user_with_password(&data, &["add", "alice@example.test"], "äöüäöüäö");
    assert!(success, "eight characters, sixteen bytes: {text}");
    let (success, text) = user_with_password(&data, &["passwd", "alice@example.test"], "");
    assert!(!success && text.contains("has 0 characters"), "{text}");

    let config = data.join("parlance.toml");
    std::fs::write(&config, "[auth]\nmin_password_length = 12\n").unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .args([
            "--domain",
            "example.test",
            "user",
            "passwd",
            "alice@example.test",
        ])
        .env("PARLANCE_PASSWORD", "eleven char")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("at least 12"),
        "{text}"
    );
    std::fs::remove_dir_all(&data).unwrap();
}

/// Category names are unique; categories are renamed, deleted (their rooms moved) and
/// scoped; a role removal that removes nothing says so and fails.
#[test]
fn categories_are_renamed_deleted_and_scoped() {
    let data = std::env::temp_dir().join(format!("parlance-admin-cat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    ok(&data, &["init"]);
    ok(&data, &["user", "add", "alice@example.test"]);
    ok(&data, &["category", "add", "Eng"]);
    let (success, text) = run(&data, &["category", "add", "ENG"]);
    assert!(!success, "{text}");
    assert_eq!(text, "error: a category named ENG already exists\n");
    ok(&data, &["category", "add", "Ops"]);
    ok(&data, &["room", "add", "Lobby", "--category", "Eng"]);

    let (success, text) = run(&data, &["category", "rename", "Ops", "eng"]);
    assert!(!success && text.contains("already exists"), "{text}");
    assert_eq!(
        ok(&data, &["category", "rename", "Ops", "Operations"]),
        "Ops is now Operations\n"
    );

    let (success, text) = run(&data, &["category", "delete", "Eng"]);
    assert!(!success, "{text}");
    assert!(
        text.contains("it has 1 rooms") && text.contains("--rooms-to"),
        "{text}"
    );
    let (success, text) = run(
        &data,
        &["category", "delete", "Eng", "--rooms-to", "Nowhere"],
    );
    assert!(
        !success && text.contains("no category \"Nowhere\""),
        "{text}"
    );
    assert_eq!(
        ok(
            &data,
            &["category", "delete", "Eng", "--rooms-to", "Operations"]
        ),
        "deleted Eng; its 1 rooms are in Operations now\n"
    );
    assert!(!ok(&data, &["category", "list"]).contains("Eng"));
    assert!(
        ok(&data, &["room", "list"])
            .lines()
            .any(|l| l.starts_with("Lobby\t") && l.contains("\tOperations\t"))
    );

    let alice = "alice@example.test";
    assert_eq!(
        ok(&data, &["category", "scope", "allow", "Operations", alice]),
        "alice@example.test is on the allow list of Operations\n"
    );
    assert_eq!(
        ok(&data, &["category", "scope", "list", "Operations"]),
        "allow\tsip:alice@example.test\n"
    );
    ok(&data, &["category", "scope", "deny", "Operations", alice]);
    assert_eq!(
        ok(&data, &["category", "scope", "list", "Operations"]),
        "deny\tsip:alice@example.test\n"
    );
    ok(&data, &["category", "scope", "clear", "Operations", alice]);
    assert_eq!(ok(&data, &["category", "scope", "list", "Operations"]), "");

    ok(&data, &["room", "member", "add", "Lobby", alice]);
    ok(&data, &["room", "member", "remove", "Lobby", alice]);
    let (success, text) = run(&data, &["room", "member", "remove", "Lobby", alice]);
    assert!(!success, "{text}");
    assert_eq!(
        text,
        "error: alice@example.test is not member of Lobby: nothing to remove\n"
    );
    std::fs::remove_dir_all(&data).unwrap();
}

/// `session list` shows who is signed in to the running server, `session end` drops them,
/// and `user list` shows when each account last signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_ended() {
    use parlance_tests::TestServer;
    use parlance_tests::chat::ChatClient;

    let s = TestServer::start_with(|c| c.admin_changes_poll_ms = 10).await;
    let data = s.config.data_dir.clone();
    cli_ok(&data, &["user", "add", "alice@example.test"]).await;
    cli_ok(&data, &["user", "add", "bob@example.test"]).await;
    let alice_line = |users: &str| {
        users
            .lines()
            .find(|l| l.starts_with("sip:alice@example.test\t"))
            .unwrap()
            .to_owned()
    };
    let users = cli_ok(&data, &["user", "list"]).await;
    assert!(
        alice_line(&users).contains("\tnever signed in\t"),
        "{users}"
    );

    let mut alice = ChatClient::connect(&s, "alice", PASSWORD).await;
    let listed = until(&data, &["session", "list"], |out| out.contains("sip:alice")).await;
    let line = listed.lines().next().unwrap();
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields.len(), 4, "{line}");
    assert_eq!(fields[0], "sip:alice@example.test");
    assert!(["tcp", "tls"].contains(&fields[1]), "{line}");
    assert!(fields[2].starts_with("127.0.0.1:"), "{line}");
    let year = jiff::Timestamp::now().to_string()[..4].to_owned();
    assert!(fields[3].starts_with(&format!("since {year}-")), "{line}");
    assert!(!listed.contains("bob"), "{listed}");
    let users = cli_ok(&data, &["user", "list"]).await;
    assert!(
        alice_line(&users).contains(&format!("\t{year}-")),
        "the last sign-in: {users}"
    );

    assert_eq!(
        cli_ok(&data, &["session", "end", "alice@example.test"]).await,
        "the sessions of sip:alice@example.test end (1 connections were signed in)\n"
    );
    alice.conn.until_closed().await;
    until(&data, &["session", "list"], |out| {
        !out.contains("sip:alice")
    })
    .await;
    let (success, text) = cli(&data, &["session", "end", "nobody@example.test"]).await;
    assert!(!success && text.contains("does not exist"), "{text}");
}

/// `pool status` on SQLite: the one server the data directory's lock allows, live; and
/// nothing once it has stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_status_shows_the_one_server_on_sqlite() {
    use parlance_tests::TestServer;

    let mut s = TestServer::start().await;
    let data = s.config.data_dir.clone();
    let status = cli_ok(&data, &["pool", "status"]).await;
    let line = status.lines().next().unwrap();
    assert!(
        line.starts_with(&format!("{}\tlive\t", s.server().node_id())),
        "{status}"
    );
    assert_eq!(status.lines().count(), 1, "{status}");
    s.shutdown().await;
    assert_eq!(
        cli_ok(&data, &["pool", "status"]).await,
        "no server is running on this store\n"
    );
}

/// `room edit` is announced to the sessions in the room; `room delete` removes a room for
/// good, parting whoever is in it; not under legal hold, not without `--yes`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_room_is_announced_and_a_deleted_one_parts_whoever_is_in_it() {
    use parlance_tests::chat::ChatClient;
    use parlance_tests::{DOMAIN, TestServer};

    let s = TestServer::start_with(|c| c.admin_changes_poll_ms = 10).await;
    let data = s.config.data_dir.clone();
    cli_ok(&data, &["user", "add", "alice@example.test"]).await;
    cli_ok(&data, &["category", "add", "Team"]).await;
    cli_ok(&data, &["room", "add", "Lobby", "--category", "Team"]).await;
    cli_ok(&data, &["room", "add", "Other", "--category", "Team"]).await;
    let store = &s.server().store;
    let lobby = store.find_room("Lobby").await.unwrap().unwrap();
    let uri = format!("ma-chan://{DOMAIN}/{}", lobby.room.guid);
    let mut alice = ChatClient::connect(&s, "alice", PASSWORD).await;
    assert!(alice.join(&uri).await.resp.is_success());
    assert_eq!(alice.post(&uri, "hello").await, 200);

    // An edit from the command line reaches the sessions in the room as one from the
    // room-management application does.
    cli_ok(&data, &["room", "edit", "Lobby", "--topic", "Moving out"]).await;
    match alice.next_notice().await {
        xccos::Notice::ChanUpd(chanibs) => {
            assert_eq!(chanibs[0].uri, uri);
            assert_eq!(chanibs[0].topic.as_deref(), Some("Moving out"));
        }
        other => panic!("expected ntc:chanupd, got {other:?}"),
    }

    let (success, text) = cli(&data, &["room", "delete", "Lobby"]).await;
    assert!(!success && text.contains("add --yes"), "{text}");
    cli_ok(
        &data,
        &[
            "compliance",
            "hold",
            "add",
            "--room",
            "Lobby",
            "--reason",
            "case 9",
        ],
    )
    .await;
    let (success, text) = cli(&data, &["room", "delete", "Lobby", "--yes"]).await;
    assert!(!success && text.contains("under legal hold"), "{text}");
    assert_eq!(alice.post(&uri, "still here").await, 200, "nothing changed");
    cli_ok(&data, &["compliance", "hold", "remove", "--room", "Lobby"]).await;

    assert_eq!(
        cli_ok(&data, &["room", "delete", "Lobby", "--yes"]).await,
        "deleted Lobby with 2 messages and 0 files\n"
    );
    let notice = alice.next_notice().await;
    match &notice {
        xccos::Notice::Part(chanibs) => {
            assert_eq!(chanibs.len(), 1, "{notice:?}");
            assert_eq!(chanibs[0].uri, uri);
            assert_eq!(chanibs[0].uibs[0].uri, format!("sip:alice@{DOMAIN}"));
        }
        other => panic!("expected ntc:part, got {other:?}"),
    }
    assert!(store.find_room("Lobby").await.unwrap().is_none());
    let rooms = cli_ok(&data, &["room", "list"]).await;
    assert!(
        !rooms.contains("Lobby") && rooms.contains("Other"),
        "{rooms}"
    );
    assert_ne!(alice.post(&uri, "into nothing").await, 200);
    let (success, text) = cli(&data, &["room", "delete", "Lobby", "--yes"]).await;
    assert!(!success && text.contains("no room \"Lobby\""), "{text}");
}

/// `room invite`: an invitee who is connected gets the invitation at once (`ntc:inv`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_reaches_an_invitee_who_is_online() {
    use parlance_tests::chat::ChatClient;
    use parlance_tests::{DOMAIN, TestServer};

    let s = TestServer::start_with(|c| c.admin_changes_poll_ms = 10).await;
    let data = s.config.data_dir.clone();
    for user in ["alice", "bob"] {
        cli_ok(&data, &["user", "add", &format!("{user}@example.test")]).await;
    }
    cli_ok(&data, &["category", "add", "Team"]).await;
    cli_ok(&data, &["room", "add", "Lobby", "--category", "Team"]).await;
    cli_ok(
        &data,
        &[
            "room",
            "add",
            "Quiet",
            "--category",
            "Team",
            "--no-invitations",
        ],
    )
    .await;
    let lobby = s.server().store.find_room("Lobby").await.unwrap().unwrap();
    let uri = format!("ma-chan://{DOMAIN}/{}", lobby.room.guid);
    let mut bob = ChatClient::connect(&s, "bob", PASSWORD).await;

    assert_eq!(
        cli_ok(
            &data,
            &[
                "room",
                "invite",
                "Lobby",
                "bob@example.test",
                "alice@example.test"
            ]
        )
        .await,
        "invited 2 users to Lobby (0 invited already)\n"
    );
    let notice = bob.next_notice().await;
    match &notice {
        xccos::Notice::Inv(invs) => {
            assert_eq!(invs.len(), 1, "{notice:?}");
            assert_eq!(invs[0].invite_id, 1);
            let chanib = invs[0].chanib.as_ref().unwrap();
            assert_eq!(
                (chanib.uri.as_str(), chanib.name.as_deref()),
                (uri.as_str(), Some("Lobby"))
            );
        }
        other => panic!("expected ntc:inv, got {other:?}"),
    }
    assert_eq!(
        cli_ok(&data, &["room", "invite", "Lobby", "bob@example.test"]).await,
        "invited 0 users to Lobby (1 invited already)\n"
    );
    let (success, text) = cli(&data, &["room", "invite", "Quiet", "bob@example.test"]).await;
    assert!(!success && text.contains("takes no invitations"), "{text}");
    let (success, text) = cli(&data, &["room", "invite", "Lobby", "nobody@example.test"]).await;
    assert!(!success && text.contains("no user"), "{text}");
}

/// Runs a command until its output satisfies `done` (the server writes what it shows once
/// a poll period); returns that output.
async fn until(data: &Path, args: &[&str], done: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + parlance_tests::WAIT;
    loop {
        let out = cli_ok(data, args).await;
        if done(&out) {
            return out;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "parlance {args:?} never showed it: {out}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
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

/// `file list`, `file remove` and `room purge` take a file's row and its stored bytes together.
#[tokio::test]
async fn files_are_listed_removed_and_purged_with_their_bytes() {
    let data = std::env::temp_dir().join(format!("parlance-admin-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    cli_ok(&data, &["init"]).await;
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
    cli_ok(&data, &["init"]).await;
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
        .map(|e| (e.room_id, e.principal_id, e.content.to_string()))
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
        .map(|e| e.content.to_string())
        .collect();
    assert_eq!(purges, ["retention 7 days: 1 messages, seq 1-1"]);
}
