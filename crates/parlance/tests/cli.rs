//! The binary end to end: `serve` with no configuration beyond a data directory, and the
//! user commands working beside the running server.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use parlance_tests::SipConn;

const BIN: &str = env!("CARGO_BIN_EXE_parlance");

fn parlance(data: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(data)
        .arg("--domain")
        .arg("example.test")
        .env_remove("PARLANCE_PASSWORD");
    c
}

fn user(data: &Path, args: &[&str], password: Option<&str>) -> (bool, String) {
    let mut cmd = parlance(data);
    cmd.arg("user")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if password.is_some() {
        cmd.arg("--password-stdin");
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(pw) = password {
        writeln!(child.stdin.take().unwrap(), "{pw}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A running `parlance serve`, killed if the test ends before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve` on free loopback ports and returns it with its TCP address (from the banner).
fn serve(data: &Path) -> (Running, SocketAddr) {
    let mut child = parlance(data)
        .args([
            "serve",
            "--sip-tcp",
            "127.0.0.1:0",
            "--sip-tls",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let child = Running(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let line = lines.next().expect("banner").unwrap();
        if let Some(addr) = line.trim().strip_prefix("SIP over TCP") {
            let addr = addr.trim().parse().unwrap();
            std::thread::spawn(move || lines.for_each(drop));
            return (child, addr);
        }
    }
    panic!("no banner");
}

#[tokio::test]
async fn users_are_managed_while_the_server_runs() {
    let data = std::env::temp_dir().join(format!("parlance-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let (mut server, addr) = serve(&data);
    assert!(
        data.join("tls-cert.pem").exists(),
        "self-signed certificate created"
    );
    assert!(data.join("server.key").exists());

    let (ok, out) = user(&data, &["add", "alice@example.test"], Some("first"));
    assert!(ok, "{out}");
    let (ok, out) = user(&data, &["add", "alice@example.test"], Some("again"));
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = user(&data, &["add", "eve@elsewhere.test"], Some("x"));
    assert!(!ok && out.contains("not in this server's domain"), "{out}");
    let (ok, out) = user(&data, &["list"], None);
    assert!(ok && out.contains("sip:alice@example.test"), "{out}");

    let mut c = SipConn::tcp(addr).await;
    assert_eq!(c.register("alice", "first").await.status, 200);
    let (ok, out) = user(&data, &["passwd", "alice@example.test"], Some("second"));
    assert!(ok, "{out}");
    let mut c = SipConn::tcp(addr).await;
    assert_eq!(
        c.register("alice", "second").await.status,
        200,
        "the new password works at once"
    );

    let (ok, out) = user(&data, &["remove", "alice@example.test"], None);
    assert!(ok, "{out}");
    let (ok, out) = user(&data, &["remove", "alice@example.test"], None);
    assert!(!ok && out.contains("does not exist"), "{out}");

    // SIGTERM: a graceful, successful exit.
    Command::new("kill")
        .arg("-TERM")
        .arg(server.0.id().to_string())
        .status()
        .unwrap();
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn a_bad_configuration_is_one_clear_sentence() {
    let dir = std::env::temp_dir().join(format!("parlance-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("parlance.toml");
    std::fs::write(
        &cfg,
        "domain = \"example.test\"\n[sip]\ntcp_lisen = \"0.0.0.0:5060\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["user", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("tcp_lisen"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
