//! Accepting on a listening socket without spinning when the process is out of file
//! descriptors.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// The next connection on `listener`; `None` after a failed accept (typically EMFILE),
/// logged and waited out briefly so that the caller's loop does not spin on it.
pub(crate) async fn accept(listener: &TcpListener, what: &str) -> Option<(TcpStream, SocketAddr)> {
    match listener.accept().await {
        Ok(accepted) => Some(accepted),
        Err(e) => {
            tracing::warn!(error = %e, listener = what, "accept failed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        }
    }
}
