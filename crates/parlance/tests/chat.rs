//! `parlance chat` end to end against `parlance serve`: the full-screen client driven in a
//! real terminal (tmux, 80×24), `--plain` fed through a pipe, and the one-sentence errors.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::tmux::Tmux;
use common::{BIN, DOMAIN, DataDir, PASSWORD, chat_server, client_config, serve};
use parlance_client::{Client, Event};

const WAIT: Duration = Duration::from_secs(15);

fn chat_command(data: &DataDir, server: &common::Server, user: &str) -> String {
    format!(
        "{BIN} chat --server {} --user {user}@{DOMAIN} --ca {}",
        server.tls,
        data.cert().display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_client_joins_posts_and_sees_another_clients_message() {
    let data = DataDir::new("tui");
    let server = chat_server(&data);
    // The shell keeps the pane open after the client exits, to show how it ended.
    let command = format!(
        "{}; echo EXITED $?; sleep 60",
        chat_command(&data, &server, "alice")
    );
    let tmux = Tmux::start("tui", 80, 24, &[("PARLANCE_PASSWORD", PASSWORD)], &command);
    tmux.wait_for("available:").await;

    tmux.type_line("/join Lobby");
    tmux.wait_for("#Lobby — Say hi").await;
    tmux.type_line("hello from tmux");
    tmux.wait_for("alice: hello from tmux").await;

    let (bob, mut bob_events) = Client::connect(client_config(&data, &server, "bob"))
        .await
        .expect("bob signs in");
    let lobby = bob.find_room("Lobby").await.unwrap();
    let joined = bob.join(&lobby.uri).await.unwrap();
    assert_eq!(
        joined.history.last().map(|l| l.text.as_str()),
        Some("hello from tmux"),
        "alice's line reached the server"
    );
    let screen = tmux.wait_for("bob joined").await;
    assert!(screen.contains("People 2"), "{screen}");
    bob.post(&lobby.uri, "hi alice, from bob").await.unwrap();
    tmux.wait_for("bob: hi alice, from bob").await;

    tmux.type_line("/join Closed");
    tmux.wait_for("you may not join Closed").await;
    tmux.type_line("/who");
    tmux.wait_for("here (2): alice, bob").await;
    tmux.key("Tab");
    tmux.wait_for("┌Parlance").await;
    bob.post(&lobby.uri, "while you look away").await.unwrap();
    tmux.wait_for("#Lobby 1").await;

    tmux.type_line("/quit");
    tmux.wait_for("EXITED 0").await;
    let (user, _) = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Event::MemberLeft { user, .. }) = bob_events.next().await {
                return (user, ());
            }
        }
    })
    .await
    .expect("alice leaves the room when she quits");
    assert_eq!(user, format!("sip:alice@{DOMAIN}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_over_tcp_posts_stdin_lines_and_prints_messages() {
    let data = DataDir::new("plain");
    let server = chat_server(&data);
    let (alice, mut alice_events, lobby) = alice_in_lobby(&data, &server).await;
    alice.post(&lobby.uri, "said before").await.unwrap();

    let (mut plain, lines) = plain_chat(&server, "bob", &["--history", "1"]);
    let next_line = || lines.recv_timeout(WAIT).expect("a line from --plain");
    let first = next_line();
    assert!(
        is_line(&first, "alice", "said before"),
        "--history 1 prints the last message first: {first:?}"
    );

    // bob's join is how alice can tell that --plain is ready.
    joined(&mut alice_events).await;
    alice.post(&lobby.uri, "two\nlines").await.unwrap();
    let printed = next_line();
    assert!(is_line(&printed, "alice", "two\\nlines"), "{printed:?}");

    let mut stdin = plain.stdin.take().unwrap();
    writeln!(stdin, "from the pipe").unwrap();
    let echoed = next_line();
    assert!(is_line(&echoed, "bob", "from the pipe"), "{echoed:?}");
    let heard = loop {
        if let Some(Event::Message(line)) = tokio::time::timeout(WAIT, alice_events.next())
            .await
            .unwrap()
            && line.author == format!("sip:bob@{DOMAIN}")
        {
            break line;
        }
    };
    assert_eq!(heard.text, "from the pipe");

    drop(stdin);
    let out = plain.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the end of stdin ends --plain: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `parlance chat --plain --room Lobby` as `user` over TCP, with `args`; its standard
/// output comes line by line through the receiver.
fn plain_chat(
    server: &common::Server,
    user: &str,
    args: &[&str],
) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut plain = Command::new(BIN)
        .args(["chat", "--plain", "--room", "Lobby", "--tcp", "--server"])
        .arg(server.tcp.to_string())
        .args(["--user", &format!("{user}@{DOMAIN}")])
        .args(args)
        .env("PARLANCE_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let stdout = plain.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = lines_tx.send(line.unwrap());
        }
    });
    (plain, lines)
}

/// Whether `line` is `HH:MM:SS who@domain: text`, as --plain prints a message.
fn is_line(line: &str, who: &str, text: &str) -> bool {
    let Some((time, rest)) = line.split_at_checked(9) else {
        return false;
    };
    time.as_bytes()[2] == b':'
        && time.as_bytes()[5] == b':'
        && rest == format!("{who}@{DOMAIN}: {text}")
}

/// alice connected and in Lobby, with her events and the room.
async fn alice_in_lobby(
    data: &DataDir,
    server: &common::Server,
) -> (Client, parlance_client::Events, parlance_client::RoomInfo) {
    let (alice, events) = Client::connect(client_config(data, server, "alice"))
        .await
        .unwrap();
    let lobby = alice.find_room("Lobby").await.unwrap();
    alice.join(&lobby.uri).await.unwrap();
    (alice, events, lobby)
}

/// Waits until someone joins the room of `events`' client.
async fn joined(events: &mut parlance_client::Events) {
    loop {
        if let Some(Event::MemberJoined { .. }) =
            tokio::time::timeout(WAIT, events.next()).await.unwrap()
        {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_refuses_a_bad_line_and_reads_the_next() {
    let data = DataDir::new("plain-refuses");
    let server = chat_server(&data);
    let (_alice, mut alice_events, _lobby) = alice_in_lobby(&data, &server).await;
    let (mut plain, lines) = plain_chat(&server, "bob", &[]);
    joined(&mut alice_events).await;

    let mut stdin = plain.stdin.take().unwrap();
    // Over the server's message size (16 KiB by default): the server refuses it.
    writeln!(stdin, "{}", "x".repeat(20 * 1024)).unwrap();
    // Over what a line may have: never kept whole, never sent.
    writeln!(stdin, "{}", "y".repeat(300 * 1024)).unwrap();
    stdin.write_all(b"caf\xe9\n").unwrap();
    writeln!(stdin, "still here").unwrap();
    let echoed = lines.recv_timeout(WAIT).expect("a line from --plain");
    assert!(
        is_line(&echoed, "bob", "still here"),
        "the line after the refused ones is posted: {echoed:?}"
    );
    drop(stdin);
    let out = plain.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "parlance: refused: the message is too large for Lobby",
            "parlance: refused: the line has 307200 bytes, more than the 262144 a line may have",
            "parlance: refused: the line is not UTF-8 text",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_follow_ends_when_the_session_does_though_stdin_stays_open() {
    let data = DataDir::new("plain-follow-ends");
    let server = chat_server(&data);
    let (_alice, mut alice_events, _lobby) = alice_in_lobby(&data, &server).await;
    let (mut plain, _lines) = plain_chat(&server, "bob", &["--follow"]);
    joined(&mut alice_events).await;

    let disabled = common::parlance(&data.0)
        .args(["user", "disable", &format!("bob@{DOMAIN}")])
        .output()
        .unwrap();
    assert!(disabled.status.success());
    // The session ends at the server, and standard input is still open: --plain must end
    // all the same. The bound only keeps a hang from stalling the suite.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = plain.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "--plain --follow still runs after its session ended"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut plain.stderr.take().unwrap(), &mut stderr).unwrap();
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains(&format!("bob@{DOMAIN}")),
        "the reason is the last line: {stderr}"
    );
    drop(plain.stdin.take());
}

/// Runs `parlance chat` expecting failure; returns its standard error.
fn fails(args: &[&str], password: &str) -> String {
    let out = Command::new(BIN)
        .arg("chat")
        .args(args)
        .env("PARLANCE_PASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(
        stderr.starts_with("error: ") && stderr.lines().count() == 1,
        "one sentence: {stderr:?}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    stderr.trim_end().to_owned()
}

#[test]
fn failures_are_one_sentence_and_a_nonzero_exit() {
    let data = DataDir::new("errors");
    let server = chat_server(&data);
    let tls = server.tls.to_string();
    let cert = data.cert().display().to_string();
    let alice = format!("alice@{DOMAIN}");

    let err = fails(
        &["--server", &tls, "--user", &alice, "--ca", &cert],
        "guess",
    );
    assert_eq!(
        err,
        format!("error: the server refused the password for {alice}")
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let err = fails(
        &["--server", &closed, "--user", &alice, "--ca", &cert],
        PASSWORD,
    );
    assert!(
        err.starts_with(&format!("error: cannot reach {closed}: ")),
        "{err}"
    );

    let other = DataDir::new("errors-other");
    drop(serve(&other.0));
    let err = fails(
        &[
            "--server",
            &tls,
            "--user",
            &alice,
            "--ca",
            &other.cert().display().to_string(),
        ],
        PASSWORD,
    );
    assert!(
        err.contains("was refused because it is not signed by an authority you trust")
            && err.contains("--pin"),
        "{err}"
    );
    let wrong_pin = "00".repeat(32);
    let err = fails(
        &["--server", &tls, "--user", &alice, "--pin", &wrong_pin],
        PASSWORD,
    );
    assert!(
        err.contains("does not match the pinned fingerprint"),
        "{err}"
    );

    let err = fails(
        &[
            "--server", &tls, "--user", &alice, "--ca", &cert, "--plain", "--room", "Closed",
        ],
        PASSWORD,
    );
    assert_eq!(err, "error: you may not join Closed");
    let err = fails(
        &[
            "--server", &tls, "--user", &alice, "--ca", &cert, "--plain", "--room", "Nowhere",
        ],
        PASSWORD,
    );
    assert_eq!(err, "error: there is no room Nowhere");
}
