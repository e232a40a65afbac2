//! The baseline: a relay that does the least a chat server must do. It frames what each
//! connection sends (head end and Content-Length, nothing more), sends every request it
//! receives unchanged to every connection, the sender included, and drops answers. No
//! parsing, no dialogs, no storage. Each connection has one reader and one batching writer,
//! as in the server. Fan-out through it is the limit the server's fan-out is compared to.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use crate::baseline::{Baseline, child_main};
use crate::error::BenchError;
use crate::wire::{self, Frame, Stream};

/// What the relay calls itself in its ready line.
const RELAY: &str = "relay";

/// Frames written together at most, as the server's writer batches.
const WRITE_BATCH: usize = 64;

type Members = Arc<Mutex<Vec<(u64, mpsc::UnboundedSender<Bytes>)>>>;

/// Starts a relay; with `tls`, it presents this certificate and key.
pub async fn start(
    tls: Option<(&Path, &Path)>,
    in_process: bool,
    lifetime: Duration,
) -> Result<Baseline, BenchError> {
    if in_process {
        let acceptor = tls.map(|(c, k)| wire::acceptor(c, k)).transpose()?;
        return Baseline::task(RELAY, lifetime, |listener| serve(listener, acceptor)).await;
    }
    let args = match tls {
        Some((c, k)) => vec![
            "--cert".to_owned(),
            c.display().to_string(),
            "--key".to_owned(),
            k.display().to_string(),
        ],
        None => Vec::new(),
    };
    Baseline::child(RELAY, "relay-child", lifetime, &args).await
}

/// The child's side of [`start`].
pub async fn relay_child(
    tls: Option<(&Path, &Path)>,
    lifetime: Duration,
) -> Result<(), BenchError> {
    let acceptor = tls.map(|(c, k)| wire::acceptor(c, k)).transpose()?;
    child_main(RELAY, lifetime, |listener| serve(listener, acceptor)).await
}

async fn serve(listener: TcpListener, acceptor: Option<TlsAcceptor>) {
    let members: Members = Arc::default();
    let mut next_id = 0u64;
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        next_id += 1;
        let (id, members, acceptor) = (next_id, members.clone(), acceptor.clone());
        tokio::spawn(async move {
            let stream: Box<dyn Stream> = match acceptor {
                Some(a) => match a.accept(tcp).await {
                    Ok(tls) => Box::new(tls),
                    Err(_) => return,
                },
                None => Box::new(tcp),
            };
            connection(id, stream, members).await;
        });
    }
}

async fn connection(id: u64, stream: Box<dyn Stream>, members: Members) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    lock(&members).push((id, tx));
    let writer = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        while rx.recv_many(&mut batch, WRITE_BATCH).await > 0 {
            for frame in batch.drain(..) {
                if wr.write_all(&frame).await.is_err() {
                    return;
                }
            }
            if wr.flush().await.is_err() {
                return;
            }
        }
    });
    let mut buf = BytesMut::with_capacity(16 * 1024);
    'read: loop {
        loop {
            match wire::frame(&buf) {
                Ok(Frame::Partial) => break,
                Ok(Frame::KeepAlive(n)) => drop(buf.split_to(n)),
                Ok(Frame::Message { len, request }) => {
                    let frame = buf.split_to(len).freeze();
                    if request {
                        for (_, member) in lock(&members).iter() {
                            let _ = member.send(frame.clone());
                        }
                    }
                }
                Err(_) => break 'read,
            }
        }
        match rd.read_buf(&mut buf).await {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    lock(&members).retain(|(m, _)| *m != id);
    writer.abort();
}

fn lock(members: &Members) -> std::sync::MutexGuard<'_, Vec<(u64, mpsc::UnboundedSender<Bytes>)>> {
    members
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
