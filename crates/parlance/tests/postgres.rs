//! One server on PostgreSQL end to end (`--store postgres://…`), and `parlance
//! migrate-store` moving a SQLite installation there. The PostgreSQL server is the test
//! kit's private one, started for this test binary.

mod common;

use parlance_testkit::postgres;

use std::process::Stdio;

use common::{DataDir, chat_server, client_config, outcome, parlance, serve};
use parlance_client::{Client, HistoryQuery};
use parlance_store::Store;
use parlance_store::history::HistoryQuery as StoreQuery;

fn texts(lines: &[parlance_client::ChatLine]) -> Vec<&str> {
    lines.iter().map(|l| l.text.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_postgres_signs_in_joins_posts_reads_and_searches() {
    let url = postgres::fresh_database().await;
    let data = DataDir::new("pg-serve");
    data.use_store(&url);
    let server = chat_server(&data);

    let (alice, _alice_events) = Client::connect(client_config(&data, &server, "alice"))
        .await
        .expect("alice signs in over SIP with the secrets PostgreSQL holds");
    let lobby = alice.find_room("Lobby").await.unwrap();
    alice.join(&lobby.uri).await.unwrap();
    alice.post(&lobby.uri, "deploy on Friday").await.unwrap();
    alice.post(&lobby.uri, "lunch at noon").await.unwrap();

    let (bob, _bob_events) = Client::connect(client_config(&data, &server, "bob"))
        .await
        .expect("bob signs in");
    let joined = bob.join(&lobby.uri).await.unwrap();
    assert_eq!(
        texts(&joined.history),
        ["deploy on Friday", "lunch at noon"]
    );
    let last = bob
        .history(&lobby.uri, HistoryQuery::Last(1))
        .await
        .unwrap();
    assert_eq!(texts(&last), ["lunch at noon"]);
    let found = bob
        .history(
            &lobby.uri,
            HistoryQuery::Search {
                text: "FRIDAY deploy".into(),
                count: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(texts(&found), ["deploy on Friday"]);
    alice.close().await;
    bob.close().await;

    // The messages are in PostgreSQL, and no SQLite database was made.
    assert!(!data.0.join("parlance.db").exists());
    let store = Store::open(&url).await.unwrap();
    let room = store.find_room("Lobby").await.unwrap().unwrap();
    let viewer = store.user("bob@example.test").await.unwrap().unwrap().id;
    let stored = store
        .read_history(room.room.id, viewer, &StoreQuery::Last(10), 0)
        .await
        .unwrap();
    assert_eq!(stored.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2]);
    store.close().await;
    drop(server);
    postgres::drop_database(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_store_moves_a_sqlite_installation_that_then_serves_from_postgres() {
    let data = DataDir::new("pg-migrate");
    let mut server = chat_server(&data);
    let (alice, _events) = Client::connect(client_config(&data, &server, "alice"))
        .await
        .unwrap();
    let lobby = alice.find_room("Lobby").await.unwrap();
    alice.join(&lobby.uri).await.unwrap();
    alice.post(&lobby.uri, "said on SQLite").await.unwrap();
    alice.close().await;
    assert!(server.terminate().success());

    let url = postgres::fresh_database().await;
    let from = format!("sqlite:{}", data.0.join("parlance.db").display());
    let migrate = || {
        parlance(&data.0)
            .args(["migrate-store", "--from", &from, "--to", &url])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    let out = migrate();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let messages = stdout
        .lines()
        .find(|l| l.starts_with("messages "))
        .unwrap_or_else(|| panic!("a line for messages: {stdout}"));
    let fields: Vec<&str> = messages.split_whitespace().collect();
    assert_eq!(fields[1], "1", "{messages}");
    assert_eq!(fields[2].len(), 32, "a checksum: {messages}");

    // The same installation, now on PostgreSQL.
    data.use_store(&url);
    let server = serve(&data.0);
    let (bob, _events) = Client::connect(client_config(&data, &server, "bob"))
        .await
        .expect("bob's secrets moved");
    let joined = bob.join(&lobby.uri).await.unwrap();
    assert_eq!(texts(&joined.history), ["said on SQLite"]);
    bob.post(&lobby.uri, "said on PostgreSQL").await.unwrap();
    let found = bob
        .history(
            &lobby.uri,
            HistoryQuery::Search {
                text: "said".into(),
                count: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(texts(&found), ["said on SQLite", "said on PostgreSQL"]);
    let ids: Vec<Option<u64>> = found.iter().map(|l| l.id).collect();
    assert_eq!(ids, [Some(1), Some(2)], "the sequence continues");
    bob.close().await;
    drop(server);

    // A second run finds the target in use and changes nothing.
    let out = migrate();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not empty"), "{stderr}");
    postgres::drop_database(&url).await;
}

/// The installation's rules hold on PostgreSQL as on SQLite: a command beside a server
/// neither creates nor migrates the database (an empty one is refused until `init`), `init`
/// records the identity there, another domain is refused, and `backup` refuses to copy a
/// PostgreSQL store, leaving no directory behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installation_rules_hold_on_postgres() {
    let url = postgres::fresh_database().await;
    let data = DataDir::new("pg-install");
    data.use_store(&url);
    let run = |args: &[&str]| outcome(parlance(&data.0).args(args).output().unwrap());

    for command in [&["user", "list"][..], &["migrate"]] {
        let (ok, text) = run(command);
        assert!(!ok && text.contains("no Parlance installation"), "{text}");
    }
    let store = Store::open_existing(&url).await;
    assert!(store.is_err(), "still empty: nothing was migrated");

    let (ok, text) = run(&["init"]);
    assert!(ok, "{text}");
    let store = Store::open_existing(&url).await.unwrap();
    let recorded = store.installation().await.unwrap().unwrap();
    assert_eq!(recorded.domain, common::DOMAIN);
    store.close().await;
    let (ok, text) = run(&["user", "list"]);
    assert!(ok, "{text}");

    let (ok, text) = outcome(
        std::process::Command::new(common::BIN)
            .args([
                "--data-dir",
                data.0.to_str().unwrap(),
                "--domain",
                "other.test",
            ])
            .args(["--store", &url, "user", "list"])
            .output()
            .unwrap(),
    );
    assert!(!ok && text.contains("other.test"), "{text}");

    let dest = data.0.join("backup");
    let (ok, text) = run(&["backup", dest.to_str().unwrap()]);
    assert!(!ok && text.contains("pg_dump"), "{text}");
    assert!(!dest.exists(), "no backup directory made");
    postgres::drop_database(&url).await;
}

/// `parlance pool status` on PostgreSQL: a serving node is listed live with its channel and
/// addresses; killed with SIGKILL it stays listed, marked DEAD once its heartbeat is older
/// than the node timeout; a server started again is a new node, which removes the dead one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_status_lists_the_nodes_and_marks_a_killed_one_dead() {
    let url = postgres::fresh_database().await;
    let data = DataDir::new("pg-pool");
    data.use_store(&url);
    let status = || {
        let out = parlance(&data.0).args(["pool", "status"]).output().unwrap();
        let (success, text) = outcome(out);
        assert!(success, "pool status: {text}");
        text
    };
    let until = |done: &dyn Fn(&str) -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let text = status();
            if done(&text) {
                return text;
            }
            assert!(std::time::Instant::now() < deadline, "never: {text}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    let mut server = serve(&data.0);
    let live = status();
    let fields: Vec<&str> = live.lines().next().unwrap().split('\t').collect();
    assert_eq!(fields.len(), 8, "{live}");
    assert_eq!(fields[1], "live", "{live}");
    assert_eq!(fields[2], "sip:chatsrv@example.test");
    assert!(fields[3].contains(&server.tls.to_string()), "{live}");
    assert!(fields[5].contains("0 joined"), "{live}");
    assert!(fields[6].starts_with("heartbeat "), "{live}");
    let first = fields[0].to_owned();

    server.kill();
    let dead = until(&|text| text.contains("\tDEAD\t"));
    assert!(dead.starts_with(&first), "{dead}");

    let again = serve(&data.0);
    let after = until(&|text| !text.contains(&first));
    assert_eq!(
        after.lines().filter(|l| l.contains("\tlive\t")).count(),
        1,
        "{after}"
    );
    drop(again);
    postgres::drop_database(&url).await;
}
