//! Running the real binary in tests: a throw-away data directory, `parlance serve` on free
//! loopback ports, the admin commands, and a terminal (tmux) to drive `parlance chat` in.
//! Each test file uses its own part of it.
#![allow(dead_code)]

pub mod tmux;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_parlance");
pub const DOMAIN: &str = "example.test";
pub const PASSWORD: &str = "correct horse";

/// A data directory, removed at the end of the test.
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn new(name: &str) -> DataDir {
        let dir = std::env::temp_dir().join(format!("parlance-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        DataDir(dir)
    }

    pub fn cert(&self) -> PathBuf {
        self.0.join("tls-cert.pem")
    }

    /// Makes every command run on this data directory use the store at `url`.
    pub fn use_store(&self, url: &str) {
        std::fs::write(self.0.join(STORE_URL_FILE), url).unwrap();
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn parlance(data: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(data)
        .arg("--domain")
        .arg(DOMAIN)
        .env_remove("PARLANCE_PASSWORD")
        .env_remove("PARLANCE_STORE");
    // A test running the installation on PostgreSQL leaves the store's URL here
    // ([`DataDir::use_store`]); every command of that installation goes there.
    if let Ok(url) = std::fs::read_to_string(data.join(STORE_URL_FILE)) {
        c.arg("--store").arg(url.trim());
    }
    c
}

/// Whether a finished command succeeded, and what it wrote (its output, then its errors).
pub fn outcome(out: std::process::Output) -> (bool, String) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The file of a data directory naming the store its commands use instead of SQLite.
const STORE_URL_FILE: &str = "test-store.url";

/// Runs an admin command (`user add …` reads the password from stdin) and insists it works.
pub fn admin(data: &Path, args: &[&str]) {
    let mut cmd = parlance(data);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if args.first() == Some(&"user") {
        cmd.arg("--password-stdin");
    }
    let mut child = cmd.spawn().unwrap();
    // Only `user` commands read the password; another may have ended before it is written
    // (a broken pipe), and one that fails says why in its own output below.
    let mut stdin = child.stdin.take().unwrap();
    if args.first() == Some(&"user") {
        let _ = writeln!(stdin, "{PASSWORD}");
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "parlance {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `parlance serve`, killed at the end of the test.
pub struct Server {
    child: Child,
    pub tcp: SocketAddr,
    pub tls: SocketAddr,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL, as a crash: it cleans nothing up.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Stops the server as an operator would (SIGTERM) and returns how it exited.
    pub fn terminate(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM");
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `serve` with every listener on a free loopback port.
pub const SERVE_ON_FREE_PORTS: [&str; 9] = [
    "serve",
    "--sip-tcp",
    "127.0.0.1:0",
    "--sip-tls",
    "127.0.0.1:0",
    "--https",
    "127.0.0.1:0",
    "--admin",
    "127.0.0.1:0",
];

/// Starts `serve` on free loopback ports, read from its banner.
pub fn serve(data: &Path) -> Server {
    serve_with(data, &SERVE_ON_FREE_PORTS)
}

/// Starts `serve` with SIP over TLS at `tls`, the other listeners on free loopback ports.
pub fn serve_at(data: &Path, tls: SocketAddr) -> Server {
    let tls = tls.to_string();
    let mut args = SERVE_ON_FREE_PORTS;
    args[4] = &tls;
    serve_with(data, &args)
}

/// Starts `serve` with `args`, reading the SIP listeners' addresses from its banner.
pub fn serve_with(data: &Path, args: &[&str]) -> Server {
    let mut child = parlance(data)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    let (mut tcp, mut tls) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tcp.is_none() || tls.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match lines.recv_timeout(left) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no banner from parlance serve: {e}");
            }
        };
        if let Some(addr) = line.trim().strip_prefix("SIP over TCP") {
            tcp = Some(addr.trim().parse().unwrap());
        }
        if let Some(addr) = line.trim().strip_prefix("SIP over TLS") {
            tls = Some(addr.trim().parse().unwrap());
        }
    }
    Server {
        child,
        tcp: tcp.unwrap(),
        tls: tls.unwrap(),
    }
}

/// The lines of a child's output, read on a thread of their own so that waiting for one
/// can be bounded. The thread reads to the end even when nobody listens any more: a full
/// pipe would block the server.
pub fn lines_of(output: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// A server with alice and bob, a category and the rooms Lobby (open, topic "Say hi")
/// and Closed (members only, and bob is none).
pub fn chat_server(data: &DataDir) -> Server {
    let server = serve(&data.0);
    for user in ["alice", "bob"] {
        admin(&data.0, &["user", "add", &format!("{user}@{DOMAIN}")]);
    }
    admin(&data.0, &["category", "add", "Eng"]);
    admin(
        &data.0,
        &[
            "room",
            "add",
            "Lobby",
            "--category",
            "Eng",
            "--topic",
            "Say hi",
        ],
    );
    admin(
        &data.0,
        &[
            "room",
            "add",
            "Closed",
            "--category",
            "Eng",
            "--privacy",
            "closed",
        ],
    );
    server
}

/// The client library's settings for a user of `server`, trusting its certificate.
pub fn client_config(data: &DataDir, server: &Server, user: &str) -> parlance_client::ClientConfig {
    let trust = parlance_client::Trust::ca_file(&data.cert()).unwrap();
    parlance_client::ClientConfig::new(
        server.tls.to_string(),
        format!("{user}@{DOMAIN}"),
        PASSWORD,
        parlance_client::Transport::Tls(trust),
    )
}

/// The store and file store of an installation, opened as the admin commands open them.
pub async fn open_data(data: &Path) -> (parlance_store::Store, parlance_files::FileStore) {
    let config = parlance_server::config::Config {
        domain: DOMAIN.into(),
        data_dir: data.to_owned(),
        ..Default::default()
    };
    let (store, key) = parlance_server::installation::open(
        &config,
        parlance_server::installation::Access::Existing,
    )
    .await
    .unwrap();
    let files = parlance_server::open_file_store(&config, &key)
        .await
        .unwrap();
    (store, files)
}

/// A complete file of `room` named `name`, as an upload leaves it: its row and its blob.
pub async fn stored_file(
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
