//! The plain file API of Parlance's own client: the same tokens as the SOAP service, no
//! SOAP, the file streamed whole either way (docs/protocol.md, "The plain file API").
//! Memory stays flat whatever the size: an upload is written to the store frame by frame
//! as it arrives, a download read from it in steps as the client takes it.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use parlance_chat::files::CheckedGrant;
use parlance_store::files::{Direction, StoredFile};

use super::range::{self, Span};
use super::refusal::Refusal;
use super::{Files, log_refusal, read_steps, to_completion};
use crate::body::BodyReader;
use crate::listener::Conn;

/// The route; `{token}` is the file token.
pub(super) const PATH: &str = "/PersistentChat/files/{token}";

/// `PUT`: the whole file, of a declared length, into the token's room.
pub(super) async fn upload(
    State(files): State<Files>,
    Extension(conn): Extension<Conn>,
    Path(token): Path<String>,
    body: Body,
) -> Response {
    let work = {
        let (files, conn, token) = (files.clone(), conn.clone(), token.clone());
        async move { store(&files, &conn, &token, body).await }
    };
    match to_completion(work).await {
        Ok((name, size)) => json(
            StatusCode::CREATED,
            &serde_json::json!({ "name": name, "size": size }),
        ),
        Err(refusal) => {
            log_refusal(conn.peer, Some(&token), "PUT", &refusal);
            error(&refusal)
        }
    }
}

/// `GET` and `HEAD`: the token's file, whole or one range of it.
pub(super) async fn download(
    State(files): State<Files>,
    Extension(conn): Extension<Conn>,
    Path(token): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    match send(&files, &token, method == Method::HEAD, &headers).await {
        Ok(response) => response,
        Err(refusal) => {
            log_refusal(conn.peer, Some(&token), method.as_str(), &refusal);
            error(&refusal)
        }
    }
}

/// Stores the body as the token's file; returns its repository name and size.
async fn store(
    files: &Files,
    conn: &Conn,
    token: &str,
    body: Body,
) -> Result<(String, u64), Refusal> {
    let max = files.settings().max_file_bytes;
    let mut body = conn.body(body, max)?;
    // The length is checked against the room's limits before the first byte is stored.
    let length = body.declared_len().ok_or(Refusal::LengthRequired)?;
    let checked = files
        .transfer_grant(token, None, Direction::Upload, None)
        .await?;
    let grant = &checked.grant;
    let extension = parlance_chat::files::extension_of(&grant.token.file_url);
    let file = files.reserve_name(grant, extension).await?;
    match receive(files, &checked, &file, length, &mut body).await {
        Ok(size) => Ok((file.name, size)),
        Err(refusal) => {
            files.end_upload(&grant.token.token, Some(&file)).await;
            Err(refusal)
        }
    }
}

async fn receive(
    files: &Files,
    checked: &CheckedGrant,
    file: &StoredFile,
    length: u64,
    body: &mut BodyReader,
) -> Result<u64, Refusal> {
    let grant = &checked.grant;
    let mut slot = files.start_upload(checked, file, length).await?;
    let progress = slot.as_mut().ok_or(Refusal::NoUpload)?;
    // hyper ends the body at its Content-Length, and fails it if it ends before. It reads
    // the socket only when asked for the next piece: while this waits its turn, the
    // connection's window closes and the uploader stops sending.
    loop {
        files.inner.chat_first.turn().await;
        let Some(data) = body.chunk().await? else {
            break;
        };
        progress.upload.write(&data).await?;
    }
    let progress = slot.take().ok_or(Refusal::NoUpload)?;
    files.complete_upload(grant, progress).await
}

async fn send(
    files: &Files,
    token: &str,
    head: bool,
    headers: &HeaderMap,
) -> Result<Response, Refusal> {
    let mut grant = files
        .authorize(token, None, Some(Direction::Download))
        .await?;
    let (file, blob) = files.open_download(&grant).await?;
    let original_name = file.original_name.clone();
    let size = blob.len();
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok());
    let span = range::requested(range, size)?;
    let mut response = match span {
        Some(span) => {
            let mut response = StatusCode::PARTIAL_CONTENT.into_response();
            let content_range = format!("bytes {}-{}/{size}", span.start, span.end);
            response.headers_mut().insert(
                CONTENT_RANGE,
                HeaderValue::from_str(&content_range).expect("ASCII"),
            );
            response
        }
        None => StatusCode::OK.into_response(),
    };
    let span = span.unwrap_or(Span {
        start: 0,
        end: size.saturating_sub(1),
    });
    let len = if size == 0 { 0 } else { span.len() };
    let out = response.headers_mut();
    out.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    out.insert(CONTENT_LENGTH, HeaderValue::from(len));
    out.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(CONTENT_DISPOSITION, attachment(&original_name));
    if !head {
        // No byte leaves before the compliance row of the download is committed.
        files.record_download(&mut grant).await?;
        *response.body_mut() = Body::from_stream(read_steps(
            files.inner.chat_first.clone(),
            blob,
            span.start,
            len,
            drop,
        ));
    }
    Ok(response)
}

/// `attachment; filename*=UTF-8''<name>` (RFC 6266, RFC 8187): the name percent-encoded
/// but for the characters that may stand as they are.
fn attachment(name: &str) -> HeaderValue {
    let mut value = String::from("attachment; filename*=UTF-8''");
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            value.push(char::from(byte));
        } else {
            value.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&value).expect("percent-encoded ASCII")
}

fn error(refusal: &Refusal) -> Response {
    let mut response = json(
        refusal.status(),
        &serde_json::json!({ "error": refusal.reason() }),
    );
    if let Refusal::Range { size } = refusal {
        let unsatisfied = format!("bytes */{size}");
        response.headers_mut().insert(
            CONTENT_RANGE,
            HeaderValue::from_str(&unsatisfied).expect("ASCII"),
        );
    }
    response
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_name_is_percent_encoded_in_the_disposition() {
        assert_eq!(
            attachment("r\u{e9}sum\u{e9} 2.pdf"),
            "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%202.pdf"
        );
        assert_eq!(
            attachment("a\"b;c\r\n.txt"),
            "attachment; filename*=UTF-8''a%22b%3Bc%0D%0A.txt"
        );
    }
}
