//! The HTTPS listener over real sockets: on and off, the SIP certificate, its timeouts on
//! the server's clock, the connection limit and shutdown.

use std::time::Duration;

use hyper::StatusCode;
use parlance_tests::files::FileRoom;
use parlance_tests::https::{Https, RawHttps};
use parlance_tests::{TestServer, WAIT, tls_connect};

#[tokio::test]
async fn https_presents_the_sip_certificate_and_speaks_http_1_1() {
    let s = TestServer::start().await;
    let cert = s.cert_path();
    let sip = tls_connect(s.server().tls_addr.unwrap(), &cert, &[])
        .await
        .expect("SIP over TLS verifies against the certificate file");
    let https = tls_connect(s.https_addr(), &cert, &[b"h2", b"http/1.1"])
        .await
        .expect("HTTPS verifies against the same file");
    let presented = |tls: &parlance_tests::https::TlsStream| {
        tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
    };
    assert_eq!(presented(&sip), presented(&https), "one certificate");
    assert_eq!(
        https.get_ref().1.alpn_protocol(),
        Some(&b"http/1.1"[..]),
        "offered h2 too, the server chose HTTP/1.1"
    );
    let reply = s.https().await.get("/nowhere").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_listener_can_be_turned_off_and_file_tokens_with_it() {
    let mut f = FileRoom::start_with(&["alice"], |c| c.web.listen = None).await;
    assert_eq!(f.s.server().https_addr, None);
    assert!(f.s.server().tls_addr.is_some(), "SIP over TLS is still on");
    let room = f.room.clone();
    assert_eq!(
        f.members[0].file_token(true, &room, "a.txt").await.err(),
        Some(501),
        "no service to hand tokens for"
    );
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let s = TestServer::start_with(|c| {
        c.web.header_timeout_secs = 10;
        c.web.idle_timeout_secs = 3600;
    })
    .await;
    let mut slow = s.https_raw().await;
    // An answer first: the server has completed the TLS handshake, whose own deadline
    // must not be what closes the connection.
    slow.send("GET /nowhere HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    assert!(slow.read_head().await.starts_with("HTTP/1.1 404"));
    slow.send("POST /PersistentChat/MGCWebService.asmx HTTP/1.1\r\nHost: localhost\r\n")
        .await;
    let seen = slow
        .advance_until_closed(&s.clock, Duration::from_secs(11))
        .await;
    assert!(!seen.contains(" 200 "), "nothing was served: {seen:?}");
}

#[tokio::test]
async fn a_connection_where_nothing_moves_is_closed() {
    let s = TestServer::start_with(|c| {
        c.web.header_timeout_secs = 3600;
        c.web.idle_timeout_secs = 20;
    })
    .await;
    let mut raw = s.https_raw().await;
    raw.send("GET /nowhere HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    // The answer is read before the clock moves: moved first, the idle deadline could pass
    // before the server, on threads of lower priority, had even read the request.
    let head = raw.read_head().await;
    assert!(head.starts_with("HTTP/1.1 404"), "answered: {head:?}");
    let seen = raw
        .advance_until_closed(&s.clock, Duration::from_secs(21))
        .await;
    assert!(!seen.contains("HTTP/1.1"), "then closed: {seen:?}");
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_until_one_closes() {
    let s = TestServer::start_with(|c| c.web.max_connections = 2).await;
    let mut a = s.https().await;
    let mut b = s.https().await;
    // An answer on each shows that the server has accepted and counted both.
    assert_eq!(a.get("/nowhere").await.status, StatusCode::NOT_FOUND);
    assert_eq!(b.get("/nowhere").await.status, StatusCode::NOT_FOUND);
    let refused = async {
        let mut c = Https::connect(s.https_addr(), &s.cert_path()).await?;
        c.try_get("/nowhere").await.map_err(std::io::Error::other)
    };
    assert!(
        refused.await.is_err(),
        "a third connection is closed at once"
    );
    a.close().await;
    // The server notices the closed connection in its own time: retry, a bounded number
    // of times.
    let mut admitted = false;
    for _ in 0..50 {
        if let Ok(mut c) = Https::connect(s.https_addr(), &s.cert_path()).await
            && c.try_get("/nowhere").await.is_ok()
        {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted, "a place freed is taken again");
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_stops_accepting() {
    let mut s = TestServer::start().await;
    let addr = s.https_addr();
    let mut idle = s.https().await;
    assert_eq!(idle.get("/nowhere").await.status, StatusCode::NOT_FOUND);
    tokio::time::timeout(WAIT, s.shutdown())
        .await
        .expect("an idle connection does not hold up the shutdown");
    assert!(idle.closed().await, "the idle connection was closed");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens any more"
    );
}

#[tokio::test]
async fn a_2_gb_content_length_is_refused_before_the_body_is_read() {
    let s = TestServer::start().await;
    for (head, status) in [
        (
            format!(
                "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n\
                 SOAPAction: \"http://www.microsoft.com/AppendChunk\"\r\nContent-Length: 2147483648\r\n\r\n",
                mgc::PATH
            ),
            "HTTP/1.1 500",
        ),
        (
            "PUT /PersistentChat/files/2baa3978-7511-4050-8be7-f1670d8fc220 HTTP/1.1\r\n\
             Host: localhost\r\nContent-Length: 2147483648\r\n\r\n"
                .to_owned(),
            "HTTP/1.1 413",
        ),
    ] {
        let mut raw = s.https_raw().await;
        // Not a byte of the body is sent: the answer comes from the head alone.
        raw.send(head).await;
        let seen = raw.until_closed().await.expect("answered, then closed");
        assert!(seen.starts_with(status), "{seen}");
        assert!(seen.contains("larger than"), "{seen}");
    }
}

#[tokio::test]
async fn a_slow_body_is_cut_off() {
    let mut f = FileRoom::start_with(&["alice"], |c| {
        c.web.body_timeout_secs = 10;
        c.web.min_body_kb_per_sec = 1;
        c.web.header_timeout_secs = 3600;
        c.web.idle_timeout_secs = 3600;
    })
    .await;
    let token = f.upload_token(0, "slow.txt").await;
    for (head, status) in [
        (
            format!(
                "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: 20480\r\n\r\n",
                mgc::PATH
            ),
            "HTTP/1.1 500",
        ),
        (
            format!(
                "PUT /PersistentChat/files/{token} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 20480\r\n\r\n"
            ),
            "HTTP/1.1 408",
        ),
    ] {
        let mut raw = f.s.https_raw().await;
        raw.send(head).await;
        raw.send("<s:Envelope").await;
        // 20 KiB at 1 KiB/s after 10 s: due at 30 s.
        let seen = raw
            .advance_until_closed(&f.s.clock, Duration::from_secs(31))
            .await;
        assert!(seen.starts_with(status), "{seen}");
        assert!(seen.contains("too slow"), "{seen}");
    }
    assert!(f.stored_files().is_empty(), "the slow upload left nothing");
}

/// Starts a SOAP request whose body is `len` bytes and waits until the server reads it
/// (its `100 Continue`): from then on the request is in progress.
async fn request_in_progress(s: &TestServer, len: usize) -> RawHttps {
    let mut raw = s.https_raw().await;
    raw.send(format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nExpect: 100-continue\r\n\
         Content-Length: {len}\r\n\r\n",
        mgc::PATH
    ))
    .await;
    assert!(raw.read_head().await.starts_with("HTTP/1.1 100"));
    raw
}

#[tokio::test]
async fn shutdown_lets_a_request_in_progress_finish() {
    let mut s = TestServer::start().await;
    let body = "<s:Envelope/>";
    let mut raw = request_in_progress(&s, body.len()).await;
    raw.send(&body[..5]).await;
    let server = s.server.take().unwrap();
    let addr = server.https_addr.unwrap();
    let stopping = tokio::spawn(server.shutdown());
    // Once new connections are refused, the listener has seen the shutdown.
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    raw.send(&body[5..]).await;
    let seen = raw.until_closed().await.expect("answered, then closed");
    assert!(
        seen.starts_with("HTTP/1.1 500"),
        "the request was served: {seen}"
    );
    tokio::time::timeout(WAIT, stopping)
        .await
        .expect("then the shutdown completes")
        .unwrap();
}

#[tokio::test]
async fn shutdown_closes_a_request_that_does_not_finish_after_a_while() {
    let mut s = TestServer::start_with(|c| {
        c.web.body_timeout_secs = 3600;
        c.web.idle_timeout_secs = 3600;
    })
    .await;
    let clock = s.clock.clone();
    let mut raw = request_in_progress(&s, 1000).await;
    raw.send("<s:").await;
    let server = s.server.take().unwrap();
    let stopping = tokio::spawn(server.shutdown());
    raw.advance_until_closed(&clock, Duration::from_secs(31))
        .await;
    tokio::time::timeout(WAIT, stopping)
        .await
        .expect("the shutdown completes")
        .unwrap();
}
