//! File transfers give way to chat (docs/configuration.md, `files.yield_to_chat_ms`): while
//! a connection has chat output queued and not yet written, each step of a transfer waits
//! for it to go out, at most the configured limit, and then transfers go on as long without
//! waiting. Over real sockets. The test holds the server's output backlog busy itself, as a
//! member's connection does while its messages are still being written or answered; the
//! waits are read from the server's metrics. The transfers' writes to the file records give
//! way too, so that they do not queue on the store's single writer ahead of a post.

use std::time::Duration;

use hyper::{Method, StatusCode};
use parlance_tests::admin::metric;
use parlance_tests::files::{FileRoom, content};
use parlance_tests::https::Reply;
use parlance_tests::{DOMAIN, WAIT};
use tokio::task::JoinHandle;

const LIMIT: Duration = Duration::from_secs(10);
const WAITS: &str = "parlance_file_transfer_waits_total";
const AT_LIMIT: &str = "parlance_file_transfer_waits_at_limit_total";

async fn file_room() -> FileRoom {
    FileRoom::start_with(&["alice", "bob"], |c| {
        c.files.yield_to_chat_ms = LIMIT.as_millis() as u64;
    })
    .await
}

fn path(token: &str) -> String {
    format!("/PersistentChat/files/{token}")
}

/// A plain API request on a connection of its own, in a task of its own.
async fn request(f: &FileRoom, method: Method, token: &str, body: Vec<u8>) -> JoinHandle<Reply> {
    let mut https = f.s.https().await;
    let path = path(token);
    tokio::spawn(async move { https.request(method, &path, &[], body).await })
}

/// Returns once the server counts `at_least` transfer waits.
async fn until_waits(f: &FileRoom, at_least: f64) {
    let counted = async {
        while metric(&f.s, WAITS).await < at_least {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(WAIT, counted)
        .await
        .expect("the transfer waits for the chat");
}

/// Every member reads and answers what the server sent it, and the server has the answers:
/// then nothing of the chat's is under way.
async fn settle(f: &mut FileRoom) {
    let info = format!(
        "<cmd id=\"cmd:getserverinfo\" seqid=\"1\"><data><sib domain=\"{DOMAIN}\" infoType=\"123\"/></data></cmd>"
    );
    for member in &mut f.members {
        // Server INFOs that arrive before the reply are answered on the way.
        member.command(&info).await;
    }
    let backlog = f.s.server().output_backlog().clone();
    let idle = async {
        while backlog.is_busy() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(WAIT, idle)
        .await
        .expect("every delivery written and answered");
}

/// Uploads `data` as alice (member 0) and posts it; returns its repository name.
async fn upload_and_post(f: &mut FileRoom, data: &[u8]) -> String {
    let token = f.upload_token(0, "data.bin").await;
    let reply = request(f, Method::PUT, &token, data.to_vec())
        .await
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let name = f.file_rows().await.pop().expect("the file's row").name;
    f.post_link(0, "data.bin", &name).await;
    settle(f).await;
    name
}

#[tokio::test]
async fn an_upload_waits_while_chat_output_is_queued_and_goes_on_once_it_is_written() {
    let mut f = file_room().await;
    settle(&mut f).await;
    let backlog = f.s.server().output_backlog().clone();
    let token = f.upload_token(0, "data.bin").await;
    backlog.queued();
    let data = content(300_000, 1);
    let upload = request(&f, Method::PUT, &token, data.clone()).await;
    until_waits(&f, 1.0).await;
    // The limit is 10 s on the server's clock, which the test does not move.
    assert!(
        !upload.is_finished(),
        "the upload waits for the chat's output"
    );
    assert!(
        f.file_rows().await.is_empty(),
        "not even its name is reserved: no write of the file records goes before the chat"
    );
    backlog.drained();
    let reply = upload.await.unwrap();
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(
        metric(&f.s, AT_LIMIT).await,
        0.0,
        "no wait ran to its limit"
    );
    let name = f.file_rows().await.pop().expect("the file's row").name;
    f.post_link(0, "data.bin", &name).await;
    settle(&mut f).await;
    let token = f.download_token(1, &name).await;
    let reply = request(&f, Method::GET, &token, Vec::new())
        .await
        .await
        .unwrap();
    assert!(reply.body == data, "the upload came back different");
}

#[tokio::test]
async fn a_transfer_waits_no_longer_than_the_limit_while_chat_output_stays_queued() {
    let mut f = file_room().await;
    settle(&mut f).await;
    // Several steps of the download: after the wait that runs to its limit, the rest go
    // on without waiting.
    let data = content(1_000_000, 2);
    let name = upload_and_post(&mut f, &data).await;
    let token = f.download_token(1, &name).await;
    let waits_before = metric(&f.s, WAITS).await;
    let backlog = f.s.server().output_backlog().clone();
    backlog.queued();
    let download = request(&f, Method::GET, &token, Vec::new()).await;
    until_waits(&f, waits_before + 1.0).await;
    assert!(
        !download.is_finished(),
        "the download waits for the chat's output"
    );
    f.s.clock.advance(LIMIT + Duration::from_secs(1));
    let reply = download.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body == data, "the download came back different");
    assert_eq!(metric(&f.s, AT_LIMIT).await, 1.0);
    assert_eq!(
        metric(&f.s, WAITS).await,
        waits_before + 1.0,
        "one wait, then the rest of the file without waiting"
    );
    assert!(backlog.is_busy(), "the chat's output is still queued");
    backlog.drained();
}
