//! The binary end to end: `serve` with no configuration beyond a data directory, and the
//! user commands working beside the running server.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{BIN, DataDir, parlance, serve};
use parlance_tests::SipConn;

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

#[tokio::test]
async fn users_are_managed_while_the_server_runs() {
    let dir = DataDir::new("cli");
    let data = dir.0.as_path();
    let mut server = serve(data);
    let addr = server.tcp;
    assert!(dir.cert().exists(), "self-signed certificate created");
    assert!(data.join("server.key").exists());

    let (ok, out) = user(data, &["add", "alice@example.test"], Some("first password"));
    assert!(ok, "{out}");
    let (ok, out) = user(
        data,
        &["add", "alice@example.test"],
        Some("again and again"),
    );
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = user(data, &["add", "eve@elsewhere.test"], Some("x"));
    assert!(!ok && out.contains("not in this server's domain"), "{out}");
    let (ok, out) = user(data, &["list"], None);
    assert!(ok && out.contains("sip:alice@example.test"), "{out}");

    let mut c = SipConn::tcp(addr).await;
    assert_eq!(c.register("alice", "first password").await.status, 200);
    let (ok, out) = user(
        data,
        &["passwd", "alice@example.test"],
        Some("second password"),
    );
    assert!(ok, "{out}");
    let mut c = SipConn::tcp(addr).await;
    assert_eq!(
        c.register("alice", "second password").await.status,
        200,
        "the new password works at once"
    );

    let (ok, out) = user(data, &["remove", "alice@example.test"], None);
    assert!(ok, "{out}");
    let (ok, out) = user(data, &["remove", "alice@example.test"], None);
    assert!(!ok && out.contains("does not exist"), "{out}");

    // SIGTERM: a graceful, successful exit.
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
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
