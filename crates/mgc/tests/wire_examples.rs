//! The two request bodies captured from a real Skype for Business client (NL-ATT, protocol
//! reference `shared/protocol/xccos.md` §4.2), byte for byte in `captured/`, with every form of SOAPAction
//! a client may send; and the shapes of docs/protocol.md for what the server writes.

use mgc::{
    FaultCode, Limits, OperationName, Request, Response, SoapError, parse_request, write_fault,
    write_request, write_response,
};

const APPEND_CHUNK: &str = include_str!("captured/append-chunk.xml");

const DOWNLOAD_CHUNK: &str = include_str!("captured/download-chunk.xml");

/// `body` parses to `expected` with every form of SOAPAction the reference and real stacks
/// send (quoted or not, with or without scheme, empty) and with none.
fn parses_with_every_soap_action(body: &str, expected: &Request) {
    let operation = expected.operation();
    let actions = [
        None,
        Some(format!("\"http://www.microsoft.com/{operation}\"")),
        Some(format!("http://www.microsoft.com/{operation}")),
        Some(format!("\"https://www.microsoft.com/{operation}\"")),
        Some(format!("www.microsoft.com/{operation}")),
        Some(format!("\"{operation}\"")),
        Some("\"\"".to_owned()),
    ];
    for action in actions {
        let request = parse_request(action.as_deref(), body.as_bytes(), &Limits::default());
        assert_eq!(request.as_ref(), Ok(expected), "SOAPAction {action:?}");
    }
}

#[test]
fn captured_append_chunk() {
    let expected = Request::AppendChunk {
        token: "2baa3978-7511-4050-8be7-f1670d8fc220".into(),
        channel_id: "094f5a4a-c492-4f6b-91c2-385eba134fd3".into(),
        unique_filename: "a912898f-cf23-476b-a644-0c541d7cfdcf.txt".into(),
        file_chunk: b"Sip:Kimtest2.yang@lync.nextlabs.solutions\r\n".to_vec(),
        offset: 0,
        file_length: 43,
    };
    parses_with_every_soap_action(APPEND_CHUNK, &expected);
}

#[test]
fn captured_download_chunk() {
    let expected = Request::DownloadChunk {
        token: "3f2900af-52f7-40d6-91df-a211e72b7980".into(),
        channel_id: "094f5a4a-c492-4f6b-91c2-385eba134fd3".into(),
        repos_file_name: "6d042d7b-50d1-4117-9bf0-5a8c0b11e842.txt".into(),
        offset: 0,
        buffer_size: 43,
    };
    parses_with_every_soap_action(DOWNLOAD_CHUNK, &expected);
}

#[test]
fn captured_bodies_with_another_operations_soap_action_are_refused() {
    assert_eq!(
        parse_request(
            Some("\"http://www.microsoft.com/DownloadChunk\""),
            APPEND_CHUNK.as_bytes(),
            &Limits::default()
        ),
        Err(SoapError::ActionMismatch {
            action: OperationName::DownloadChunk,
            element: OperationName::AppendChunk
        })
    );
}

#[test]
fn our_request_bodies_have_the_captured_shape() {
    let request = parse_request(None, APPEND_CHUNK.as_bytes(), &Limits::default()).unwrap();
    let compact: String = APPEND_CHUNK
        .lines()
        .map(str::trim)
        .collect::<String>()
        .replace("xmlns:s=", "xmlns:soap=")
        .replace("<s:", "<soap:")
        .replace("</s:", "</soap:");
    assert_eq!(
        String::from_utf8(write_request(&request)).unwrap(),
        format!(r#"<?xml version="1.0" encoding="utf-8"?>{compact}"#)
    );
    assert_eq!(
        request.soap_action(),
        "http://www.microsoft.com/AppendChunk"
    );
}

#[test]
fn responses_follow_the_asmx_convention() {
    let cases = [
        (
            Response::UniqueFilename("a912898f-cf23-476b-a644-0c541d7cfdcf.txt".into()),
            "<RequestUniqueFilenameWithExtensionResponse xmlns=\"http://www.microsoft.com\"><RequestUniqueFilenameWithExtensionResult>a912898f-cf23-476b-a644-0c541d7cfdcf.txt</RequestUniqueFilenameWithExtensionResult></RequestUniqueFilenameWithExtensionResponse>",
        ),
        (
            Response::MaxFileSizeInKB(10240),
            "<GetMaxFileSizeInKBResponse xmlns=\"http://www.microsoft.com\"><GetMaxFileSizeInKBResult>10240</GetMaxFileSizeInKBResult></GetMaxFileSizeInKBResponse>",
        ),
        (
            Response::MaxRequestContentInKB(1024),
            "<GetMaxRequestContentInKBResponse xmlns=\"http://www.microsoft.com\"><GetMaxRequestContentInKBResult>1024</GetMaxRequestContentInKBResult></GetMaxRequestContentInKBResponse>",
        ),
        (
            Response::AppendChunk(43),
            "<AppendChunkResponse xmlns=\"http://www.microsoft.com\"><AppendChunkResult>43</AppendChunkResult></AppendChunkResponse>",
        ),
        (
            Response::FileSize(43),
            "<GetFileSizeResponse xmlns=\"http://www.microsoft.com\"><GetFileSizeResult>43</GetFileSizeResult></GetFileSizeResponse>",
        ),
        (
            Response::DownloadChunk(b"Sip:Kimtest2.yang@lync.nextlabs.solutions\r\n".to_vec()),
            "<DownloadChunkResponse xmlns=\"http://www.microsoft.com\"><DownloadChunkResult>U2lwOktpbXRlc3QyLnlhbmdAbHluYy5uZXh0bGFicy5zb2x1dGlvbnMNCg==</DownloadChunkResult></DownloadChunkResponse>",
        ),
        (
            Response::DownloadChunk(Vec::new()),
            "<DownloadChunkResponse xmlns=\"http://www.microsoft.com\"><DownloadChunkResult/></DownloadChunkResponse>",
        ),
    ];
    for (response, inner) in cases {
        assert_eq!(
            String::from_utf8(write_response(&response)).unwrap(),
            envelope(inner)
        );
    }
}

#[test]
fn faults_follow_soap_1_1() {
    assert_eq!(
        String::from_utf8(write_fault(FaultCode::Client, "offset mismatch")).unwrap(),
        envelope(
            "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>offset mismatch</faultstring></soap:Fault>"
        )
    );
    assert_eq!(
        String::from_utf8(write_fault(FaultCode::Server, "a <b> & c")).unwrap(),
        envelope(
            "<soap:Fault><faultcode>soap:Server</faultcode><faultstring>a &lt;b&gt; &amp; c</faultstring></soap:Fault>"
        )
    );
}

fn envelope(inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{inner}</soap:Body></soap:Envelope>"#
    )
}
