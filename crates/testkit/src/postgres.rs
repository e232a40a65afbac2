//! A private PostgreSQL server for one test binary: `initdb` into a temporary directory,
//! started on a free loopback port with its socket in that directory, never the system's
//! service. Each test gets a database of its own on it.
//!
//! The server's lifetime is a pipe: a shell holds the server and waits for the end of its
//! standard input, which is the test process's end of a pipe. However the test binary
//! ends — passing, failing, aborted — the pipe closes, and the shell stops the server and
//! removes the directory. `initdb` refuses to run as root, so as root the shell runs as
//! `nobody` (through `runuser`); as anyone else it runs as that user.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use sqlx::Connection;

const SCRIPT: &str = r#"
set -e
bin=$1; port=$2
dir=$(mktemp -d /tmp/parlance-pg-XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$bin/initdb" -D "$dir/data" -U parlance --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
"$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || { cat "$dir/log" >&2; exit 1; }
echo ready
read _ || true
"$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
"#;

struct Server {
    port: u16,
    /// Held, never used: its standard input is the pipe whose end stops the server.
    _shell: Mutex<Child>,
}

/// The directory of the newest PostgreSQL's programs installed the Debian way.
pub fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).expect(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): \
         install the Debian package `postgresql` (scripts/test does)",
    )
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let bin = bin_dir();
        let root = is_root();
        let mut command = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--", "sh"]);
            c
        } else {
            Command::new("sh")
        };
        let mut shell = command
            .args(["-c", SCRIPT, "sh"])
            .arg(&bin)
            .arg(port.to_string())
            .current_dir("/tmp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the shell that runs PostgreSQL starts");
        let mut line = String::new();
        BufReader::new(shell.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "PostgreSQL did not start");
        Server {
            port,
            _shell: Mutex::new(shell),
        }
    })
}

/// Whether this process runs as root (`initdb` refuses to).
pub fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

fn url(database: &str) -> String {
    format!("postgres://parlance@127.0.0.1:{}/{database}", server().port)
}

/// The URL of a new, empty database that no other test uses.
pub async fn fresh_database() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "test_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let mut admin = sqlx::PgConnection::connect(&url("postgres")).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    url(&name)
}

/// Drops a database [`fresh_database`] made.
pub async fn drop_database(database_url: &str) {
    let name = database_url.rsplit('/').next().unwrap();
    let mut admin = sqlx::PgConnection::connect(&url("postgres")).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
}
