//! Bad input to the file service (issue 12, "Bad input"): each gets a SOAP fault with HTTP
//! 500, and nothing half-stored stays, on disk or in the database.

use mgc::{FaultCode, Response, SoapError};
use parlance_store::rooms::{Role, RoomUpdate};
use parlance_tests::files::{FileRoom, append, content};

/// Asserts that a call drew a client fault whose reason contains `reason`.
fn refused<T: std::fmt::Debug>(answer: Result<T, SoapError>, reason: &str) {
    match answer {
        Err(SoapError::Fault {
            code: FaultCode::Client,
            reason: got,
        }) => assert!(got.contains(reason), "{got:?} does not say {reason:?}"),
        other => panic!("expected a client fault saying {reason:?}, got {other:?}"),
    }
}

/// Nothing of any upload is left: no file on disk, no row.
async fn nothing_stored(f: &FileRoom) {
    assert_eq!(
        f.stored_files(),
        Vec::<std::path::PathBuf>::new(),
        "on disk"
    );
    let rows = f.file_rows().await;
    assert!(rows.is_empty(), "rows left: {rows:?}");
}

#[tokio::test]
async fn chunks_that_skip_overlap_or_change_the_length_end_the_upload() {
    let mut f = FileRoom::start_with(&["alice"], |c| c.files.max_chunk_kb = 4).await;
    let mut soap = f.soap().await;
    let cases: [(u64, u64, usize, &str); 5] = [
        (1001, 3000, 1000, "offset mismatch"),
        (999, 3000, 1000, "offset mismatch"),
        (0, 3000, 1000, "offset mismatch"),
        (1000, 4000, 1000, "fileLength changed"),
        (1000, 3000, 2001, "chunk passes fileLength"),
    ];
    for (offset, file_length, len, reason) in cases {
        let started = f.start_upload(&mut soap).await;
        let answer = soap
            .call(&started.append(&content(len, 2), offset, file_length))
            .await;
        refused(answer, reason);
        nothing_stored(&f).await;
    }
}

#[tokio::test]
async fn invalid_base64_and_chunks_over_the_maximum_end_the_upload() {
    let mut f = FileRoom::start_with(&["alice"], |c| c.files.max_chunk_kb = 4).await;
    let mut soap = f.soap().await;

    let started = f.start_upload(&mut soap).await;
    let body = format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><AppendChunk xmlns="http://www.microsoft.com"><token>{}</token><channelId>{}</channelId><uniqueFilename>{}</uniqueFilename><fileChunk>not*base64!</fileChunk><offset>1000</offset><fileLength>3000</fileLength></AppendChunk></s:Body></s:Envelope>"#,
        started.token,
        f.guid(),
        started.name
    );
    let reply = soap
        .post(Some("http://www.microsoft.com/AppendChunk"), body)
        .await;
    assert_eq!(reply.status, 500);
    assert!(reply.text().contains("base64"), "{}", reply.text());
    // The request never named its token to the service, so the upload is still there; the
    // next good chunk goes on where it was.
    let answer = soap
        .call(&started.append(&content(2000, 3), 1000, 3000))
        .await;
    assert_eq!(answer, Ok(Response::AppendChunk(3000)));

    // One byte over the announced maximum.
    let started = f.start_upload(&mut soap).await;
    let over = f.max_chunk() + 1;
    let answer = soap
        .call(&started.append(&content(over, 4), 1000, started.length + over as u64))
        .await;
    refused(answer, "decodes to more than");
    // Far over: the body is larger than any chunk's, refused by its length.
    let answer = soap
        .call(&started.append(&content(10 * over, 4), 1000, started.length))
        .await;
    refused(answer, "larger than");
}

#[tokio::test]
async fn names_that_would_leave_the_store_are_refused() {
    let mut f = FileRoom::start(&["alice"]).await;
    let mut soap = f.soap().await;
    let token = f.upload_token(0, "notes.txt").await;
    let long = "x".repeat(300);
    for extension in ["../x", "..\\x", "x/y", ".txt.exe", long.as_str()] {
        let answer = soap.unique_name(&token, f.guid(), extension).await;
        refused(answer, "invalid file name");
    }
    let body = format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><RequestUniqueFilenameWithExtension xmlns="http://www.microsoft.com"><token>{token}</token><channelId>{}</channelId><extension>t&#0;xt</extension></RequestUniqueFilenameWithExtension></s:Body></s:Envelope>"#,
        f.guid()
    );
    let reply = soap.post(None, body).await;
    assert_eq!(reply.status, 500, "NUL is not XML: {}", reply.text());

    let started = f.start_upload(&mut soap).await;
    for name in [
        format!("../{}", started.name),
        format!("..\\..\\{}", started.name),
        "../../../etc/passwd".to_owned(),
    ] {
        let answer = soap
            .call(&append(&started.token, f.guid(), &name, b"x", 1000, 3000))
            .await;
        refused(answer, "not the token's file");
    }
    nothing_stored(&f).await;

    // A client's file name is only ever the source of an extension.
    let name = f.upload(&mut soap, 0, "../../evil.sh", b"echo", 1024).await;
    let stored = f.stored_files();
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].ends_with(format!("{}/{name}", f.guid())),
        "{stored:?}"
    );
    let room = f.room.clone();
    assert_eq!(
        f.members[0].file_token(true, &room, &long).await.err(),
        Some(400),
        "a 300-character file name"
    );
    assert_eq!(
        f.members[0]
            .file_token(false, &room, &format!("../{name}"))
            .await
            .err(),
        Some(404),
        "a download names a file of the room"
    );
}

#[tokio::test]
async fn a_disabled_room_or_a_removed_member_ends_an_upload_in_progress() {
    let mut f = FileRoom::start(&["alice", "bob"]).await;
    let mut soap = f.soap().await;
    let room_id = f.room_id().await;
    let store = f.s.server().store.clone();

    let started = f.start_upload(&mut soap).await;
    let update = RoomUpdate {
        disabled: Some(true),
        ..RoomUpdate::default()
    };
    store.update_room(room_id, &update).await.unwrap();
    let answer = soap.call(&started.append(b"more", 1000, 3000)).await;
    refused(answer, "not allowed");
    nothing_stored(&f).await;
    let update = RoomUpdate {
        disabled: Some(false),
        ..RoomUpdate::default()
    };
    store.update_room(room_id, &update).await.unwrap();

    let started = f.start_upload(&mut soap).await;
    let alice = f.user_id("alice").await;
    store
        .set_role(room_id, alice, Role::Member, false)
        .await
        .unwrap();
    let answer = soap.call(&started.append(b"more", 1000, 3000)).await;
    refused(answer, "not allowed");
    nothing_stored(&f).await;
}

#[tokio::test]
async fn a_body_with_a_dtd_or_an_entity_declaration_is_refused() {
    let f = FileRoom::start(&["alice"]).await;
    let mut soap = f.soap().await;
    for prologue in [
        r#"<!DOCTYPE s:Envelope>"#,
        r#"<!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>"#,
        r#"<!DOCTYPE x SYSTEM "file:///etc/passwd">"#,
    ] {
        let body = format!(
            r#"<?xml version="1.0"?>{prologue}<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetMaxRequestContentInKB xmlns="http://www.microsoft.com"><token>x</token><channelId>y</channelId></GetMaxRequestContentInKB></s:Body></s:Envelope>"#
        );
        let reply = soap
            .post(
                Some("http://www.microsoft.com/GetMaxRequestContentInKB"),
                body,
            )
            .await;
        assert_eq!(reply.status, 500);
        assert!(reply.text().contains("soap:Client"), "{}", reply.text());
        assert!(
            reply.text().contains("document type declarations"),
            "{}",
            reply.text()
        );
    }
}

#[tokio::test]
async fn an_upload_whose_token_expires_half_way_is_removed() {
    let mut f = FileRoom::start(&["alice"]).await;
    let mut soap = f.soap().await;
    let started = f.start_upload(&mut soap).await;
    f.s.clock.advance(std::time::Duration::from_secs(
        f.s.config.files.token_lifetime_secs + 1,
    ));
    f.s.server().sweep().await;
    nothing_stored(&f).await;
    // The advance has closed the idle connection too. The sweep forgot the token as well.
    let mut soap = f.soap().await;
    let answer = soap.call(&started.append(b"late", 1000, 3000)).await;
    refused(answer, "invalid token");
}

#[tokio::test]
async fn a_refused_upload_starts_over_with_the_same_token() {
    let mut f = FileRoom::start(&["alice"]).await;
    let mut soap = f.soap().await;
    let started = f.start_upload(&mut soap).await;
    let answer = soap.call(&started.append(b"x", 5, 3000)).await;
    refused(answer, "offset mismatch");
    let data = content(3000, 9);
    let name = soap
        .upload(&started.token, f.guid(), "txt", &data, 1024)
        .await
        .expect("the token serves until its upload completes");
    assert!(f.download(&mut soap, 0, &name, 1024).await == data);
}

#[tokio::test]
async fn uploads_in_progress_are_bounded_per_user() {
    let mut f = FileRoom::start_with(&["alice"], |c| c.files.max_uploads_per_user = 1).await;
    let mut soap = f.soap().await;
    let first = f.start_upload(&mut soap).await;
    let token = f.upload_token(0, "second.txt").await;
    refused(
        soap.upload(&token, f.guid(), "txt", b"second", 1024)
            .await
            .map(Response::UniqueFilename),
        "too many uploads in progress",
    );
    let answer = soap
        .call(&first.append(&content(2000, 5), 1000, first.length))
        .await;
    assert_eq!(
        answer,
        Ok(Response::AppendChunk(3000)),
        "the first goes on, and completes"
    );
    soap.upload(&token, f.guid(), "txt", b"second", 1024)
        .await
        .expect("then the second may start");
}
