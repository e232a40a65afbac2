//! MGCWebService.asmx over real sockets: the request bodies captured from a real client
//! (xccos.md §4.2), whole uploads and downloads through the six operations, and the WSDL.

use hyper::StatusCode;
use mgc::{OperationName, Response};
use parlance_tests::files::{FileRoom, Soap, content, download_chunk};

/// The captured `AppendChunk`: 43 bytes, one chunk.
const CAPTURED_APPEND: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
  <s:Body>
    <AppendChunk xmlns="http://www.microsoft.com">
      <token>2baa3978-7511-4050-8be7-f1670d8fc220</token>
      <channelId>094f5a4a-c492-4f6b-91c2-385eba134fd3</channelId>
      <uniqueFilename>a912898f-cf23-476b-a644-0c541d7cfdcf.txt</uniqueFilename>
      <fileChunk>U2lwOktpbXRlc3QyLnlhbmdAbHluYy5uZXh0bGFicy5zb2x1dGlvbnMNCg==</fileChunk>
      <offset>0</offset>
      <fileLength>43</fileLength>
    </AppendChunk>
  </s:Body>
</s:Envelope>"#;

/// The captured `DownloadChunk` of the same 43 bytes.
const CAPTURED_DOWNLOAD: &str = include_str!("../../crates/mgc/tests/captured/download-chunk.xml");

/// What the captured chunk decodes to.
const CAPTURED_BYTES: &[u8] = b"Sip:Kimtest2.yang@lync.nextlabs.solutions\r\n";

/// Posts a captured body of `operation` as it was sent, and returns the answer, which must
/// be a success.
async fn replay(soap: &mut Soap, operation: OperationName, body: String) -> Response {
    let reply = soap.post(Some(&operation.soap_action()), body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    mgc::parse_response(operation, &reply.body, &mgc::Limits::default()).unwrap()
}

#[tokio::test]
async fn the_captured_request_bodies_are_served_as_they_were_sent() {
    let mut f = FileRoom::start(&["alice", "bob"]).await;
    let upload = f.upload_token(0, "sip.txt").await;
    let mut soap = f.soap().await;
    let name = soap.unique_name(&upload, f.guid(), "txt").await.unwrap();
    let body = CAPTURED_APPEND
        .replace("2baa3978-7511-4050-8be7-f1670d8fc220", &upload)
        .replace("094f5a4a-c492-4f6b-91c2-385eba134fd3", f.guid())
        .replace("a912898f-cf23-476b-a644-0c541d7cfdcf.txt", &name);
    assert_eq!(
        replay(&mut soap, OperationName::AppendChunk, body).await,
        Response::AppendChunk(43)
    );

    f.post_link(0, "sip.txt", &name).await;
    let download = f.download_token(1, &name).await;
    let body = CAPTURED_DOWNLOAD
        .replace("3f2900af-52f7-40d6-91df-a211e72b7980", &download)
        .replace("094f5a4a-c492-4f6b-91c2-385eba134fd3", f.guid())
        .replace("6d042d7b-50d1-4117-9bf0-5a8c0b11e842.txt", &name);
    assert_eq!(
        replay(&mut soap, OperationName::DownloadChunk, body).await,
        Response::DownloadChunk(CAPTURED_BYTES.to_vec())
    );
}

#[tokio::test]
async fn files_around_the_chunk_size_and_of_several_megabytes_come_back_byte_exact() {
    let mut f = FileRoom::start_with(&["alice", "bob"], |c| c.files.max_chunk_kb = 64).await;
    let chunk = f.max_chunk();
    let mut soap = f.soap().await;
    for (i, len) in [0, 1, chunk - 1, chunk, chunk + 1, 3 * 1024 * 1024 + 17]
        .into_iter()
        .enumerate()
    {
        let data = content(len, i as u8);
        let name = f.upload(&mut soap, 0, "data.bin", &data, chunk).await;
        assert!(name.ends_with(".bin"), "{name}");
        f.post_link(0, "data.bin", &name).await;
        let back = f.download(&mut soap, 1, &name, chunk).await;
        assert!(back == data, "{len} bytes came back different");
    }
}

#[tokio::test]
async fn a_download_chunk_is_never_larger_than_the_announced_maximum() {
    let mut f = FileRoom::start_with(&["alice"], |c| c.files.max_chunk_kb = 64).await;
    let chunk = f.max_chunk();
    let data = content(3 * chunk, 7);
    let token = f.upload_token(0, "big.bin").await;
    let mut soap = f.soap().await;
    // The extension with its leading dot, which the service takes as well.
    let name = soap
        .upload(&token, f.guid(), ".bin", &data, chunk)
        .await
        .unwrap();
    let token = f.download_token(0, &name).await;
    let asked = |offset, buffer_size| download_chunk(&token, f.guid(), &name, offset, buffer_size);
    let answer = soap.call(&asked(10, 10 * chunk as u64)).await.unwrap();
    assert_eq!(
        answer,
        Response::DownloadChunk(data[10..10 + chunk].to_vec()),
        "cut to the maximum"
    );
    let answer = soap.call(&asked(data.len() as u64, 100)).await.unwrap();
    assert_eq!(
        answer,
        Response::DownloadChunk(Vec::new()),
        "nothing past the end"
    );
}

/// The server reads the chunk after each one ahead, guessing the same length; a client that
/// asks for other lengths, or skips, gets the bytes it asked for all the same.
#[tokio::test]
async fn chunks_of_changing_lengths_come_back_byte_exact() {
    let mut f = FileRoom::start_with(&["alice"], |c| c.files.max_chunk_kb = 64).await;
    let chunk = f.max_chunk();
    let data = content(4 * chunk + 5, 9);
    let mut soap = f.soap().await;
    let name = f.upload(&mut soap, 0, "big.bin", &data, chunk).await;
    let token = f.download_token(0, &name).await;
    let mut offset = 0;
    for (i, buffer_size) in [chunk, chunk, chunk / 2, 1, chunk, 3, chunk, chunk]
        .into_iter()
        .enumerate()
    {
        // Once, a chunk is skipped.
        if i == 6 {
            offset += 7;
        }
        let asked = download_chunk(&token, f.guid(), &name, offset as u64, buffer_size as u64);
        let answer = soap.call(&asked).await.unwrap();
        let end = (offset + buffer_size).min(data.len());
        assert!(
            answer == Response::DownloadChunk(data[offset..end].to_vec()),
            "{buffer_size} bytes at {offset}"
        );
        offset = end;
    }
    assert_eq!(offset, data.len(), "the last chunk ended the file");
}

#[tokio::test]
async fn the_wsdl_names_the_service_at_its_public_url() {
    let f = FileRoom::start(&[]).await;
    let mut https = f.s.https().await;
    let reply = https.get(&format!("{}?wsdl", mgc::PATH)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type"),
        Some("text/xml; charset=utf-8")
    );
    assert!(reply.text().contains(&f.service_url()), "{}", reply.text());
    assert_eq!(
        https.get(mgc::PATH).await.status,
        StatusCode::NOT_FOUND,
        "only ?wsdl is served by GET"
    );
}
