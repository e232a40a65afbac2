//! Helpers for the client's integration tests: a real server, client settings that trust
//! its certificate, waiting for events, and a relay that can cut a client off.

pub mod relay;

use std::time::Duration;

use parlance_client::{Client, ClientConfig, Event, Events, Reconnect, Transport, Trust};
use parlance_server::config::Config;
use parlance_tests::{DOMAIN, TestServer};

/// How long a test waits for something that should happen at once.
pub const WAIT: Duration = Duration::from_secs(10);

pub async fn server(users: &[&str]) -> TestServer {
    server_with(users, |_| {}).await
}

/// A server with `users` (password `pw`), configured as `tweak` says.
pub async fn server_with(users: &[&str], tweak: impl FnOnce(&mut Config)) -> TestServer {
    let s = TestServer::start_with(tweak).await;
    for u in users {
        s.add_user(u, "pw").await;
    }
    s
}

pub fn cert_path(s: &TestServer) -> std::path::PathBuf {
    s.config.data_dir.join("tls-cert.pem")
}

pub fn tls_addr(s: &TestServer) -> String {
    s.server().tls_addr.expect("TLS listener").to_string()
}

/// TLS to `server`, trusting the test server's certificate as `--ca` would; reconnecting
/// fast so that tests do not wait.
pub fn config_for(s: &TestServer, server: &str, user: &str, password: &str) -> ClientConfig {
    let trust = Trust::ca_file(&cert_path(s)).expect("the server's certificate");
    let mut config = ClientConfig::new(
        server,
        format!("{user}@{DOMAIN}"),
        password,
        Transport::Tls(trust),
    );
    config.reconnect = Reconnect {
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
        max_attempts: None,
    };
    config
}

pub fn config(s: &TestServer, user: &str) -> ClientConfig {
    config_for(s, &tls_addr(s), user, "pw")
}

pub async fn connect(s: &TestServer, user: &str) -> (Client, Events) {
    Client::connect(config(s, user)).await.expect("signs in")
}

/// The first event `pick` accepts; the events before it are returned too, for assertions.
pub async fn expect<T>(
    events: &mut Events,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> (T, Vec<Event>) {
    let mut skipped = Vec::new();
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let event = events.next().await.expect("the client is alive");
            match pick(&event) {
                Some(found) => return found,
                None => skipped.push(event),
            }
        }
    })
    .await;
    match found {
        Ok(found) => (found, skipped),
        Err(_) => panic!("expected event did not come; got {skipped:?}"),
    }
}

/// The next chat line, skipping other events.
pub async fn next_line(events: &mut Events) -> parlance_client::ChatLine {
    expect(events, |e| match e {
        Event::Message(line) => Some(line.clone()),
        _ => None,
    })
    .await
    .0
}

pub fn sip(user: &str) -> String {
    format!("sip:{user}@{DOMAIN}")
}
