//! `MGCWebService.asmx`: the six SOAP operations of Lync-family clients, and the WSDL.
//! The SOAP itself is the `mgc` crate's; this is the service behind it. Every refusal is a
//! fault with HTTP 500: those clients abandon a transfer at any 4xx.

use axum::BoxError;
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use mgc::{Request, StreamedChunk};
use parlance_chat::files::{CheckedGrant, Grant};
use parlance_files::Blob;
use parlance_store::files::Direction;

use super::ahead::{Next, Taken};
use super::refusal::Refusal;
use super::{Files, log_refusal, read_steps, to_completion};
use crate::listener::Conn;

const XML: &str = "text/xml; charset=utf-8";

/// `POST MGCWebService.asmx`: one operation.
pub(super) async fn call(
    State(files): State<Files>,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request = match read(&files, &conn, &headers, body).await {
        Ok(request) => request,
        Err(refusal) => {
            log_refusal(conn.peer, None, "SOAP", &refusal);
            return fault(&refusal);
        }
    };
    let operation = request.operation();
    let token = token(&request).to_owned();
    let work = {
        let files = files.clone();
        async move { serve(&files, request).await }
    };
    match to_completion(work).await {
        Ok(Answer::Whole(response)) => xml(StatusCode::OK, mgc::write_response(&response)),
        Ok(Answer::Ready(answer)) => xml(StatusCode::OK, answer),
        Ok(Answer::Chunk(chunk)) => streamed_chunk(files, *chunk),
        Err(refusal) => {
            log_refusal(conn.peer, Some(&token), operation.as_str(), &refusal);
            fault(&refusal)
        }
    }
}

/// `GET MGCWebService.asmx?wsdl`: the service description, naming the service at its public
/// URL.
pub(super) async fn wsdl(State(files): State<Files>, uri: Uri) -> Response {
    if !uri.query().is_some_and(|q| q.eq_ignore_ascii_case("wsdl")) {
        return StatusCode::NOT_FOUND.into_response();
    }
    xml(
        StatusCode::OK,
        mgc::wsdl(&files.settings().service_url).into_bytes(),
    )
}

async fn read(
    files: &Files,
    conn: &Conn,
    headers: &HeaderMap,
    body: Body,
) -> Result<Request, Refusal> {
    // One SOAP call is one step of a transfer (a chunk up or down, or what starts one): it
    // waits its turn before its body is read.
    files.inner.chat_first.turn().await;
    let limits = &files.inner.soap_limits;
    let body = conn
        .body(body, limits.max_body_bytes as u64)?
        .to_bytes()
        .await?;
    let action = headers.get("SOAPAction").and_then(|v| v.to_str().ok());
    Ok(mgc::parse_request(action, &body, limits)?)
}

/// What a call that succeeded answers.
enum Answer {
    Whole(mgc::Response),
    /// A `DownloadChunk` answer read ahead.
    Ready(Bytes),
    Chunk(Box<OutgoingChunk>),
}

/// `len` bytes (at least one) of a stored file from `offset`, written as they are read;
/// then the blob is parked, with the grant it was sent under, reading the token's next
/// chunk ahead.
struct OutgoingChunk {
    blob: Blob,
    offset: u64,
    len: usize,
    checked: CheckedGrant,
}

async fn serve(files: &Files, request: Request) -> Result<Answer, Refusal> {
    use mgc::Response as R;
    Ok(match request {
        Request::RequestUniqueFilenameWithExtension {
            token,
            channel_id,
            extension,
        } => {
            let grant = files
                .authorize(&token, Some(&channel_id), Some(Direction::Upload))
                .await?;
            let file = files.reserve_name(&grant, &extension).await?;
            Answer::Whole(R::UniqueFilename(file.name))
        }
        Request::GetMaxFileSizeInKB { token, channel_id } => {
            let grant = files
                .authorize(&token, Some(&channel_id), Some(Direction::Upload))
                .await?;
            let kib = files.max_file_bytes(&grant).await? / 1024;
            Answer::Whole(R::MaxFileSizeInKB(i64::try_from(kib).unwrap_or(i64::MAX)))
        }
        Request::GetMaxRequestContentInKB { token, channel_id } => {
            // A limit of the service, not of the token's file: any valid token may ask.
            files.authorize(&token, Some(&channel_id), None).await?;
            let kib = files.settings().max_chunk_bytes / 1024;
            Answer::Whole(R::MaxRequestContentInKB(
                i32::try_from(kib).unwrap_or(i32::MAX),
            ))
        }
        Request::AppendChunk {
            token,
            channel_id,
            unique_filename,
            file_chunk,
            offset,
            file_length,
        } => {
            let chunk = Chunk {
                name: &unique_filename,
                data: &file_chunk,
                offset,
                file_length,
            };
            let stored = append(files, &token, &channel_id, chunk).await?;
            Answer::Whole(R::AppendChunk(i64::try_from(stored).unwrap_or(i64::MAX)))
        }
        Request::GetFileSize {
            token,
            channel_id,
            repos_file_name,
        } => {
            let grant = files
                .authorize(&token, Some(&channel_id), Some(Direction::Download))
                .await?;
            let file = download_file(&grant, &repos_file_name)?;
            Answer::Whole(R::FileSize(i64::try_from(file.size).unwrap_or(i64::MAX)))
        }
        Request::DownloadChunk {
            token,
            channel_id,
            repos_file_name,
            offset,
            buffer_size,
        } => {
            // The token's last chunk parked its blob and grant, unless it was long ago.
            let parked = files.inner.open_blobs.take(&token.to_ascii_lowercase());
            let (held, parked) = parked.unzip();
            let parked_file = held
                .as_ref()
                .and_then(|h: &CheckedGrant| h.grant.file.as_ref().map(|f| f.id));
            let mut checked = files
                .transfer_grant(&token, Some(&channel_id), Direction::Download, held)
                .await?;
            let file_id = download_file(&checked.grant, &repos_file_name)?.id;
            let next = match parked {
                Some(next) if parked_file == Some(file_id) => next,
                _ => Next::Blob(Box::new(files.open_download(&checked.grant).await?.1)),
            };
            files.record_download(&mut checked.grant).await?;
            let max_chunk = files.settings().max_chunk_bytes;
            let wanted = usize::try_from(buffer_size).map_or(max_chunk, |n| n.min(max_chunk));
            let left = next.file_len().saturating_sub(offset);
            let len = usize::try_from(left).map_or(wanted, |left| wanted.min(left));
            if len == 0 {
                return Ok(Answer::Whole(R::DownloadChunk(Vec::new())));
            }
            match next.take(offset, len).await? {
                Taken::Answer(blob, answer) => {
                    park(files, checked, blob, offset + len as u64, len);
                    Answer::Ready(answer)
                }
                Taken::Blob(blob) => Answer::Chunk(Box::new(OutgoingChunk {
                    blob,
                    offset,
                    len,
                    checked,
                })),
            }
        }
    })
}

/// Parks `blob` under the grant's token for its next chunk, reading the chunk of `len`
/// bytes at `offset` ahead (fewer at the end of the file); a blob read to its end is
/// closed instead, since a client asks for nothing after it but the empty chunk.
fn park(files: &Files, checked: CheckedGrant, blob: Blob, offset: u64, len: usize) {
    let Some(left) = blob.len().checked_sub(offset).filter(|&left| left > 0) else {
        return;
    };
    let len = usize::try_from(left).map_or(len, |left| len.min(left));
    let next = Next::read_ahead(
        blob,
        offset,
        len,
        &files.inner.ahead_budget,
        &files.inner.chat_first,
    );
    let token = checked.grant.token.token.clone();
    files.inner.open_blobs.park(&token, (checked, next));
}

/// A `DownloadChunk` answer written as the file is read: the client receives the start of
/// the chunk while the rest is still being read and decrypted. Its blob is parked for the
/// next chunk once this one is read, reading that one ahead ([`super::ahead`]). Its length
/// is known before the first byte is read; a read that fails half-way can only end the
/// connection, which the client takes as the failed transfer it is.
fn streamed_chunk(files: Files, chunk: OutgoingChunk) -> Response {
    let OutgoingChunk {
        blob,
        offset,
        len,
        checked,
    } = chunk;
    let (writer, head) = StreamedChunk::new(len);
    let answer_len = writer.answer_len();
    let end = offset + len as u64;
    let chat_first = files.inner.chat_first.clone();
    let park_next = move |blob: Blob| park(&files, checked, blob, end, len);
    let text = futures_util::stream::try_unfold(
        (
            Box::pin(read_steps(chat_first, blob, offset, len as u64, park_next)),
            Some(writer),
        ),
        |(mut steps, writer)| async move {
            let Some(mut writer) = writer else {
                return Ok(None);
            };
            let mut text = Vec::new();
            match steps.try_next().await? {
                Some(bytes) => {
                    writer.push(&bytes, &mut text)?;
                    Ok(Some((Bytes::from(text), (steps, Some(writer)))))
                }
                None => {
                    writer.finish(&mut text)?;
                    Ok(Some((Bytes::from(text), (steps, None))))
                }
            }
        },
    );
    let body =
        futures_util::stream::once(async { Ok::<_, BoxError>(Bytes::from(head)) }).chain(text);
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static(XML)),
        (CONTENT_LENGTH, HeaderValue::from(answer_len)),
    ];
    (StatusCode::OK, headers, Body::from_stream(body)).into_response()
}

/// One `AppendChunk`'s piece of the file.
#[derive(Debug, Clone, Copy)]
struct Chunk<'a> {
    name: &'a str,
    data: &'a [u8],
    offset: u64,
    file_length: u64,
}

/// Stores a chunk; any refusal ends the upload. Returns the bytes stored so far.
async fn append(
    files: &Files,
    token: &str,
    channel_id: &str,
    chunk: Chunk<'_>,
) -> Result<u64, Refusal> {
    // Tokens are stored lower-case; the table is keyed by the stored form.
    let key = token.to_ascii_lowercase();
    let held = match files.inner.uploads.get(&key) {
        Some(slot) => slot.lock().await.as_ref().map(|p| p.checked.clone()),
        None => None,
    };
    let checked = match files
        .transfer_grant(token, Some(channel_id), Direction::Upload, held)
        .await
    {
        Ok(checked) => checked,
        Err(refusal) => {
            files.end_upload(&key, None).await;
            return Err(refusal);
        }
    };
    let stored = store_chunk(files, &checked, chunk).await;
    if stored.is_err() {
        let grant = &checked.grant;
        files
            .end_upload(&grant.token.token, grant.file.as_ref())
            .await;
    }
    stored
}

async fn store_chunk(
    files: &Files,
    checked: &CheckedGrant,
    chunk: Chunk<'_>,
) -> Result<u64, Refusal> {
    let grant = &checked.grant;
    let file = grant
        .file
        .as_ref()
        .filter(|f| f.name == chunk.name)
        .ok_or(Refusal::WrongFile)?;
    let mut slot = match files.inner.uploads.get(&grant.token.token) {
        Some(slot) => slot.lock_owned().await,
        None if chunk.offset == 0 => files.start_upload(checked, file, chunk.file_length).await?,
        None => return Err(Refusal::OffsetMismatch { stored: 0 }),
    };
    let progress = slot.as_mut().ok_or(Refusal::NoUpload)?;
    if progress.file.id != file.id {
        return Err(Refusal::WrongFile);
    }
    if progress.file_length != chunk.file_length {
        return Err(Refusal::LengthChanged);
    }
    let stored = progress.upload.len();
    if chunk.offset != stored {
        return Err(Refusal::OffsetMismatch { stored });
    }
    if stored + chunk.data.len() as u64 > chunk.file_length {
        return Err(Refusal::BeyondLength);
    }
    progress.checked = checked.clone();
    progress.upload.write(chunk.data).await?;
    let stored = progress.upload.len();
    if stored < chunk.file_length {
        return Ok(stored);
    }
    let progress = slot.take().expect("the upload is in progress");
    files.complete_upload(grant, progress).await
}

/// The download token's file, which the request must name exactly.
fn download_file<'g>(
    grant: &'g Grant,
    name: &str,
) -> Result<&'g parlance_store::files::StoredFile, Refusal> {
    let file = parlance_chat::files::Transfers::download_file(grant)?;
    if file.name != name {
        return Err(Refusal::WrongFile);
    }
    Ok(file)
}

/// The token a request carries, for the log.
fn token(request: &Request) -> &str {
    match request {
        Request::RequestUniqueFilenameWithExtension { token, .. }
        | Request::GetMaxFileSizeInKB { token, .. }
        | Request::GetMaxRequestContentInKB { token, .. }
        | Request::AppendChunk { token, .. }
        | Request::GetFileSize { token, .. }
        | Request::DownloadChunk { token, .. } => token,
    }
}

fn fault(refusal: &Refusal) -> Response {
    xml(
        StatusCode::INTERNAL_SERVER_ERROR,
        mgc::write_fault(refusal.fault_code(), &refusal.reason()),
    )
}

fn xml(status: StatusCode, body: impl Into<Body>) -> Response {
    (status, [(CONTENT_TYPE, XML)], body.into()).into_response()
}
