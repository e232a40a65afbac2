//! A TCP relay between a client and a server, which the test can take down (every
//! connection through it is cut and new ones are dropped) and bring up towards another
//! address: a network outage, and a server that comes back elsewhere. It can also cut each
//! connection once the server has sent so many bytes through it: a transfer broken off at a
//! known point. It also keeps what
//! the server sent, so that a test over plain TCP can wait for a given answer (the one to
//! the client's session refresh, say) instead of sleeping for as long as it may take. And it
//! can fall silent: connections stay open but nothing the server sends gets through, as
//! when a server's machine dies without closing anything.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Relay {
    addr: SocketAddr,
    /// Where connections go; `None` while down.
    target: Arc<Mutex<Option<SocketAddr>>>,
    /// Bytes from the server after which a new connection is cut; `None`: no limit.
    budget: Arc<Mutex<Option<usize>>>,
    /// While set, what the server sends is dropped.
    silent: Arc<AtomicBool>,
    /// Bumped to cut every open connection.
    cut: watch::Sender<u64>,
    /// Every byte the server sent, over every connection.
    from_server: watch::Sender<Vec<u8>>,
    accept: JoinHandle<()>,
}

impl Relay {
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("relay listens");
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(Mutex::new(Some(target)));
        let budget = Arc::new(Mutex::new(None));
        let silent = Arc::new(AtomicBool::new(false));
        let (cut, _) = watch::channel(0);
        let (from_server, _) = watch::channel(Vec::new());
        let accept = tokio::spawn(accept_loop(
            listener,
            target.clone(),
            budget.clone(),
            silent.clone(),
            cut.clone(),
            from_server.clone(),
        ));
        Relay {
            addr,
            target,
            budget,
            silent,
            cut,
            from_server,
            accept,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn down(&self) {
        *self.target.lock().unwrap() = None;
        self.cut.send_modify(|g| *g += 1);
    }

    pub fn up(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = Some(target);
    }

    /// From now on (`true`) or no longer (`false`), nothing from the server gets through;
    /// every connection stays open.
    pub fn silence(&self, silent: bool) {
        self.silent.store(silent, Ordering::SeqCst);
    }

    /// Connections opened from now on are cut once the server has sent `bytes` through
    /// them; `None` lifts the limit.
    pub fn cut_after(&self, bytes: Option<usize>) {
        *self.budget.lock().unwrap() = bytes;
    }

    /// Waits, at most `within`, until the server has sent `n` responses whose status line
    /// starts with `status` (`"200"`) and whose CSeq names `method`.
    pub async fn await_responses(&self, n: usize, status: &str, method: &str, within: Duration) {
        let mut seen = self.from_server.subscribe();
        let enough = |bytes: &Vec<u8>| responses(bytes, status, method) >= n;
        tokio::time::timeout(within, seen.wait_for(enough))
            .await
            .unwrap_or_else(|_| panic!("no {n} × {status} to {method} from the server"))
            .expect("the relay is up");
    }
}

/// Responses in a SIP byte stream with that status and that method in their CSeq.
fn responses(bytes: &[u8], status: &str, method: &str) -> usize {
    let text = String::from_utf8_lossy(bytes);
    let cseq = format!(" {method}");
    text.split("SIP/2.0 ")
        .filter(|m| m.starts_with(status))
        .filter(|m| {
            m.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("cseq:"))
                .is_some_and(|l| l.ends_with(&cseq))
        })
        .count()
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut.send_modify(|g| *g += 1);
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: Arc<Mutex<Option<SocketAddr>>>,
    budget: Arc<Mutex<Option<usize>>>,
    silent: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    from_server: watch::Sender<Vec<u8>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        let Some(to) = *target.lock().unwrap() else {
            continue;
        };
        let mut budget = budget.lock().unwrap().unwrap_or(usize::MAX);
        let mut cut = cut.subscribe();
        let from_server = from_server.clone();
        let silent = silent.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(to).await else {
                return;
            };
            let (mut client_rx, mut client_tx) = client.into_split();
            let (mut server_rx, mut server_tx) = server.into_split();
            let up = tokio::io::copy(&mut client_rx, &mut server_tx);
            let down = async {
                let mut buf = vec![0; 16 * 1024];
                loop {
                    match server_rx.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) if silent.load(Ordering::SeqCst) => {}
                        Ok(n) => {
                            let n = n.min(budget);
                            budget -= n;
                            from_server.send_modify(|b| b.extend_from_slice(&buf[..n]));
                            if client_tx.write_all(&buf[..n]).await.is_err() || budget == 0 {
                                return;
                            }
                        }
                    }
                }
            };
            tokio::select! {
                _ = up => {}
                _ = down => {}
                _ = cut.changed() => {}
            }
        });
    }
}
