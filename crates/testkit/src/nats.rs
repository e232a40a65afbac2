//! A private NATS server (with JetStream) for one test: `nats-server` on a free loopback
//! port, its JetStream store and logs in a temporary directory.
//!
//! As with [`crate::postgres`], the server's lifetime is a pipe: a shell holds the server
//! and reads commands from its standard input, the test's end of a pipe. A `restart` line
//! stops the server and starts it again on the same port (the test of a NATS restart); the
//! end of the pipe — the [`Nats`] dropped, or the test process ending however it ends —
//! stops the server and removes the directory.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

/// Where the Debian package `nats-server` puts the program (and where else it may be).
const PROGRAMS: [&str; 2] = ["/usr/sbin/nats-server", "/usr/bin/nats-server"];

// Readiness is the server's own "Server is ready" log line: a TCP probe from the test could
// reach the old server just before a restart stops it.
const SCRIPT: &str = r#"
set -e
bin=$1; port=$2
dir=$(mktemp -d /tmp/parlance-nats-XXXXXX)
pid=
stop() { [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; pid=; }
trap 'stop; rm -rf "$dir"' EXIT
n=0
start() {
    n=$((n + 1))
    "$bin" -a 127.0.0.1 -p "$port" -js -sd "$dir/js" -l "$dir/log.$n" &
    pid=$!
    tries=0
    until grep -q "Server is ready" "$dir/log.$n" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { cat "$dir/log.$n" >&2; exit 1; }
        tries=$((tries + 1))
        [ "$tries" -lt 400 ] || { cat "$dir/log.$n" >&2; exit 1; }
        sleep 0.05
    done
    echo ready
}
start
while read -r command; do
    case "$command" in
        restart) stop; start ;;
    esac
done
"#;

/// A running private `nats-server`; dropping it stops the server.
#[derive(Debug)]
pub struct Nats {
    port: u16,
    shell: Mutex<Shell>,
}

#[derive(Debug)]
struct Shell {
    child: Child,
    commands: Option<ChildStdin>,
    replies: BufReader<ChildStdout>,
}

impl Shell {
    fn expect_ready(&mut self) {
        let mut line = String::new();
        self.replies.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "nats-server did not start");
    }
}

impl Nats {
    /// Starts a server on a free loopback port.
    ///
    /// # Panics
    /// When `nats-server` is not installed (the message names the Debian package) or does not
    /// start.
    pub fn start() -> Nats {
        let program = PROGRAMS
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!(
                    "nats-server is not installed (none of {PROGRAMS:?}): install the Debian \
                     package `nats-server` (scripts/test does)"
                )
            });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new("sh")
            .args(["-c", SCRIPT, "sh", program])
            .arg(port.to_string())
            .current_dir("/tmp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the shell that runs nats-server starts");
        let mut shell = Shell {
            commands: child.stdin.take(),
            replies: BufReader::new(child.stdout.take().unwrap()),
            child,
        };
        shell.expect_ready();
        Nats {
            port,
            shell: Mutex::new(shell),
        }
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port the server listens on, the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server and starts it again on the same port; returns once it is ready.
    /// Clients see their connection drop and must reconnect.
    pub fn restart(&self) {
        let mut shell = self.shell.lock().unwrap();
        let commands = shell.commands.as_mut().expect("the server is running");
        writeln!(commands, "restart").unwrap();
        commands.flush().unwrap();
        shell.expect_ready();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let shell = self.shell.get_mut().unwrap_or_else(|e| e.into_inner());
        // The end of the pipe is the stop command; waiting makes the port free on return.
        drop(shell.commands.take());
        let _ = shell.child.wait();
    }
}
