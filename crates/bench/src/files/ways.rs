//! The three ways a file travels, client side (docs/protocol.md, "File transfer over
//! HTTPS"): the bare copy (`PUT`/`GET /files/<name>` on the bare server), the plain file
//! API (`PUT`/`GET /PersistentChat/files/<token>`), and `MGCWebService.asmx`
//! (`AppendChunk`/`DownloadChunk` in chunks of the size the service announces, the calls a
//! Lync client makes around them included).

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, StatusCode};
use mgc::{ChunkReader, Limits, Request, Response};
use serde::Deserialize;

use super::https::{Connection, MAX_SHORT_ANSWER, Received, paced, read_all, unexpected, whole};
use crate::error::BenchError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    Bare,
    Plain,
    Soap,
}

impl Way {
    /// In the order each round takes them.
    pub const ALL: [Way; 3] = [Way::Bare, Way::Plain, Way::Soap];

    pub fn name(self) -> &'static str {
        match self {
            Way::Bare => "bare copy",
            Way::Plain => "plain API",
            Way::Soap => "SOAP",
        }
    }
}

/// The plain API's path for a token (the service has no prefix here).
pub fn plain_path(token: &str) -> String {
    format!("/PersistentChat/files/{token}")
}

/// `201 Created`'s body, from the plain API and the bare server alike.
#[derive(Deserialize)]
struct Stored {
    name: String,
    size: u64,
}

/// `PUT path` with `bytes`, at `pace` bytes per second when given; the name the server
/// stored them under.
pub async fn put(
    conn: &mut Connection,
    path: &str,
    bytes: Bytes,
    pace: Option<f64>,
) -> Result<String, BenchError> {
    let len = bytes.len() as u64;
    let request = conn
        .request(Method::PUT, path)
        .header(CONTENT_LENGTH, len)
        .header(CONTENT_TYPE, "application/octet-stream");
    let body = match pace {
        Some(bytes_per_sec) => paced(bytes, bytes_per_sec),
        None => whole(bytes),
    };
    let response = conn.send(request, body).await?;
    if response.status() != StatusCode::CREATED {
        return Err(unexpected(response, StatusCode::CREATED).await);
    }
    let body = read_all(response.into_body(), MAX_SHORT_ANSWER).await?;
    let stored: Stored = serde_json::from_slice(&body)
        .map_err(|e| BenchError::Http(format!("unreadable answer to PUT {path}: {e}")))?;
    if stored.size != len {
        return Err(BenchError::Failed(format!(
            "PUT {path}: the server stored {} of {len} bytes",
            stored.size
        )));
    }
    Ok(stored.name)
}

/// `GET path`: the whole file, hashed as it arrives.
pub async fn get(conn: &mut Connection, path: &str) -> Result<Received, BenchError> {
    let request = conn.request(Method::GET, path);
    let response = conn.send(request, whole(Bytes::new())).await?;
    if response.status() != StatusCode::OK {
        return Err(unexpected(response, StatusCode::OK).await);
    }
    let mut received = Received::default();
    received.body(response.into_body()).await?;
    Ok(received)
}

/// A client of `MGCWebService.asmx` for one token, on one keep-alive connection.
#[derive(Debug)]
pub struct Soap {
    conn: Connection,
    token: String,
    channel_id: String,
    /// What an answer may hold: one chunk once the service has said how large.
    limits: Limits,
}

impl Soap {
    /// `channel_id` is the room's GUID.
    pub fn new(conn: Connection, token: &str, channel_id: &str) -> Soap {
        Soap {
            conn,
            token: token.to_owned(),
            channel_id: channel_id.to_owned(),
            limits: Limits::default(),
        }
    }

    /// Stores `bytes` as the token's file, chunk after chunk; its repository name.
    pub async fn upload(&mut self, bytes: &Bytes) -> Result<String, BenchError> {
        let extension = "bin".to_owned();
        let name = match self
            .call(Request::RequestUniqueFilenameWithExtension {
                token: self.token.clone(),
                channel_id: self.channel_id.clone(),
                extension,
            })
            .await?
        {
            Response::UniqueFilename(name) => name,
            other => return Err(wrong(&other)),
        };
        let len = bytes.len() as u64;
        match self
            .call(Request::GetMaxFileSizeInKB {
                token: self.token.clone(),
                channel_id: self.channel_id.clone(),
            })
            .await?
        {
            Response::MaxFileSizeInKB(kib) if u64::try_from(kib).unwrap_or(0) * 1024 >= len => {}
            other => {
                return Err(BenchError::Failed(format!(
                    "the service takes no file of {len} bytes: {other:?}"
                )));
            }
        }
        let chunk = self.chunk_bytes().await?;
        let mut offset = 0;
        // A file of no bytes is one empty chunk.
        loop {
            let end = (offset + chunk).min(bytes.len());
            let stored = match self
                .call(Request::AppendChunk {
                    token: self.token.clone(),
                    channel_id: self.channel_id.clone(),
                    unique_filename: name.clone(),
                    file_chunk: bytes[offset..end].to_vec(),
                    offset: offset as u64,
                    file_length: len,
                })
                .await?
            {
                Response::AppendChunk(stored) => stored,
                other => return Err(wrong(&other)),
            };
            if u64::try_from(stored).ok() != Some(end as u64) {
                return Err(BenchError::Failed(format!(
                    "AppendChunk up to {end} answered {stored} bytes stored"
                )));
            }
            offset = end;
            if offset == bytes.len() {
                return Ok(name);
            }
        }
    }

    /// Reads the token's file `name`, chunk after chunk, hashed as it arrives.
    pub async fn download(&mut self, name: &str) -> Result<Received, BenchError> {
        let size = match self
            .call(Request::GetFileSize {
                token: self.token.clone(),
                channel_id: self.channel_id.clone(),
                repos_file_name: name.to_owned(),
            })
            .await?
        {
            Response::FileSize(size) => u64::try_from(size).unwrap_or(0),
            other => return Err(wrong(&other)),
        };
        let chunk = self.chunk_bytes().await?;
        let mut received = Received::default();
        let mut offset = 0;
        while offset < size {
            let request = Request::DownloadChunk {
                token: self.token.clone(),
                channel_id: self.channel_id.clone(),
                repos_file_name: name.to_owned(),
                offset,
                buffer_size: chunk as u64,
            };
            match self.download_chunk(&request, &mut received).await? {
                0 => return Err(wrong(&Response::DownloadChunk(Vec::new()))),
                len => offset += len as u64,
            }
        }
        Ok(received)
    }

    /// One `DownloadChunk`, its answer read as it arrives ([`mgc::ChunkReader`]) and its
    /// bytes hashed as they are decoded, as a .NET client decodes from the response stream;
    /// how many bytes the chunk held.
    async fn download_chunk(
        &mut self,
        request: &Request,
        received: &mut Received,
    ) -> Result<usize, BenchError> {
        let response = self.send(request).await?;
        if response.status() != StatusCode::OK {
            let body = read_all(response.into_body(), self.limits.max_body_bytes).await?;
            let answer = mgc::parse_response(request.operation(), &body, &self.limits)?;
            return Err(wrong(&answer));
        }
        let mut reader = ChunkReader::new(&self.limits);
        let mut body = response.into_body();
        let mut data = Vec::new();
        let mut len = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BenchError::Http(format!("chunk broke off: {e}")))?;
            if let Ok(bytes) = frame.into_data() {
                reader.feed(&bytes, &mut data)?;
                received.add(&data);
                len += data.len();
                data.clear();
            }
        }
        reader.finish(&mut data)?;
        received.add(&data);
        Ok(len + data.len())
    }

    /// The chunk size the service announces; answers are read with room for one after.
    async fn chunk_bytes(&mut self) -> Result<usize, BenchError> {
        match self
            .call(Request::GetMaxRequestContentInKB {
                token: self.token.clone(),
                channel_id: self.channel_id.clone(),
            })
            .await?
        {
            Response::MaxRequestContentInKB(kib) if kib > 0 => {
                let bytes = usize::try_from(kib).unwrap_or(0) * 1024;
                self.limits = Limits::for_chunk(bytes);
                Ok(bytes)
            }
            other => Err(wrong(&other)),
        }
    }

    /// One operation: the request as a Lync client sends it, the answer parsed. A refusal
    /// is a SOAP fault with HTTP 500, and comes back as [`mgc::SoapError::Fault`].
    async fn call(&mut self, request: Request) -> Result<Response, BenchError> {
        let response = self.send(&request).await?;
        let body = read_all(response.into_body(), self.limits.max_body_bytes).await?;
        Ok(mgc::parse_response(
            request.operation(),
            &body,
            &self.limits,
        )?)
    }

    /// Sends `request`; its answer, an operation's (200) or a fault (500).
    async fn send(&mut self, request: &Request) -> Result<hyper::Response<Incoming>, BenchError> {
        let http = self
            .conn
            .request(Method::POST, mgc::PATH)
            .header(CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("SOAPAction", request.soap_action());
        let body = whole(Bytes::from(mgc::write_request(request)));
        let response = self.conn.send(http, body).await?;
        if !matches!(
            response.status(),
            StatusCode::OK | StatusCode::INTERNAL_SERVER_ERROR
        ) {
            return Err(unexpected(response, StatusCode::OK).await);
        }
        Ok(response)
    }
}

fn wrong(response: &Response) -> BenchError {
    let what = match response {
        Response::DownloadChunk(data) => format!("a chunk of {} bytes", data.len()),
        other => format!("{other:?}"),
    };
    BenchError::Failed(format!("the service answered {what}"))
}
