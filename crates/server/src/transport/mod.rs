//! Connections: SIP over TCP and TLS. Each connection has one reader (framing with
//! sip-proto's decoder, handing messages to the dispatcher in order) and one writer that
//! writes out, in one go, whatever was queued for it since its last write: a queue
//! bounded in bytes. The server sends its own requests over the client's connection
//! too, since clients such as pidgin-sipe do not listen for connections of their own.

mod connection;
mod listener;
mod tls;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use parlance_chat::backlog::OutputBacklog;
use parlance_metrics::Counter;
use sip_proto::{Message, Rejected, Request, Response};
use tokio::sync::Notify;

pub use listener::{ListenError, Listeners, bind_listeners, listen};

pub type ConnId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Tls,
}

impl Transport {
    /// The Via transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// What the transport hands its messages to (the front end).
pub trait Dispatch: Send + Sync + 'static {
    fn on_message(&self, conn: &ConnHandle, message: Message) -> impl Future<Output = ()> + Send;
    fn on_rejected(&self, conn: &ConnHandle, rejected: Rejected)
    -> impl Future<Output = ()> + Send;
    fn on_closed(&self, conn: &ConnHandle) -> impl Future<Output = ()> + Send;
    /// Offered the head of each response before it is parsed: an answer the dispatcher can
    /// match from a few fields ([`sip_proto::ResponseMatch`]) it takes, and it is not
    /// parsed or handed on. Answers to the server's deliveries arrive by the thousand.
    fn take_answer(&self, conn: &ConnHandle, head: &[u8]) -> bool;
}

/// A handle to one connection, cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    inner: Arc<ConnInner>,
}

#[derive(Debug)]
struct ConnInner {
    id: ConnId,
    peer: SocketAddr,
    local: SocketAddr,
    transport: Transport,
    /// A remote flow: a client connected to another node of the pool, whose messages that
    /// node forwards here (see `crate::forward`). Its writer publishes instead of writing a
    /// socket; everything else about it is a connection's. Holds the Via parameter naming
    /// this node, which the client's node needs to send the answers back here.
    remote: Option<Box<str>>,
    /// Messages queued for the writer, back to back: it takes them all at once.
    outbox: Mutex<Vec<u8>>,
    /// Tells the writer that the outbox is no longer empty.
    ready: Notify,
    /// Bytes handed to the writer and not yet written to the socket.
    queued: AtomicUsize,
    /// The most `queued` may reach; see [`ConnHandle::send_bytes`].
    queue_limit: usize,
    /// Counts this connection while `queued` is above zero.
    backlog: OutputBacklog,
    closed: AtomicBool,
    close: Notify,
    /// The address-of-record this connection authenticated as.
    identity: Mutex<Option<String>>,
    /// When it first did: a connection never changes accounts, and a REGISTER refresh is
    /// not a new sign-in.
    signed_in_at: OnceLock<SystemTime>,
    /// Signs what is sent once the connection has a security association.
    signer: Mutex<Option<Arc<dyn Signer>>>,
    /// Whether `signer` is set (it is never unset): asked once per delivery, which should
    /// not take a lock that every other delivery to this member takes too.
    signing: AtomicBool,
    /// A request on this connection was refused and logged: a client that keeps sending
    /// such requests is refused each time, but the log says so once.
    refusal_logged: AtomicBool,
    /// Counts connections closed for a full write queue (the server's metric).
    drops: Counter,
}

/// Signs outgoing messages for one connection (MS-SIPAE `Authentication-Info`). The
/// transport knows only that something may need to be added before a message leaves.
pub trait Signer: Send + Sync + std::fmt::Debug {
    fn sign(&self, message: &mut Message);
}

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    #[error("connection closed")]
    Closed,
    #[error("write queue full: the peer does not read")]
    QueueFull,
}

impl ConnHandle {
    pub fn id(&self) -> ConnId {
        self.inner.id
    }

    pub fn peer(&self) -> SocketAddr {
        self.inner.peer
    }

    pub fn local(&self) -> SocketAddr {
        self.inner.local
    }

    pub fn transport(&self) -> Transport {
        self.inner.transport
    }

    pub fn is_remote(&self) -> bool {
        self.inner.remote.is_some()
    }

    /// Sends a message, signed when the connection has a signer.
    pub fn send_message(&self, mut message: Message) -> Result<(), SendError> {
        let signer = self.inner.signer.lock().expect("signer lock").clone();
        if let Some(signer) = signer {
            signer.sign(&mut message);
        }
        self.send_bytes(message.to_bytes())
    }

    pub fn send_request(&self, request: Request) -> Result<(), SendError> {
        self.send_message(Message::Request(request))
    }

    pub fn send_response(&self, response: Response) -> Result<(), SendError> {
        self.send_message(Message::Response(response))
    }

    pub fn set_signer(&self, signer: Arc<dyn Signer>) {
        *self.inner.signer.lock().expect("signer lock") = Some(signer);
        self.inner.signing.store(true, Ordering::Release);
    }

    /// Whether what is sent here is signed: then only whole messages may be sent
    /// ([`Self::send_message`]), not bytes written ahead ([`Self::send_with`]).
    pub fn signs(&self) -> bool {
        self.inner.signing.load(Ordering::Acquire)
    }

    /// The Via of a request the server sends over this connection.
    pub fn via(&self, branch: &str) -> String {
        let local = self.local();
        format!(
            "SIP/2.0/{} {}:{};branch={branch}{}",
            self.transport().via_token(),
            local.ip(),
            local.port(),
            self.inner.remote.as_deref().unwrap_or("")
        )
    }

    pub(crate) fn send_bytes(&self, bytes: Vec<u8>) -> Result<(), SendError> {
        self.send_with(bytes.len(), |out| out.extend_from_slice(&bytes))
    }

    /// Queues a message of `len` bytes, which `write` appends to the bytes waiting for the
    /// writer: it may render the message there, with no buffer of its own. It must not
    /// block, since the connection's queue is locked while it runs. Messages leave in the
    /// order their `write` ran.
    ///
    /// The queue is bounded in bytes, not in messages: a burst of small answers (say, every
    /// transaction towards a peer that just went away failing at once) is normal traffic,
    /// while a peer that stops reading lets large messages pile up. One message is always
    /// accepted into an empty queue, however large. Past the limit the peer is taken to have
    /// stopped reading: the connection is closed rather than letting it hold up whoever is
    /// sending to it.
    pub fn send_with(&self, len: usize, write: impl FnOnce(&mut Vec<u8>)) -> Result<(), SendError> {
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        let before = self.inner.queued.fetch_add(len, Ordering::AcqRel);
        if before > 0 && before + len > self.inner.queue_limit {
            self.inner.queued.fetch_sub(len, Ordering::AcqRel);
            tracing::warn!(conn = self.id(), peer = %self.peer(), queued = before, "write queue full, closing connection");
            self.inner.drops.inc();
            self.close();
            return Err(SendError::QueueFull);
        }
        if before == 0 {
            self.inner.backlog.queued();
        }
        let mut outbox = self.inner.outbox.lock().expect("outbox lock");
        let was_empty = outbox.is_empty();
        let start = outbox.len();
        // The writer took the last batch whole, so an outbox starts empty: grown once to
        // its message's size rather than by doubling while `write` appends piece by piece.
        outbox.reserve(len);
        write(&mut outbox);
        debug_assert_eq!(outbox.len() - start, len, "a message as long as announced");
        drop(outbox);
        // One wake-up per batch: a writer told once finds everything queued after it.
        if was_empty {
            self.inner.ready.notify_one();
        }
        Ok(())
    }

    /// The next batch for the writer: everything queued since it last took the queue, once
    /// there is something. `None` once the connection is closed: what is still queued then
    /// is the writer's to flush ([`Self::take_queued`]) as far as a closing peer allows.
    /// Everything queued meanwhile goes out in one: a room's burst of deliveries to this
    /// member is one write, and one TLS record where it fits.
    pub(crate) async fn next_batch(&self) -> Option<Vec<u8>> {
        loop {
            if self.is_closed() {
                return None;
            }
            let batch = self.take_queued();
            if !batch.is_empty() {
                return Some(batch);
            }
            tokio::select! {
                biased;
                () = self.inner.ready.notified() => {}
                () = self.closed() => return None,
            }
        }
    }

    /// Everything queued for the writer, leaving the queue empty.
    pub(crate) fn take_queued(&self) -> Vec<u8> {
        std::mem::take(&mut *self.inner.outbox.lock().expect("outbox lock"))
    }

    /// The writer wrote `len` queued bytes to the socket.
    pub(crate) fn written(&self, len: usize) {
        if self.inner.queued.fetch_sub(len, Ordering::AcqRel) == len {
            self.inner.backlog.drained();
        }
    }

    /// The writer has stopped: whatever is still counted as queued will not be written
    /// (it was flushed as far as a closing peer allowed, or not at all), and must not
    /// keep the connection in the server's output backlog.
    pub(crate) fn discard_queued(&self) {
        if self.inner.queued.swap(0, Ordering::AcqRel) > 0 {
            self.inner.backlog.drained();
        }
    }

    pub fn close(&self) {
        if !self.inner.closed.swap(true, Ordering::SeqCst) {
            self.inner.close.notify_waiters();
        }
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    pub fn identity(&self) -> Option<String> {
        self.inner.identity.lock().expect("identity lock").clone()
    }

    /// True the first time it is called on this connection: whether to log a refusal
    /// (a limit hit, a request for someone else's dialog).
    pub fn first_refusal(&self) -> bool {
        !self.inner.refusal_logged.swap(true, Ordering::Relaxed)
    }

    pub fn set_identity(&self, aor: &str) {
        *self.inner.identity.lock().expect("identity lock") = Some(aor.to_owned());
        self.inner.signed_in_at.get_or_init(SystemTime::now);
    }

    /// When the connection first authenticated; `None` while it has not.
    pub fn signed_in_at(&self) -> Option<SystemTime> {
        self.inner.signed_in_at.get().copied()
    }

    pub(crate) async fn closed(&self) {
        let notified = self.inner.close.notified();
        if self.is_closed() {
            return;
        }
        notified.await;
    }
}

impl Drop for ConnInner {
    /// A message queued after the writer stopped (a send racing the close) is never
    /// written either: the connection leaves the backlog when its last handle goes.
    fn drop(&mut self) {
        if *self.queued.get_mut() > 0 {
            self.backlog.drained();
        }
    }
}

/// Every open connection, by id.
#[derive(Debug, Default)]
pub struct Connections {
    next_id: AtomicU64,
    open: Mutex<HashMap<ConnId, ConnHandle>>,
    /// Remote flows, apart: they are not this node's connections (not counted, not listed
    /// as signed in here), but dialogs and flow tokens name them by id like the others.
    remote: Mutex<HashMap<ConnId, ConnHandle>>,
    /// Handed to every connection, which counts its own drop.
    drops: Counter,
    /// Handed to every connection, which is counted in it while it has output queued.
    backlog: OutputBacklog,
}

impl Connections {
    /// `drops` counts the connections closed because their write queue filled; `backlog`,
    /// those with output queued and not yet written.
    pub fn new(drops: Counter, backlog: OutputBacklog) -> Connections {
        Connections {
            drops,
            backlog,
            ..Connections::default()
        }
    }

    /// Open connections over TCP and over TLS.
    pub fn by_transport(&self) -> (usize, usize) {
        let open = self.open.lock().expect("connections lock");
        let tls = open
            .values()
            .filter(|c| c.transport() == Transport::Tls)
            .count();
        (open.len() - tls, tls)
    }

    /// The connection or remote flow `id`.
    pub fn get(&self, id: ConnId) -> Option<ConnHandle> {
        self.local(id).or_else(|| {
            self.remote
                .lock()
                .expect("remote flows lock")
                .get(&id)
                .cloned()
        })
    }

    /// The connection `id` of this node (never a remote flow).
    pub fn local(&self, id: ConnId) -> Option<ConnHandle> {
        self.open
            .lock()
            .expect("connections lock")
            .get(&id)
            .cloned()
    }

    /// The open connection whose peer is `addr`.
    pub fn by_peer(&self, addr: SocketAddr) -> Option<ConnHandle> {
        self.open
            .lock()
            .expect("connections lock")
            .values()
            .find(|c| c.peer() == addr)
            .cloned()
    }

    pub fn len(&self) -> usize {
        self.open.lock().expect("connections lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes handed to the connections' writers and not written yet, over all of them.
    pub fn queued_bytes(&self) -> usize {
        self.open
            .lock()
            .expect("connections lock")
            .values()
            .map(|c| c.inner.queued.load(Ordering::Acquire))
            .sum()
    }

    /// Closes every connection authenticated as `aor`; returns how many. The user part is
    /// compared without case, as the store finds accounts: a client that registered as
    /// `Alice` is the account `alice` and must not escape its sign-out.
    pub fn close_identity(&self, aor: &str) -> usize {
        let open = self.open.lock().expect("connections lock");
        let mine: Vec<&ConnHandle> = open
            .values()
            .filter(|c| c.identity().is_some_and(|id| id.eq_ignore_ascii_case(aor)))
            .collect();
        for c in &mine {
            c.close();
        }
        mine.len()
    }

    /// The open connections that have authenticated.
    pub fn signed_in(&self) -> Vec<ConnHandle> {
        self.open
            .lock()
            .expect("connections lock")
            .values()
            .filter(|c| c.signed_in_at().is_some())
            .cloned()
            .collect()
    }

    pub fn close_all(&self) {
        for c in self.open.lock().expect("connections lock").values() {
            c.close();
        }
    }

    fn register(
        &self,
        peer: SocketAddr,
        local: SocketAddr,
        transport: Transport,
        queue_limit: usize,
    ) -> ConnHandle {
        self.add((peer, local, transport), queue_limit, None)
    }

    /// A remote flow: the client at `peer` is connected to `local` on another node. What
    /// is sent over it is queued as on a connection, bounded by `queue_limit`, for the
    /// caller's writer to pass on ([`ConnHandle::wait_queued`]).
    pub(crate) fn register_remote(
        &self,
        peer: SocketAddr,
        local: SocketAddr,
        transport: Transport,
        queue_limit: usize,
        via_param: &str,
    ) -> ConnHandle {
        self.add(
            (peer, local, transport),
            queue_limit,
            Some(via_param.into()),
        )
    }

    pub(crate) fn unregister_remote(&self, id: ConnId) {
        self.remote.lock().expect("remote flows lock").remove(&id);
    }

    fn add(
        &self,
        (peer, local, transport): (SocketAddr, SocketAddr, Transport),
        queue_limit: usize,
        remote: Option<Box<str>>,
    ) -> ConnHandle {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = ConnHandle {
            inner: Arc::new(ConnInner {
                id,
                peer,
                local,
                transport,
                remote,
                outbox: Mutex::new(Vec::new()),
                ready: Notify::new(),
                queued: AtomicUsize::new(0),
                queue_limit,
                backlog: self.backlog.clone(),
                closed: AtomicBool::new(false),
                close: Notify::new(),
                identity: Mutex::new(None),
                signed_in_at: OnceLock::new(),
                signer: Mutex::new(None),
                signing: AtomicBool::new(false),
                refusal_logged: AtomicBool::new(false),
                drops: self.drops.clone(),
            }),
        };
        let into = match handle.is_remote() {
            true => &self.remote,
            false => &self.open,
        };
        into.lock()
            .expect("connections lock")
            .insert(id, handle.clone());
        handle
    }

    fn unregister(&self, id: ConnId) {
        self.open.lock().expect("connections lock").remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(queue_limit: usize) -> ConnHandle {
        let addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        Connections::default().register(addr, addr, Transport::Tcp, queue_limit)
    }

    #[test]
    fn an_account_is_signed_out_whatever_the_case_it_registered_with() {
        let connections = Connections::default();
        let addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let alice = connections.register(addr, addr, Transport::Tcp, 1000);
        let bob = connections.register(addr, addr, Transport::Tcp, 1000);
        alice.set_identity("sip:Alice@example.com");
        bob.set_identity("sip:bob@example.com");
        assert_eq!(connections.close_identity("sip:alice@example.com"), 1);
        assert!(alice.is_closed() && !bob.is_closed());
    }

    #[test]
    fn many_small_messages_fit_where_few_large_ones_do_not() {
        let conn = connection(10_000);
        for _ in 0..100 {
            conn.send_bytes(vec![b'a'; 100]).unwrap();
        }
        assert_eq!(conn.send_bytes(vec![b'a'; 1]), Err(SendError::QueueFull));
        assert!(conn.is_closed(), "a peer that does not read is dropped");
    }

    #[test]
    fn a_connection_is_in_the_output_backlog_while_it_has_bytes_unwritten() {
        let backlog = OutputBacklog::new();
        let connections = Connections::new(Counter::default(), backlog.clone());
        let addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let (alice, bob) = (
            connections.register(addr, addr, Transport::Tcp, 10_000),
            connections.register(addr, addr, Transport::Tcp, 10_000),
        );
        alice.send_bytes(b"one ".to_vec()).unwrap();
        bob.send_bytes(b"one ".to_vec()).unwrap();
        let first = alice.take_queued();
        alice.send_bytes(b"two".to_vec()).unwrap();
        alice.written(first.len());
        assert!(
            backlog.is_busy(),
            "alice's second message is not written yet"
        );
        alice.written(alice.take_queued().len());
        bob.written(bob.take_queued().len());
        assert!(!backlog.is_busy(), "everything written");
        // A writer that stops leaves its unwritten bytes behind, and the backlog with them;
        // so does a connection dropped with bytes queued after its writer stopped.
        alice.send_bytes(b"three".to_vec()).unwrap();
        alice.close();
        alice.discard_queued();
        assert!(!backlog.is_busy());
        bob.send_bytes(b"four".to_vec()).unwrap();
        connections.unregister(bob.id());
        drop(bob);
        assert!(!backlog.is_busy());
    }

    #[test]
    fn written_bytes_leave_the_budget() {
        let conn = connection(1_000);
        conn.send_bytes(vec![b'a'; 600]).unwrap();
        let taken = conn.take_queued();
        conn.written(taken.len());
        conn.send_bytes(vec![b'a'; 600]).unwrap();
        assert!(!conn.is_closed());
    }

    #[test]
    fn a_remote_flow_is_bounded_like_a_connection_and_not_counted_as_one() {
        let connections = Connections::default();
        let addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let flow = connections.register_remote(addr, addr, Transport::Tls, 1_000, ";pn=n1");
        assert!(flow.is_remote());
        assert_eq!(connections.len(), 0);
        assert!(connections.get(flow.id()).is_some());
        assert!(connections.local(flow.id()).is_none());
        flow.send_bytes(vec![b'a'; 600]).unwrap();
        assert_eq!(flow.send_bytes(vec![b'a'; 600]), Err(SendError::QueueFull));
        assert!(flow.is_closed());
        connections.unregister_remote(flow.id());
        assert!(connections.get(flow.id()).is_none());
    }

    #[test]
    fn one_message_larger_than_the_budget_still_goes_into_an_empty_queue() {
        let conn = connection(1_000);
        conn.send_bytes(vec![b'a'; 5_000]).unwrap();
        assert_eq!(conn.send_bytes(vec![b'a'; 1]), Err(SendError::QueueFull));
    }

    #[test]
    fn what_is_queued_leaves_in_one_batch_in_order() {
        let conn = connection(10_000);
        conn.send_bytes(b"one ".to_vec()).unwrap();
        conn.send_with(4, |out| out.extend_from_slice(b"two "))
            .unwrap();
        conn.send_bytes(b"three".to_vec()).unwrap();
        assert_eq!(conn.take_queued(), b"one two three");
        assert!(conn.take_queued().is_empty(), "taken once");
    }

    #[test]
    fn a_closed_connection_queues_nothing() {
        let conn = connection(10_000);
        conn.close();
        assert_eq!(
            conn.send_with(3, |_| unreachable!("not written")),
            Err(SendError::Closed)
        );
    }
}
