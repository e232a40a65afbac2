//! Downloading: `GET /PersistentChat/files/<token>` into a partial file beside the
//! destination, renamed into place once it is whole. A partial file left by an interrupted
//! download is resumed with `Range` (docs/protocol.md, "The plain file API"); it is named
//! after the file's GUID, so that it is never resumed with another file's bytes.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Method, StatusCode, header};
use tokio::fs::{self, OpenOptions};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::http::{self, Connector, driving};
use super::link::repository_guid;
use crate::error::ClientError;
use crate::types::FileToken;

/// Bytes gathered before they are written to the partial file.
const WRITE_BUFFER: usize = 64 * 1024;

/// What to do with the service's answer, given `have` bytes in the partial file.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// Write the body from byte `from` of the file (the partial file is cut there).
    Write { from: u64, total: u64 },
    /// The partial file is already the whole file.
    Complete { total: u64 },
    /// The partial file does not fit the file: start again without it.
    Restart,
    /// A refusal: its body says why.
    Refused,
}

/// Fetches the file of `token`, repository name `name`, into `destination`; its size.
pub(crate) async fn get(
    connector: &Connector,
    token: &FileToken,
    name: &str,
    destination: &Path,
    progress: &impl Fn(u64, u64),
) -> Result<u64, ClientError> {
    let part = part_path(destination, name)?;
    let mut restarted = false;
    loop {
        let have = match fs::metadata(&part).await {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(local(&part, &e)),
        };
        match fetch(connector, token, &part, have, progress).await? {
            Some(total) => return finish(&part, destination, total).await,
            None if !restarted => {
                restarted = true;
                match fs::remove_file(&part).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(local(&part, &e));
                    }
                    _ => {}
                }
            }
            None => {
                return Err(ClientError::Protocol(
                    "the file service refused to send the file from its start".into(),
                ));
            }
        }
    }
}

/// One request: the size of the file once the partial file holds all of it, `None` when the
/// partial file must go.
async fn fetch(
    connector: &Connector,
    token: &FileToken,
    part: &Path,
    have: u64,
    progress: &impl Fn(u64, u64),
) -> Result<Option<u64>, ClientError> {
    let (mut sender, connection, mut request) = connector.open::<Empty<Bytes>>(token).await?;
    if have > 0 {
        request = request.header(header::RANGE, format!("bytes={have}-"));
    }
    let request = http::built(request.method(Method::GET).body(Empty::new()))?;
    let idle = connector.idle;
    driving(connection, async {
        let response = tokio::time::timeout(idle, sender.send_request(request))
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(|e| http::transfer(&e))?;
        let headers = response.headers();
        let content_range = headers
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok());
        let content_length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        match plan(response.status(), content_range, content_length, have)? {
            Plan::Write { from, total } => {
                write(response.into_body(), part, from, total, idle, progress).await?;
                Ok(Some(total))
            }
            Plan::Complete { total } => Ok(Some(total)),
            Plan::Restart => Ok(None),
            Plan::Refused => Err(http::refusal(response, idle).await),
        }
    })
    .await
}

/// Reads the answer's status and framing against what the partial file holds.
fn plan(
    status: StatusCode,
    content_range: Option<&str>,
    content_length: Option<u64>,
    have: u64,
) -> Result<Plan, ClientError> {
    let unexpected = |what: String| ClientError::Protocol(format!("the file service sent {what}"));
    match status {
        StatusCode::OK => Ok(Plan::Write {
            from: 0,
            total: content_length.ok_or_else(|| unexpected("a file without its length".into()))?,
        }),
        StatusCode::PARTIAL_CONTENT => {
            let range = content_range.unwrap_or_default();
            match byte_range(range) {
                Some((Some((first, last)), total))
                    if first == have && last.checked_add(1) == Some(total) =>
                {
                    Ok(Plan::Write { from: have, total })
                }
                _ => Err(unexpected(format!(
                    "the range {range:?} when asked for bytes {have}-"
                ))),
            }
        }
        // Asked to resume past the end: either the partial file is whole already (the
        // rename was interrupted) or it is not this file's.
        StatusCode::RANGE_NOT_SATISFIABLE => match content_range.and_then(byte_range) {
            Some((None, total)) if total == have => Ok(Plan::Complete { total }),
            _ => Ok(Plan::Restart),
        },
        _ => Ok(Plan::Refused),
    }
}

/// `bytes first-last/total` or `bytes */total` (RFC 9110 §14.4).
fn byte_range(value: &str) -> Option<(Option<(u64, u64)>, u64)> {
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let total = total.parse().ok()?;
    if range == "*" {
        return Some((None, total));
    }
    let (first, last) = range.split_once('-')?;
    let (first, last) = (first.parse().ok()?, last.parse().ok()?);
    (first <= last && last < total).then_some((Some((first, last)), total))
}

/// Streams `body` into the partial file from byte `from`. What arrived is kept even when the
/// transfer breaks off, for the next attempt to resume.
async fn write(
    mut body: Incoming,
    part: &Path,
    from: u64,
    total: u64,
    idle: Duration,
    progress: &impl Fn(u64, u64),
) -> Result<(), ClientError> {
    let failed = |e: std::io::Error| local(part, &e);
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(part)
        .await
        .map_err(failed)?;
    file.set_len(from).await.map_err(failed)?;
    file.seek(SeekFrom::Start(from)).await.map_err(failed)?;
    let mut file = BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut done = from;
    progress(done, total);
    let copied = async {
        while let Some(frame) = tokio::time::timeout(idle, body.frame())
            .await
            .map_err(|_| ClientError::Timeout)?
        {
            let Ok(data) = frame.map_err(|e| http::transfer(&e))?.into_data() else {
                continue;
            };
            done += data.len() as u64;
            if done > total {
                return Err(ClientError::Protocol(format!(
                    "the file service sent more than the {total} bytes it announced"
                )));
            }
            file.write_all(&data).await.map_err(failed)?;
            progress(done, total);
        }
        Ok(())
    }
    .await;
    let flushed = file.flush().await.map_err(failed);
    copied?;
    flushed?;
    if done != total {
        return Err(ClientError::Transfer(format!(
            "the download ended after {done} of {total} bytes"
        )));
    }
    file.get_ref().sync_all().await.map_err(failed)
}

/// Moves the whole file into place, unless something else took its place meanwhile.
async fn finish(part: &Path, destination: &Path, total: u64) -> Result<u64, ClientError> {
    let size = fs::metadata(part).await.map_err(|e| local(part, &e))?.len();
    if size != total {
        return Err(ClientError::Transfer(format!(
            "the file has {size} bytes, not the {total} announced"
        )));
    }
    refuse_existing(destination).await?;
    fs::rename(part, destination)
        .await
        .map_err(|e| local(destination, &e))?;
    Ok(total)
}

/// Downloads never replace a file.
pub(crate) async fn refuse_existing(destination: &Path) -> Result<(), ClientError> {
    match fs::symlink_metadata(destination).await {
        Ok(_) => Err(ClientError::FileExists {
            path: destination.display().to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(local(destination, &e)),
    }
}

/// `<destination>.<file GUID>.part`, beside the destination.
fn part_path(destination: &Path, name: &str) -> Result<PathBuf, ClientError> {
    let file_name = destination
        .file_name()
        .ok_or_else(|| ClientError::LocalFile {
            path: destination.display().to_string(),
            reason: "not a file name".into(),
        })?;
    let mut part = file_name.to_os_string();
    part.push(format!(".{}.part", repository_guid(name)));
    Ok(destination.with_file_name(part))
}

fn local(path: &Path, error: &std::io::Error) -> ClientError {
    ClientError::LocalFile {
        path: path.display().to_string(),
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_download_takes_the_whole_file() {
        assert_eq!(
            plan(StatusCode::OK, None, Some(10), 0).unwrap(),
            Plan::Write { from: 0, total: 10 }
        );
        assert_eq!(
            plan(StatusCode::OK, None, Some(10), 4).unwrap(),
            Plan::Write { from: 0, total: 10 },
            "a server that ignores Range sends it all, and the partial file starts over"
        );
        assert!(
            plan(StatusCode::OK, None, None, 0).is_err(),
            "the length must be known"
        );
    }

    #[test]
    fn a_partial_file_is_resumed_exactly_where_it_ends() {
        assert_eq!(
            plan(
                StatusCode::PARTIAL_CONTENT,
                Some("bytes 4-9/10"),
                Some(6),
                4
            )
            .unwrap(),
            Plan::Write { from: 4, total: 10 }
        );
        for wrong in [
            "bytes 3-9/10",
            "bytes 5-9/10",
            "bytes 4-8/10",
            "bytes 4-10/10",
            "bytes */10",
            "items 4-9/10",
            "bytes 4-9/x",
            "",
        ] {
            assert!(
                plan(StatusCode::PARTIAL_CONTENT, Some(wrong), Some(6), 4).is_err(),
                "{wrong}"
            );
        }
        assert!(plan(StatusCode::PARTIAL_CONTENT, None, Some(6), 4).is_err());
    }

    #[test]
    fn a_range_past_the_end_is_a_whole_file_or_a_stranger() {
        let past_the_end =
            |range, have| plan(StatusCode::RANGE_NOT_SATISFIABLE, range, None, have).unwrap();
        assert_eq!(
            past_the_end(Some("bytes */10"), 10),
            Plan::Complete { total: 10 }
        );
        assert_eq!(past_the_end(Some("bytes */10"), 12), Plan::Restart);
        assert_eq!(past_the_end(None, 12), Plan::Restart);
    }

    #[test]
    fn refusals_are_read_from_their_body() {
        for status in [
            StatusCode::FORBIDDEN,
            StatusCode::NOT_FOUND,
            StatusCode::BAD_GATEWAY,
        ] {
            assert_eq!(plan(status, None, None, 0).unwrap(), Plan::Refused);
        }
    }

    #[test]
    fn partial_files_are_named_after_the_file() {
        let part = part_path(
            Path::new("dir/report.pdf"),
            "7c9e6679-7425-40de-944b-e07fc1f90ae7.pdf",
        )
        .unwrap();
        assert_eq!(
            part,
            Path::new("dir/report.pdf.7c9e6679-7425-40de-944b-e07fc1f90ae7.part")
        );
        assert!(part_path(Path::new("dir/.."), "x").is_err());
    }
}
