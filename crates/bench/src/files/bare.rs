//! The bare HTTPS copy: the limit the file service's throughput is compared with. The same
//! TLS stack as the server (rustls with ring under tokio-rustls, hyper's HTTP/1.1)
//! presenting the same certificate; `PUT /files/<name>` writes the body to a file and syncs
//! it, as the file store does before a file is complete, and `GET /files/<name>` sends it
//! back in steps of the plain API's size. No SOAP, no tokens, no database, no encryption at
//! rest: what is left is the cost of moving the bytes. It runs as the server's HTTPS does,
//! on a [`LowPriorityRuntime`] of the default `[web]` threads and priority, so that both get the
//! same share of the cores beside the bench.

use std::convert::Infallible;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use parlance_server::LowPriorityRuntime;
use parlance_server::config::WebConfig;

use crate::baseline::{Baseline, child_main};
use crate::error::BenchError;
use crate::wire;

/// What the bare server calls itself in its ready line.
const BARE: &str = "bare";

/// Where files live in the URL space.
const PREFIX: &str = "/files/";

/// How much of a file one step of a download reads and sends: the plain API's step.
const STEP: usize = 64 * 1024;

type Body = UnsyncBoxBody<Bytes, io::Error>;

/// The path of file `name`.
pub fn path(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// Starts the bare server, presenting `cert` and `key` and keeping files in `dir`.
pub async fn start(
    cert: &Path,
    key: &Path,
    dir: &Path,
    in_process: bool,
    lifetime: Duration,
) -> Result<Baseline, BenchError> {
    if in_process {
        let acceptor = wire::acceptor(cert, key)?;
        let dir = dir.to_path_buf();
        return Baseline::task(BARE, lifetime, |listener| serve(listener, acceptor, dir)).await;
    }
    let args = [
        "--cert".to_owned(),
        cert.display().to_string(),
        "--key".to_owned(),
        key.display().to_string(),
        "--dir".to_owned(),
        dir.display().to_string(),
    ];
    Baseline::child(BARE, "bare-child", lifetime, &args).await
}

/// The child's side of [`start`].
pub async fn bare_child(
    cert: &Path,
    key: &Path,
    dir: &Path,
    lifetime: Duration,
) -> Result<(), BenchError> {
    let acceptor = wire::acceptor(cert, key)?;
    let dir = dir.to_path_buf();
    child_main(BARE, lifetime, |listener| serve(listener, acceptor, dir)).await
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, dir: PathBuf) {
    let web = WebConfig::default();
    let listener = listener.into_std();
    let (runtime, listener) = match (
        LowPriorityRuntime::new("parlance-https", web.threads, web.priority),
        listener,
    ) {
        (Ok(runtime), Ok(listener)) => (runtime, listener),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "the bare HTTPS copy cannot start");
            return;
        }
    };
    let _ = runtime.spawn(accept(listener, acceptor, dir)).await;
}

async fn accept(listener: std::net::TcpListener, acceptor: TlsAcceptor, dir: PathBuf) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        tracing::error!("the bare HTTPS copy cannot listen");
        return;
    };
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, dir) = (acceptor.clone(), dir.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = service_fn(move |request| {
                let dir = dir.clone();
                async move { Ok::<_, Infallible>(answer(request, &dir).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(error = %e, "bare HTTPS connection failed");
            }
        });
    }
}

async fn answer(request: Request<Incoming>, dir: &Path) -> Response<Body> {
    let name = request
        .uri()
        .path()
        .strip_prefix(PREFIX)
        .filter(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                && !n.starts_with('.')
        })
        .map(|n| dir.join(n));
    let Some(file) = name else {
        return plain(StatusCode::NOT_FOUND, "no such file".into());
    };
    let answered = match *request.method() {
        Method::PUT => store(request.into_body(), &file).await,
        Method::GET => send(&file).await,
        _ => return plain(StatusCode::METHOD_NOT_ALLOWED, "PUT or GET".into()),
    };
    answered.unwrap_or_else(|e| plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Writes the body to `path` as it arrives, then syncs it; answers as the plain API does.
async fn store(mut body: Incoming, path: &Path) -> io::Result<Response<Body>> {
    let mut file = File::create(path).await?;
    let mut size = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(io::Error::other)?.into_data() {
            file.write_all(&data).await?;
            size += data.len() as u64;
        }
    }
    file.flush().await?;
    file.sync_all().await?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let stored = serde_json::json!({ "name": name, "size": size });
    Ok(Response::builder()
        .status(StatusCode::CREATED)
        .header(CONTENT_TYPE, "application/json")
        .body(full(stored.to_string()))
        .expect("a valid response"))
}

async fn send(path: &Path) -> io::Result<Response<Body>> {
    let file = File::open(path).await?;
    let len = file.metadata().await?.len();
    let steps = futures_util::stream::try_unfold(file, |mut file| async move {
        let mut step = BytesMut::with_capacity(STEP);
        if file.read_buf(&mut step).await? == 0 {
            return Ok(None);
        }
        Ok(Some((Frame::data(step.freeze()), file)))
    });
    Ok(Response::builder()
        .header(CONTENT_LENGTH, len)
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(StreamBody::new(steps).boxed_unsync())
        .expect("a valid response"))
}

fn plain(status: StatusCode, text: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(full(text))
        .expect("a valid response")
}

fn full(text: String) -> Body {
    Full::new(Bytes::from(text))
        .map_err(|never| match never {})
        .boxed_unsync()
}
