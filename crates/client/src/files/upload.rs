//! Uploading: `PUT /PersistentChat/files/<token>` with the file's length announced and its
//! bytes streamed as they are read, so that memory stays flat whatever the size. The service
//! answers `201 Created` with the repository name it chose (docs/protocol.md, "The plain file
//! API").
//!
//! The request says `Expect: 100-continue` and the bytes wait for the `100 Continue`: the
//! service refuses a token or a length before it reads a byte and then closes the
//! connection, and a client still sending at that moment would be reset, losing the answer
//! that says why.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::channel::{Channel, Sender};
use hyper::{Method, StatusCode, header};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Notify;

use super::http::{self, Connector, driving};
use crate::error::ClientError;
use crate::types::FileToken;
use xccos::is_repository_name;

/// Bytes read and sent at a time.
const CHUNK: usize = 64 * 1024;

/// How long the bytes wait for `100 Continue` before they go anyway (RFC 9110 §10.1.1: a
/// server may not answer the expectation).
const CONTINUE_WAIT: Duration = Duration::from_secs(3);

/// The request body: a channel the reader feeds, one chunk ahead of the connection.
type Upload = Channel<Bytes, io::Error>;

/// `201 Created`'s body.
#[derive(Deserialize)]
struct Stored {
    name: String,
    size: u64,
}

/// Sends `length` bytes of `reader` as the file of `token`; the repository name the service
/// stored them under. `label` names the file in errors about reading it.
pub(crate) async fn put(
    connector: &Connector,
    token: &FileToken,
    label: &str,
    reader: impl AsyncRead + Unpin,
    length: u64,
    progress: &impl Fn(u64, u64),
) -> Result<String, ClientError> {
    let (mut sender, connection, request) = connector.open::<Upload>(token).await?;
    let (body, channel) = Channel::new(1);
    let mut request = http::built(
        request
            .method(Method::PUT)
            .header(header::CONTENT_LENGTH, length)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::EXPECT, "100-continue")
            .body(channel),
    )?;
    let go = Arc::new(Notify::new());
    let heard = go.clone();
    hyper::ext::on_informational(&mut request, move |response| {
        if response.status() == StatusCode::CONTINUE {
            heard.notify_one();
        }
    });
    let idle = connector.idle;
    driving(connection, async {
        let feed = async {
            progress(0, length);
            let _ = tokio::time::timeout(CONTINUE_WAIT, go.notified()).await;
            feed(reader, length, body, idle, label, progress).await
        };
        let answer = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| http::transfer(&e))?;
            if response.status() != StatusCode::CREATED {
                return Err(http::refusal(response, idle).await);
            }
            let body = http::short_body(response.into_body(), idle).await?;
            let stored: Stored = serde_json::from_slice(&body).map_err(|e| {
                ClientError::Protocol(format!("the file service's answer is unreadable: {e}"))
            })?;
            if stored.size != length || !is_repository_name(&stored.name) {
                return Err(ClientError::Protocol(format!(
                    "the file service stored {} bytes as {:?}, not {length}",
                    stored.size, stored.name
                )));
            }
            Ok(stored.name)
        };
        tokio::pin!(feed, answer);
        // The server may answer before it has read everything (a refusal); otherwise the
        // answer follows the last byte, and must not be long in coming.
        tokio::select! {
            biased;
            fed = &mut feed => {
                fed?;
                tokio::time::timeout(idle, answer).await.map_err(|_| ClientError::Timeout)?
            }
            answer = &mut answer => answer,
        }
    })
    .await
}

/// Reads `length` bytes and hands them to the body; a reader that fails or ends early
/// aborts the body, so that the server never takes a short file for a whole one.
async fn feed(
    reader: impl AsyncRead + Unpin,
    length: u64,
    mut body: Sender<Bytes, io::Error>,
    idle: Duration,
    label: &str,
    progress: &impl Fn(u64, u64),
) -> Result<(), ClientError> {
    let mut reader = reader.take(length);
    let mut sent = 0;
    while sent < length {
        let mut chunk = BytesMut::with_capacity(CHUNK);
        let problem = match reader.read_buf(&mut chunk).await {
            Ok(0) => Some(format!("it ended after {sent} of {length} bytes")),
            Ok(_) => None,
            Err(e) => Some(format!("cannot read it: {e}")),
        };
        if let Some(reason) = problem {
            body.abort(io::Error::other(reason.clone()));
            return Err(ClientError::LocalFile {
                path: label.to_owned(),
                reason,
            });
        }
        let read = chunk.len() as u64;
        match tokio::time::timeout(idle, body.send_data(chunk.freeze())).await {
            Err(_) => return Err(ClientError::Timeout),
            // The connection is done with the body: the server answered early, or the
            // connection failed. The answer says which.
            Ok(Err(_)) => return Ok(()),
            Ok(Ok(())) => {
                sent += read;
                progress(sent, length);
            }
        }
    }
    Ok(())
}
