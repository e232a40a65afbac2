//! The binary as an operator runs it: log lines on stderr (JSON that parses, text without
//! colour codes when stderr is not a terminal), a line per listener, SIGHUP reloading
//! rather than ending the process, `check-config`, and a port in use named.

mod common;

use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use common::{DataDir, SERVE_ON_FREE_PORTS, lines_of, parlance};

/// How long a test waits for a line the server should write at once.
const WAIT: Duration = Duration::from_secs(20);

/// `parlance serve` on free loopback ports, with `extra` global arguments, stderr piped.
fn serve(data: &DataDir, extra: &[&str]) -> (Child, Receiver<String>) {
    serve_with(parlance(&data.0).args(extra))
}

fn serve_with(command: &mut Command) -> (Child, Receiver<String>) {
    let mut child = command
        .env_remove("PARLANCE_LOG")
        .args(SERVE_ON_FREE_PORTS)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stderr.take().unwrap());
    (child, lines)
}

/// Lines until one satisfies `done`; all of them, that one last.
fn lines_until(lines: &Receiver<String>, done: impl Fn(&str) -> bool) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let line = lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("{e}; the log so far: {seen:#?}"));
        let last = done(&line);
        seen.push(line);
        if last {
            return seen;
        }
    }
}

fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name}");
}

const LISTENERS: [&str; 4] = ["SIP over TCP", "SIP over TLS", "HTTPS", "admin (HTTP)"];

#[test]
fn json_log_lines_parse_and_name_every_listener() {
    let data = DataDir::new("observe-json");
    let (mut child, lines) = serve(&data, &["--log-format", "json"]);
    let mut listening = Vec::new();
    while listening.len() < LISTENERS.len() {
        let line = lines_until(&lines, |_| true).pop().unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let fields = &json["fields"];
        let message = fields["message"].as_str().unwrap();
        if let Some(addr) = message.strip_prefix("listening on ") {
            assert_eq!(fields["addr"], addr);
            assert!(addr.starts_with("127.0.0.1:"), "{line}");
            listening.push(fields["listener"].as_str().unwrap().to_owned());
        }
    }
    listening.sort();
    let mut expected = LISTENERS.map(String::from).to_vec();
    expected.sort();
    assert_eq!(listening, expected);

    signal(&child, "TERM");
    assert!(child.wait().unwrap().success());
}

#[test]
fn sighup_applies_what_changes_live_and_refuses_a_bad_file() {
    let data = DataDir::new("observe-hup");
    let file = data.0.join("parlance.toml");
    std::fs::write(&file, "[log]\nlevel = \"info\"\n").unwrap();
    // JSON: one line per event, however many lines a TOML error takes.
    let config = ["--log-format", "json", "--config", file.to_str().unwrap()];
    let (mut child, lines) = serve(&data, &config);
    lines_until(&lines, |l| {
        l.contains("listening on") && l.contains("admin")
    });

    // The certificate is read again; the level changes; a limit waits for a restart.
    std::fs::write(
        &file,
        "[log]\nlevel = \"debug\"\n[sip]\nmax_connections = 7\n",
    )
    .unwrap();
    signal(&child, "HUP");
    let seen = lines_until(&lines, |l| l.contains("apply at the next restart"));
    assert!(
        seen.iter()
            .any(|l| l.contains("new TLS handshakes present")),
        "{seen:#?}"
    );
    assert!(
        seen.iter().any(|l| l.contains("log level changed")),
        "{seen:#?}"
    );
    assert!(seen.last().unwrap().contains("sip"), "{seen:#?}");

    // A file with a mistake is refused, named, and the server runs on.
    std::fs::write(&file, "[log]\nlevel = \"info\"\nbogus_key = 1\n").unwrap();
    signal(&child, "HUP");
    let seen = lines_until(&lines, |l| l.contains("reload refused"));
    assert!(seen.last().unwrap().contains("bogus_key"), "{seen:#?}");
    std::fs::write(&file, "[log]\nlevel = \"info\"\n").unwrap();
    signal(&child, "HUP");
    lines_until(&lines, |l| l.contains("log level changed"));

    signal(&child, "TERM");
    assert!(child.wait().unwrap().success());
}

#[test]
fn systemd_hears_ready_once_listening_and_stopping_at_the_end() {
    let data = DataDir::new("observe-notify");
    let socket_path = data.0.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let (mut child, lines) = serve_with(parlance(&data.0).env("NOTIFY_SOCKET", &socket_path));
    let mut buf = [0; 256];
    let n = socket.recv(&mut buf).expect("READY=1 within the wait");
    assert_eq!(&buf[..n], b"READY=1");
    let logged = lines_until(&lines, |l| {
        l.contains("listening on") && l.contains("admin")
    });
    let listening = logged.iter().filter(|l| l.contains("listening on")).count();
    assert_eq!(listening, LISTENERS.len(), "{logged:#?}");
    signal(&child, "TERM");
    let n = socket.recv(&mut buf).expect("STOPPING=1 within the wait");
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert!(child.wait().unwrap().success());
}

#[test]
fn text_logs_carry_no_colour_codes_off_a_terminal() {
    let data = DataDir::new("observe-text");
    let (mut child, lines) = serve(&data, &[]);
    let seen = lines_until(&lines, |l| l.contains("listening on 127.0.0.1:"));
    signal(&child, "TERM");
    let rest: Vec<String> = lines.iter().collect();
    assert!(child.wait().unwrap().success());
    let all = [seen, rest].concat();
    assert!(all.iter().any(|l| l.contains("shutting down")), "{all:#?}");
    assert!(!all.iter().any(|l| l.contains('\x1b')), "{all:#?}");
}

fn check_config(data: &DataDir, toml: &str) -> Output {
    let path = data.0.join("parlance.toml");
    std::fs::write(&path, toml).unwrap();
    Command::new(common::BIN)
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap()
}

#[test]
fn check_config_accepts_a_good_file_and_names_what_is_wrong() {
    let data = DataDir::new("observe-check");
    let good = check_config(
        &data,
        "domain = \"example.test\"\n[admin]\nlisten = \"127.0.0.1:9464\"\n[log]\nlevel = \"debug\"\n",
    );
    assert!(good.status.success(), "{good:?}");
    assert!(String::from_utf8_lossy(&good.stdout).contains("is valid"));
    let cert = data.0.join("missing-cert.pem");
    for (toml, named) in [
        ("domain = \"example.test\"\nbogus_key = 1\n", "bogus_key"),
        (
            "[auth]\ntrusted_networks = [\"10.0.0.0/33\"]\n",
            "10.0.0.0/33",
        ),
        ("[admin]\nlisten = \"nowhere\"\n", "nowhere"),
        ("[log]\nlevel = \"parlance=loudest\"\n", "log.level"),
        (
            &format!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                cert.display(),
                cert.display()
            ),
            "missing-cert.pem",
        ),
    ] {
        let out = check_config(&data, toml);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{toml} passed");
        assert!(stderr.contains(named), "{toml}: {stderr}");
    }
}

#[test]
fn a_port_in_use_is_named() {
    let data = DataDir::new("observe-port");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = parlance(&data.0)
        .args(["serve", "--sip-tcp", &addr, "--sip-tls", "off"])
        .args(["--https", "off", "--admin", "off"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("cannot listen for SIP over TCP on {addr}")),
        "{stderr}"
    );
}
