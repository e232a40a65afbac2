//! The data directory as one installation (docs/operations.md), driven through the real
//! binary: only `serve` and `init` create one, a running server holds its lock, the domain
//! and the server key are checked, the schema is changed only by `migrate` (or a start),
//! and a backup of a running server restores into a working one.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{
    BIN, DOMAIN, DataDir, PASSWORD, admin, chat_server, client_config, open_data, outcome, serve,
    stored_file,
};
use parlance_client::Client;
use parlance_store::Store;
use parlance_tests::SipConn;

/// Every command that needs an installation, with arguments that would succeed on one.
const ADMIN_COMMANDS: &[&[&str]] = &[
    &["user", "list"],
    &["user", "add", "alice@example.test"],
    &["user", "passwd", "alice@example.test"],
    &["user", "remove", "alice@example.test"],
    &["category", "list"],
    &["category", "add", "Eng"],
    &["room", "list"],
    &["room", "add", "Lobby", "--category", "Eng"],
    &["file", "list", "Lobby"],
    &["compliance", "export"],
    &["compliance", "purge"],
    &["domain", "show"],
    &["domain", "set", "other.test"],
];

/// Runs `parlance --data-dir DATA --domain DOMAIN ARGS…` (passwords from the environment)
/// and returns whether it succeeded and what it wrote.
fn run_as(data: &Path, domain: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["--domain", domain])
        .args(args)
        .env("PARLANCE_PASSWORD", PASSWORD)
        .env_remove("PARLANCE_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (success, text) = outcome(out);
    assert!(!text.contains("panicked"), "{text}");
    (success, text)
}

fn run(data: &Path, args: &[&str]) -> (bool, String) {
    run_as(data, DOMAIN, args)
}

fn ok(data: &Path, args: &[&str]) -> String {
    let (success, text) = run(data, args);
    assert!(success, "parlance {args:?}: {text}");
    text
}

/// Runs the command, insists that it fails, and returns its output.
fn refused(data: &Path, domain: &str, args: &[&str]) -> String {
    let (success, text) = run_as(data, domain, args);
    assert!(!success, "parlance {args:?} should fail: {text}");
    text
}

/// `serve` on free ports that must refuse to start; its error.
fn serve_refused(data: &Path, domain: &str) -> String {
    refused(
        data,
        domain,
        &[
            "serve",
            "--sip-tcp",
            "127.0.0.1:0",
            "--sip-tls",
            "off",
            "--https",
            "off",
        ],
    )
}

#[test]
fn commands_refuse_a_missing_installation_and_create_nothing() {
    let base = DataDir::new("missing");
    let data = base.0.join("not/here");
    for args in ADMIN_COMMANDS.iter().chain([&["migrate"][..]].iter()) {
        let text = refused(&data, DOMAIN, args);
        assert!(
            text.contains(&data.display().to_string()) && text.contains("parlance init"),
            "parlance {args:?}: {text}"
        );
    }
    let dest = base.0.join("backup");
    let text = refused(&data, DOMAIN, &["backup", dest.to_str().unwrap()]);
    assert!(text.contains("parlance init"), "{text}");
    assert!(!base.0.join("not").exists(), "nothing created");
    assert!(!dest.exists(), "no backup directory either");

    // An existing but empty directory is no installation either, and stays empty.
    std::fs::create_dir_all(&data).unwrap();
    let text = refused(&data, DOMAIN, &["user", "list"]);
    assert!(text.contains("no Parlance installation"), "{text}");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);

    let created = ok(&data, &["init"]);
    assert!(created.contains("created the installation"), "{created}");
    for file in ["parlance.db", "server.key", "tls-cert.pem", "tls-key.pem"] {
        assert!(data.join(file).exists(), "{file}");
    }
    assert!(ok(&data, &["init"]).contains("checked the installation"));
    ok(&data, &["user", "add", "alice@example.test"]);
    assert!(ok(&data, &["user", "list"]).contains("sip:alice@example.test"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_is_refused_while_admin_commands_work_beside_the_first() {
    let data = DataDir::new("locked");
    let mut first = serve(&data.0);
    let lock = data.0.join("parlance.lock");

    let text = serve_refused(&data.0, DOMAIN);
    assert!(
        text.contains(&lock.display().to_string())
            && text.contains(&format!("pid {}", first.pid())),
        "{text}"
    );
    for args in [&["migrate"][..], &["init"]] {
        let text = refused(&data.0, DOMAIN, args);
        assert!(text.contains("a server is running"), "{args:?}: {text}");
    }

    // Beside it, the administration goes on, and the server sees what it does.
    ok(&data.0, &["user", "add", "alice@example.test"]);
    let mut sip = SipConn::tcp(first.tcp).await;
    assert_eq!(sip.register("alice", PASSWORD).await.status, 200);

    assert!(first.terminate().success());
    let mut second = serve(&data.0);
    assert!(second.terminate().success(), "the lock went with the first");
}

#[test]
fn a_relative_data_dir_in_a_config_file_is_beside_the_file() {
    let base = DataDir::new("config-relative");
    let etc = base.0.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let file = etc.join("parlance.toml");
    std::fs::write(&file, "domain = \"example.test\"\ndata_dir = \"state\"\n").unwrap();
    let elsewhere = base.0.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&file)
        .arg("init")
        .current_dir(&elsewhere)
        .env_remove("PARLANCE_DATA_DIR")
        .env_remove("PARLANCE_DOMAIN")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(etc.join("state/parlance.db").exists());
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn a_foreign_domain_is_refused_until_the_domain_is_changed() {
    let data = DataDir::new("domain");
    ok(&data.0, &["init"]);
    ok(&data.0, &["user", "add", "alice@example.test"]);

    for args in ADMIN_COMMANDS.iter().filter(|a| a[0] != "domain") {
        let text = refused(&data.0, "other.test", args);
        assert!(
            text.contains("serves the domain example.test, but other.test is configured")
                && text.contains("parlance domain set other.test"),
            "{args:?}: {text}"
        );
    }
    assert!(serve_refused(&data.0, "other.test").contains("example.test"));
    assert!(refused(&data.0, "other.test", &["init"]).contains("example.test"));

    // `domain show|set` work whatever domain is configured: they are how it is mended.
    assert_eq!(
        run_as(&data.0, "other.test", &["domain", "show"]).1,
        "example.test\n"
    );
    let (success, text) = run_as(&data.0, "other.test", &["domain", "set", "Other.Test"]);
    assert!(success && text.contains("now serves other.test"), "{text}");
    assert!(
        text.contains("1 accounts have addresses in example.test"),
        "{text}"
    );
    let (success, text) = run_as(&data.0, "other.test", &["user", "list"]);
    assert!(success && text.contains("sip:alice@example.test"), "{text}");
    refused(&data.0, DOMAIN, &["user", "list"]);
    let text = refused(&data.0, "other.test", &["domain", "set", "not a host"]);
    assert!(text.contains("not a host name"), "{text}");
}

#[test]
fn a_missing_or_wrong_server_key_stops_the_start() {
    let data = DataDir::new("key");
    ok(&data.0, &["init"]);
    ok(&data.0, &["user", "add", "alice@example.test"]);
    let key = data.0.join("server.key");
    let saved = std::fs::read(&key).unwrap();

    std::fs::remove_file(&key).unwrap();
    let text = serve_refused(&data.0, DOMAIN);
    assert!(
        text.contains(&key.display().to_string())
            && text.contains("is missing")
            && text.contains("restore server.key from the backup"),
        "{text}"
    );
    assert!(!key.exists(), "no new key made in its place");
    refused(&data.0, DOMAIN, &["user", "list"]);

    std::fs::write(&key, [7u8; 32]).unwrap();
    let text = serve_refused(&data.0, DOMAIN);
    assert!(text.contains("is not the key"), "{text}");
    refused(&data.0, DOMAIN, &["user", "passwd", "alice@example.test"]);
    std::fs::write(&key, b"short").unwrap();
    assert!(serve_refused(&data.0, DOMAIN).contains("is not the key"));

    std::fs::write(&key, &saved).unwrap();
    ok(&data.0, &["user", "list"]);
}

/// A raw connection to the installation's database, below the store.
async fn database(data: &Path) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(data.join("parlance.db"));
    sqlx::SqlitePool::connect_with(options).await.unwrap()
}

/// What the newest migration (0018, the outbox's packed header) changed, taken back.
const UNDO_NEWEST: &str = "ALTER TABLE compliance_outbox DROP COLUMN packed_header";

#[tokio::test]
async fn only_migrate_and_serve_change_the_schema() {
    let data = DataDir::new("schema");
    ok(&data.0, &["init"]);
    ok(&data.0, &["user", "add", "alice@example.test"]);
    let newest = Store::known_schema();
    assert_eq!(
        newest, 18,
        "a new migration: make UNDO_NEWEST undo it, so that this test sees the build before"
    );

    // As a database of the build before this one: the newest migration not applied.
    let pool = database(&data.0).await;
    sqlx::raw_sql(&format!(
        "{UNDO_NEWEST}; DELETE FROM _sqlx_migrations WHERE version = {newest}"
    ))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    for args in ADMIN_COMMANDS {
        let text = refused(&data.0, DOMAIN, args);
        assert!(
            text.contains("older than this build's") && text.contains("parlance migrate"),
            "{args:?}: {text}"
        );
    }
    let text = ok(&data.0, &["migrate"]);
    assert!(text.contains(&format!("schema {newest}")), "{text}");
    assert!(ok(&data.0, &["user", "list"]).contains("sip:alice@example.test"));

    // As a database of a newer Parlance.
    let pool = database(&data.0).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, 'from the future', TRUE, x'00', 0)",
    )
    .bind(newest + 1)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let future = format!("schema {}, this build knows {newest}", newest + 1);
    for args in ADMIN_COMMANDS
        .iter()
        .chain([&["migrate"][..], &["init"]].iter())
    {
        let text = refused(&data.0, DOMAIN, args);
        assert!(text.contains(&future), "{args:?}: {text}");
    }
    assert!(serve_refused(&data.0, DOMAIN).contains(&future));
}

fn backup_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("parlance-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_running_server_restores_with_accounts_history_and_files() {
    let data = DataDir::new("backup");
    let mut server = chat_server(&data);
    let (alice, _events) = Client::connect(client_config(&data, &server, "alice"))
        .await
        .unwrap();
    let lobby = alice.find_room("Lobby").await.unwrap().uri;
    alice.join(&lobby).await.unwrap();
    alice.post(&lobby, "before the backup").await.unwrap();
    // A stored file, as an upload leaves it (the file service's URL names the domain,
    // which does not resolve here).
    let name = "7c9e6679-7425-40de-944b-e07fc1f90ae7.txt";
    let (store, files) = open_data(&data.0).await;
    let room = store.find_room("Lobby").await.unwrap().unwrap();
    let author = store.user("alice@example.test").await.unwrap().unwrap().id;
    stored_file(&store, &files, &room, author, name).await;
    store.close().await;

    let dest = backup_dir("backup-dest");
    let text = ok(&data.0, &["backup", dest.to_str().unwrap()]);
    assert!(text.contains("backed up example.test"), "{text}");
    alice.post(&lobby, "after the backup").await.unwrap();
    alice.close().await;
    // Into a directory that is not empty, never.
    let text = refused(&data.0, DOMAIN, &["backup", dest.to_str().unwrap()]);
    assert!(text.contains("is not empty"), "{text}");

    // Not over the running installation, even when forced.
    let text = refused(
        &data.0,
        DOMAIN,
        &["restore", dest.to_str().unwrap(), "--force"],
    );
    assert!(
        text.contains("a server is running") && text.contains("stop the server"),
        "{text}"
    );
    assert!(server.terminate().success());
    let text = refused(&data.0, DOMAIN, &["restore", dest.to_str().unwrap()]);
    assert!(text.contains("--force"), "{text}");

    std::fs::remove_dir_all(&data.0).unwrap();
    let text = ok(&data.0, &["restore", dest.to_str().unwrap()]);
    assert!(text.contains("restored example.test"), "{text}");

    let server = serve(&data.0);
    let (bob, _events) = Client::connect(client_config(&data, &server, "bob"))
        .await
        .expect("bob signs in with the password he had");
    let joined = bob.join(&lobby).await.unwrap();
    let said: Vec<&str> = joined.history.iter().map(|l| l.text.as_str()).collect();
    assert!(said.contains(&"before the backup"), "{said:?}");
    assert!(!said.contains(&"after the backup"), "{said:?}");
    let (store, files) = open_data(&data.0).await;
    let mut blob = files.open(&room.room.guid, name).await.unwrap();
    assert_eq!(&blob.read_at(0, 100).await.unwrap()[..], b"hello");
    store.close().await;
    bob.close().await;
    drop(server);

    // --force replaces a stopped installation.
    ok(&data.0, &["restore", dest.to_str().unwrap(), "--force"]);
    std::fs::remove_dir_all(&dest).unwrap();
}

#[test]
fn a_damaged_backup_is_refused_before_anything_is_replaced() {
    let data = DataDir::new("damaged");
    ok(&data.0, &["init"]);
    admin(&data.0, &["user", "add", "alice@example.test"]);
    let dest = backup_dir("damaged-dest");
    ok(&data.0, &["backup", dest.to_str().unwrap()]);
    let target = DataDir::new("damaged-target");

    let key = dest.join("server.key");
    let saved = std::fs::read(&key).unwrap();
    std::fs::write(&key, [1u8; 32]).unwrap();
    let text = refused(&target.0, DOMAIN, &["restore", dest.to_str().unwrap()]);
    assert!(
        text.contains("server.key does not match its manifest"),
        "{text}"
    );
    let elsewhere = target.0.join("key-elsewhere");
    std::fs::write(&elsewhere, &saved).unwrap();
    std::fs::remove_file(&key).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &key).unwrap();
    let text = refused(&target.0, DOMAIN, &["restore", dest.to_str().unwrap()]);
    assert!(text.contains("symbolic link"), "{text}");
    std::fs::remove_file(&key).unwrap();
    std::fs::remove_file(&elsewhere).unwrap();
    std::fs::write(&key, &saved).unwrap();

    let manifest = dest.join("manifest.json");
    let good = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        good.replace("\"server.key\"", "\"../server.key\""),
    )
    .unwrap();
    let text = refused(&target.0, DOMAIN, &["restore", dest.to_str().unwrap()]);
    assert!(text.contains("not a plain relative path"), "{text}");
    std::fs::write(&manifest, "{").unwrap();
    let text = refused(&target.0, DOMAIN, &["restore", dest.to_str().unwrap()]);
    assert!(text.contains("is damaged"), "{text}");
    assert!(!target.0.join("parlance.db").exists() && !target.0.join("server.key").exists());

    std::fs::write(&manifest, good).unwrap();
    ok(&target.0, &["restore", dest.to_str().unwrap()]);
    assert!(ok(&target.0, &["user", "list"]).contains("sip:alice@example.test"));
    std::fs::remove_dir_all(&dest).unwrap();
}
