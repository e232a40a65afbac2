//! A private PostgreSQL server for one test, which the test may stop and start again:
//! `initdb` into a temporary directory, served on a free loopback port with its socket in
//! that directory, never the system's service. `initdb` refuses to run as root, so as root
//! every PostgreSQL program runs as `nobody` (through `runuser`).
//!
//! Dropping it stops the server and removes the directory.

use std::path::PathBuf;
use std::process::Command;

use parlance_testkit::postgres::{bin_dir, is_root};

#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Postgres {
    /// Creates and starts a server.
    pub fn start() -> Postgres {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("parlance-pg-{}-{port}", std::process::id()));
        let pg = Postgres {
            bin: bin_dir(),
            dir,
            port,
        };
        pg.run(&format!(
            "mkdir -p {dir} && {bin}/initdb -D {dir}/data -U parlance --auth=trust -E UTF8 --locale=C >{dir}/initdb.log 2>&1 || {{ cat {dir}/initdb.log >&2; exit 1; }}",
            dir = pg.dir.display(),
            bin = pg.bin.display()
        ));
        pg.start_again();
        pg
    }

    /// The URL of the server's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://parlance@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once, as a crash or a restart by the operator would: open
    /// connections break.
    pub fn stop(&self) {
        self.run(&format!(
            "{}/pg_ctl -D {}/data -m immediate -w stop >/dev/null",
            self.bin.display(),
            self.dir.display()
        ));
    }

    /// Starts the stopped server again, on the same port and data.
    pub fn start_again(&self) {
        self.run(&format!(
            "{bin}/pg_ctl -D {dir}/data -l {dir}/log -w -o \"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null || {{ cat {dir}/log >&2; exit 1; }}",
            bin = self.bin.display(),
            dir = self.dir.display(),
            port = self.port
        ));
    }

    /// Runs a shell command as the user PostgreSQL's programs run as; panics if it fails.
    fn run(&self, script: &str) {
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--", "sh"]);
            c
        } else {
            Command::new("sh")
        };
        let status = command
            .args(["-c", script])
            .current_dir("/tmp")
            .status()
            .expect("sh runs");
        assert!(status.success(), "{script}: {status}");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "runuser -u nobody -- {bin}/pg_ctl -D {dir}/data -m immediate -w stop >/dev/null 2>&1 || {bin}/pg_ctl -D {dir}/data -m immediate -w stop >/dev/null 2>&1",
                    bin = self.bin.display(),
                    dir = self.dir.display()
                ),
            ])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
