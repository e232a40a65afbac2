//! A TCP relay between a client and a server, which the test can take down (every
//! connection through it is cut and new ones are dropped) and bring up towards another
//! address: a network outage, and a server that comes back elsewhere.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Relay {
    addr: SocketAddr,
    /// Where connections go; `None` while down.
    target: Arc<Mutex<Option<SocketAddr>>>,
    /// Bumped to cut every open connection.
    cut: watch::Sender<u64>,
    accept: JoinHandle<()>,
}

impl Relay {
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("relay listens");
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(Mutex::new(Some(target)));
        let (cut, _) = watch::channel(0);
        let accept = tokio::spawn(accept_loop(listener, target.clone(), cut.clone()));
        Relay {
            addr,
            target,
            cut,
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
    cut: watch::Sender<u64>,
) {
    while let Ok((mut client, _)) = listener.accept().await {
        let Some(to) = *target.lock().unwrap() else {
            continue;
        };
        let mut cut = cut.subscribe();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(to).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = cut.changed() => {}
            }
        });
    }
}
