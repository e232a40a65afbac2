//! The private NATS server: it speaks NATS on its port, comes back on the same port after a
//! restart, and is gone once dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;

use parlance_testkit::nats::Nats;

/// The first line a NATS server sends a new connection.
fn greeting(port: u16) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("the server accepts");
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

#[test]
fn serves_restarts_on_the_same_port_and_stops_when_dropped() {
    let nats = Nats::start();
    let port = nats.port();
    assert_eq!(nats.url(), format!("nats://127.0.0.1:{port}"));
    let first = greeting(port);
    assert!(first.starts_with("INFO "), "{first}");
    assert!(first.contains("\"jetstream\":true"), "{first}");

    let held = TcpStream::connect(("127.0.0.1", port)).unwrap();
    nats.restart();
    // The connection from before the restart was closed by the old server.
    let mut old = BufReader::new(held);
    let mut rest = String::new();
    while old.read_line(&mut rest).unwrap() > 0 {}
    assert!(greeting(port).starts_with("INFO "));

    drop(nats);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}
