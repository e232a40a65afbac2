//! The plain file API over real sockets: PUT a file whole, GET or HEAD it whole or one
//! range of it, with the same tokens as the SOAP service; refusals as JSON.

use std::time::Duration;

use hyper::{Method, StatusCode};
use parlance_tests::files::{FileRoom, content};
use parlance_tests::https::Reply;

fn path(token: &str) -> String {
    format!("/PersistentChat/files/{token}")
}

async fn put(f: &FileRoom, token: &str, data: &[u8]) -> Reply {
    f.s.https()
        .await
        .request(Method::PUT, &path(token), &[], data.to_vec())
        .await
}

async fn get(f: &FileRoom, token: &str, headers: &[(&str, &str)]) -> Reply {
    f.s.https()
        .await
        .request(Method::GET, &path(token), headers, Vec::new())
        .await
}

fn json_field(reply: &Reply, field: &str) -> String {
    let text = reply.text();
    let start = text
        .find(&format!("\"{field}\":"))
        .unwrap_or_else(|| panic!("{field} in {text}"))
        + field.len()
        + 3;
    text[start..]
        .trim_start_matches('"')
        .split(['"', ',', '}'])
        .next()
        .unwrap()
        .to_owned()
}

/// Uploads `data` as alice (member 0) and posts it; returns its repository name.
async fn upload_and_post(f: &mut FileRoom, original: &str, data: &[u8]) -> String {
    let token = f.upload_token(0, original).await;
    let reply = put(f, &token, data).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(json_field(&reply, "size"), data.len().to_string());
    let name = json_field(&reply, "name");
    f.post_link(0, original, &name).await;
    name
}

#[tokio::test]
async fn files_of_any_size_come_back_byte_exact() {
    let mut f = FileRoom::start(&["alice", "bob"]).await;
    for (i, len) in [0, 1, 65_535, 65_536, 65_537, 3 * 1024 * 1024 + 5]
        .into_iter()
        .enumerate()
    {
        let data = content(len, i as u8);
        let name = upload_and_post(&mut f, "data.bin", &data).await;
        assert!(name.ends_with(".bin"), "{name}");
        let token = f.download_token(1, &name).await;
        let reply = get(&f, &token, &[]).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.header("content-length"),
            Some(len.to_string().as_str())
        );
        assert!(reply.body == data, "{len} bytes came back different");
    }
}

#[tokio::test]
async fn one_range_of_a_file_and_its_head() {
    let mut f = FileRoom::start(&["alice", "bob"]).await;
    let data = content(300_000, 5);
    let name = upload_and_post(&mut f, "r\u{e9}sum\u{e9}.pdf", &data).await;
    assert!(name.ends_with(".pdf"));
    let token = f.download_token(1, &name).await;
    let head =
        f.s.https()
            .await
            .request(Method::HEAD, &path(&token), &[], Vec::new())
            .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("content-length"), Some("300000"));
    assert_eq!(head.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        head.header("content-disposition"),
        Some("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf")
    );
    assert!(head.body.is_empty());
    assert!(
        !f.file_events()
            .await
            .iter()
            .any(|(kind, ..)| kind == "filedownload"),
        "a HEAD downloads nothing"
    );

    for (range, start, end) in [
        ("bytes=100-199", 100, 199),
        ("bytes=299990-", 299_990, 299_999),
        ("bytes=-10", 299_990, 299_999),
        ("bytes=0-999999", 0, 299_999),
    ] {
        let reply = get(&f, &token, &[("range", range)]).await;
        assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            reply.header("content-range"),
            Some(format!("bytes {start}-{end}/300000").as_str())
        );
        assert!(reply.body[..] == data[start..=end], "{range}");
    }
    for range in ["bytes=300000-", "bytes=0-1,5-6", "bytes=9-3"] {
        let reply = get(&f, &token, &[("range", range)]).await;
        assert_eq!(
            reply.status,
            StatusCode::RANGE_NOT_SATISFIABLE,
            "{range}: {}",
            reply.text()
        );
        assert_eq!(reply.header("content-range"), Some("bytes */300000"));
    }
    let downloads = f
        .file_events()
        .await
        .into_iter()
        .filter(|(kind, ..)| kind == "filedownload")
        .count();
    assert_eq!(downloads, 1, "one token, one download");
}

#[tokio::test]
async fn refusals_are_json_and_leave_nothing() {
    let mut f = FileRoom::start_with(&["alice", "bob"], |c| {
        c.files.max_file_size_kb = 700;
        c.files.room_quota_mb = 1;
    })
    .await;
    let error = |reply: &Reply| json_field(reply, "error");

    let upload = f.upload_token(0, "big.bin").await;
    let reply = put(&f, &upload, &content(700 * 1024 + 1, 1)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.header("content-type"), Some("application/json"));

    let reply = get(&f, &upload, &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(error(&reply), "token is for the other direction");

    let reply = put(&f, "0b0e7c52-5e55-4c0b-b3f4-6b8e5e3b0a55", b"x").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(error(&reply), "invalid token");

    let name = upload_and_post(&mut f, "first.bin", &content(600 * 1024, 2)).await;
    let reply = put(&f, &upload, &content(600 * 1024, 3)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error(&reply), "room quota exceeded");
    let reply = put(&f, &upload, &content(100, 3)).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "what fits the quota goes in"
    );
    let reply = put(&f, &upload, &content(100, 3)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(error(&reply), "token already used");

    let download = f.download_token(1, &name).await;
    let reply = put(&f, &download, b"x").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    let upload = f.upload_token(0, "chunked.bin").await;
    let mut raw = f.s.https_raw().await;
    raw.send(format!(
        "PUT {} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        path(&upload)
    ))
    .await;
    assert!(raw.read_head().await.starts_with("HTTP/1.1 411"));

    assert_eq!(f.stored_files().len(), 2, "the two complete files only");
}

/// Starts a PUT of 1 MB with `token`, sends a fifth of it, and returns the connection once
/// the server is reading it.
async fn put_in_progress(f: &FileRoom, token: &str) -> parlance_tests::https::RawHttps {
    let mut raw = f.s.https_raw().await;
    raw.send(format!(
        "PUT {} HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n",
        path(token)
    ))
    .await;
    assert!(raw.read_head().await.starts_with("HTTP/1.1 100"));
    raw.send(content(200_000, 1)).await;
    raw
}

/// Waits (bounded) until the server has removed every upload's file and row.
async fn cleaned_up(f: &FileRoom) -> bool {
    for _ in 0..200 {
        if f.file_rows().await.is_empty() && f.stored_files().is_empty() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn an_upload_cut_short_leaves_nothing() {
    let mut f = FileRoom::start_with(&["alice"], |c| {
        c.web.idle_timeout_secs = 20;
        c.web.header_timeout_secs = 3600;
        c.web.body_timeout_secs = 3600;
    })
    .await;
    let upload = f.upload_token(0, "cut.bin").await;

    // The client goes away.
    drop(put_in_progress(&f, &upload).await);
    assert!(cleaned_up(&f).await, "the partial upload is gone");

    // The client stops sending; the server closes the idle connection.
    let mut stalled = put_in_progress(&f, &upload).await;
    stalled
        .advance_until_closed(&f.s.clock, Duration::from_secs(21))
        .await;
    assert!(cleaned_up(&f).await, "the stalled upload is gone");

    let reply = put(&f, &upload, b"whole").await;
    assert_eq!(reply.status, StatusCode::CREATED, "the token starts over");
}
