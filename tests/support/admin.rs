//! The admin listener as a monitor sees it: one plain HTTP GET, and the samples of the
//! metrics page.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{TestServer, WAIT};

/// One plain HTTP GET to the admin listener: the status and the body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: monitor\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        // The listener closes each connection after its answer.
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    };
    let answer = tokio::time::timeout(WAIT, exchange)
        .await
        .expect("answered");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a complete answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// The value of the sample `name` (with its labels, as written) on a metrics page.
pub fn sample(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing in\n{page}"))
        .parse()
        .unwrap()
}

/// The server's admin listener.
pub fn admin(s: &TestServer) -> SocketAddr {
    s.server().admin_addr.expect("admin listener on")
}

/// The sample `name` on the server's metrics page now.
pub async fn metric(s: &TestServer, name: &str) -> f64 {
    sample(&get(admin(s), "/metrics").await.1, name)
}
