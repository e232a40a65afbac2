//! File tokens through the service over real sockets: bound to a room, a direction and a
//! file; refused once expired or spent; re-checked against the principal's rights at each
//! use. And what the service leaves behind: compliance rows, encrypted blobs, nothing of an
//! upload a restart interrupted.

use std::time::Duration;

use mgc::{FaultCode, Request, Response, SoapError};
use parlance_store::rooms::{Behavior, Privacy, Role};
use parlance_tests::chat::ChatClient;
use parlance_tests::files::{FileRoom, content, download_chunk, room_guid};

fn refused(answer: Result<Response, SoapError>, reason: &str) {
    match answer {
        Err(SoapError::Fault {
            code: FaultCode::Client,
            reason: got,
        }) => assert_eq!(got, reason),
        other => panic!("expected a client fault {reason:?}, got {other:?}"),
    }
}

fn file_size(token: &str, channel_id: &str, name: &str) -> Request {
    Request::GetFileSize {
        token: token.into(),
        channel_id: channel_id.into(),
        repos_file_name: name.into(),
    }
}

fn unique_name(token: &str, channel_id: &str) -> Request {
    Request::RequestUniqueFilenameWithExtension {
        token: token.into(),
        channel_id: channel_id.into(),
        extension: "txt".into(),
    }
}

#[tokio::test]
async fn a_token_serves_its_room_its_direction_and_its_file_only() {
    let mut f = FileRoom::start(&["alice", "bob"]).await;
    let other_room =
        f.s.add_room(
            "Elsewhere",
            Privacy::Closed,
            Behavior::Normal,
            &[("alice", Role::Member)],
        )
        .await;
    let mut soap = f.soap().await;
    let upload = f.upload_token(0, "a.txt").await;
    refused(
        soap.call(&unique_name(&upload, room_guid(&other_room)))
            .await,
        "token is for another room",
    );
    refused(
        soap.call(&unique_name(
            "4b1f1a6e-1d3e-4c8a-9a43-2f1d5c6b7e80",
            f.guid(),
        ))
        .await,
        "invalid token",
    );
    refused(
        soap.call(&unique_name("../../etc/passwd", f.guid())).await,
        "invalid token",
    );
    refused(
        soap.call(&file_size(&upload, f.guid(), "x.txt")).await,
        "token is for the other direction",
    );
    // The room's GUID in capitals and braces is the same room.
    let braced = format!("{{{}}}", f.guid().to_ascii_uppercase());
    let first = soap
        .upload(&upload, &braced, "txt", b"first", 1024)
        .await
        .unwrap();
    refused(
        soap.call(&unique_name(&upload, f.guid())).await,
        "token already used",
    );
    let second = f.upload(&mut soap, 0, "b.txt", b"second", 1024).await;
    f.post_link(0, "a.txt", &first).await;
    f.post_link(0, "b.txt", &second).await;
    let download = f.download_token(1, &first).await;
    refused(
        soap.call(&file_size(&download, f.guid(), &second)).await,
        "not the token's file",
    );
    refused(
        soap.call(&unique_name(&download, f.guid())).await,
        "token is for the other direction",
    );
    assert_eq!(
        soap.call(&file_size(&download, f.guid(), &first)).await,
        Ok(Response::FileSize(5))
    );
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let mut f = FileRoom::start(&["alice"]).await;
    let token = f.upload_token(0, "late.txt").await;
    f.s.clock.advance(Duration::from_secs(
        f.s.config.files.token_lifetime_secs + 1,
    ));
    let mut soap = f.soap().await;
    refused(
        soap.call(&unique_name(&token, f.guid())).await,
        "token expired",
    );
}

#[tokio::test]
async fn only_who_may_post_gets_an_upload_token_and_only_who_may_read_downloads() {
    let mut f = FileRoom::start(&["alice", "bob"]).await;
    f.s.add_user("carol", "pw").await;
    let no_files = f.add_room_without_filepost(&["alice"]).await;
    let mut carol = ChatClient::connect(&f.s, "carol", "pw").await;
    let room = f.room.clone();
    assert!(
        carol.file_token(true, &room, "x.txt").await.is_err(),
        "an outsider may not post into a closed room"
    );
    assert_eq!(
        f.members[0]
            .file_token(true, &no_files, "x.txt")
            .await
            .err(),
        Some(403),
        "file posting is off there"
    );

    let mut soap = f.soap().await;
    let name = f
        .upload(&mut soap, 0, "shared.txt", b"for members", 1024)
        .await;
    f.post_link(0, "shared.txt", &name).await;
    assert!(
        carol.file_token(false, &room, &name).await.is_err(),
        "an outsider may not download"
    );
    let download = f.download_token(1, &name).await;
    let (room_id, bob) = (f.room_id().await, f.user_id("bob").await);
    f.s.server()
        .store
        .set_role(room_id, bob, Role::Member, false)
        .await
        .unwrap();
    refused(
        soap.call(&file_size(&download, f.guid(), &name)).await,
        "not allowed",
    );
}

#[tokio::test]
async fn an_upload_and_a_download_each_leave_one_compliance_row() {
    let mut f = FileRoom::start(&["alice", "bob"]).await;
    let mut soap = f.soap().await;
    let data = content(5000, 3);
    let name = f.upload(&mut soap, 0, "audit.txt", &data, 1024).await;
    let (alice, bob) = (f.user_id("alice").await, f.user_id("bob").await);
    assert_eq!(
        f.file_events().await,
        vec![("fileupload".to_owned(), alice, name.clone())]
    );
    f.post_link(0, "audit.txt", &name).await;
    let download = f.download_token(1, &name).await;
    assert_eq!(
        soap.call(&file_size(&download, f.guid(), &name)).await,
        Ok(Response::FileSize(5000))
    );
    assert_eq!(f.file_events().await.len(), 1, "a size is no download");
    let back = soap
        .download(&download, f.guid(), &name, 1024)
        .await
        .unwrap();
    assert!(back == data);
    assert_eq!(
        f.file_events().await,
        vec![
            ("fileupload".to_owned(), alice, name.clone()),
            ("filedownload".to_owned(), bob, name.clone()),
        ],
        "five chunks, one download"
    );
}

#[tokio::test]
async fn stored_files_are_encrypted_and_bound_to_their_name() {
    let mut f = FileRoom::start(&["alice"]).await;
    let mut soap = f.soap().await;
    let secret = b"the quarterly numbers are very secret. ".repeat(2000);
    let mut names = Vec::new();
    for original in ["a.txt", "b.txt"] {
        names.push(f.upload(&mut soap, 0, original, &secret, 64 * 1024).await);
    }
    let stored = f.stored_files();
    assert_eq!(stored.len(), 2);
    let (a, b) = (
        std::fs::read(&stored[0]).unwrap(),
        std::fs::read(&stored[1]).unwrap(),
    );
    for blob in [&a, &b] {
        assert!(
            blob.len() > secret.len(),
            "sealed: larger than the plaintext"
        );
        assert!(
            !blob.windows(16).any(|w| w == &secret[..16]),
            "no plaintext on disk"
        );
    }
    assert_ne!(a, b, "the same bytes under two keys");
    // One file's blob in the other's place does not pass for it.
    std::fs::write(&stored[1], &a).unwrap();
    let swapped = stored[1].file_name().unwrap().to_str().unwrap().to_owned();
    let token = f.download_token(0, &swapped).await;
    let answer = soap
        .call(&download_chunk(&token, f.guid(), &swapped, 0, 1024))
        .await;
    assert!(
        matches!(
            answer,
            Err(SoapError::Fault {
                code: FaultCode::Server,
                ..
            })
        ),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_restart_in_the_middle_of_an_upload_leaves_nothing_and_tokens_work_after() {
    let mut f = FileRoom::start(&["alice"]).await;
    let mut soap = f.soap().await;
    let started = f.start_upload(&mut soap).await;

    f.members.clear();
    f.s.restart().await;
    assert!(f.stored_files().is_empty(), "the partial file is gone");
    assert!(f.file_rows().await.is_empty(), "and so is its row");
    let mut soap = f.soap().await;
    let answer = soap
        .call(&started.append(&content(1000, 2), 1000, started.length))
        .await;
    assert!(answer.is_err(), "the upload did not survive: {answer:?}");

    let mut alice = ChatClient::connect(&f.s, "alice", "pw").await;
    let room = f.room.clone();
    let token = alice
        .file_token(true, &room, "whole.bin")
        .await
        .unwrap()
        .token;
    let data = content(2000, 3);
    let name = soap
        .upload(&token, f.guid(), "bin", &data, 1024)
        .await
        .unwrap();
    let token = alice.file_token(false, &room, &name).await.unwrap().token;
    assert!(soap.download(&token, f.guid(), &name, 1024).await.unwrap() == data);
}

/// The chunks of one download reuse its grant and keep its blob open between them, reading
/// the next chunk ahead; none of it outlives a change: rights taken away, or the file
/// removed, stop the next chunk, the one read ahead too.
#[tokio::test]
async fn a_download_stops_at_its_next_chunk_when_rights_or_its_file_go() {
    let mut f = FileRoom::start_with(&["alice", "bob"], |c| c.files.max_chunk_kb = 64).await;
    let chunk = f.max_chunk();
    let data = content(4 * chunk, 3);
    let mut soap = f.soap().await;
    let name = f.upload(&mut soap, 0, "big.bin", &data, chunk).await;
    f.post_link(0, "big.bin", &name).await;
    let download = f.download_token(1, &name).await;
    let asked =
        |offset: usize| download_chunk(&download, f.guid(), &name, offset as u64, chunk as u64);
    let part = |offset: usize| {
        Ok(Response::DownloadChunk(
            data[offset..offset + chunk].to_vec(),
        ))
    };
    // In order, then anywhere: the open blob reads from where it is asked.
    for offset in [0, chunk, 3 * chunk, 0, 2 * chunk] {
        assert_eq!(soap.call(&asked(offset)).await, part(offset), "at {offset}");
    }

    let store = f.s.server().store.clone();
    let (room_id, bob) = (f.room_id().await, f.user_id("bob").await);
    store
        .set_role(room_id, bob, Role::Member, false)
        .await
        .unwrap();
    // The chunk after the last one asked is read ahead, and stays on the server.
    refused(soap.call(&asked(3 * chunk)).await, "not allowed");
    store
        .set_role(room_id, bob, Role::Member, true)
        .await
        .unwrap();
    assert_eq!(soap.call(&asked(chunk)).await, part(chunk));

    let file = f
        .file_rows()
        .await
        .into_iter()
        .find(|row| row.name == name)
        .unwrap();
    assert!(store.remove_file(file.id).await.unwrap());
    refused(soap.call(&asked(2 * chunk)).await, "token already used");
}
