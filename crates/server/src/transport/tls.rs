//! SIP over TLS on rustls's unbuffered API, so that an idle connection holds no buffer.
//!
//! rustls's buffered `ServerConnection` (what `tokio-rustls` drives) keeps a 4 KiB receive
//! buffer for the connection's whole life, empty or not: more than half of what an idle TLS
//! connection would otherwise cost. With the unbuffered API the bytes belong to the caller,
//! and this stream keeps them only while they are needed:
//!
//! * a read lands in a buffer on the stack and is decrypted there; only the start of a
//!   record that has not fully arrived is copied to the heap (`incoming`) until its end
//!   comes;
//! * what a read decrypts goes straight into the reader's buffer; only what does not fit
//!   waits on the heap (`plaintext`);
//! * what is encrypted for the peer is sealed in a buffer of the thread's (`SCRATCH`), which
//!   every connection the thread writes for shares, and written to the socket from there;
//!   only what the socket does not take at once waits on the heap (`outgoing`) until it
//!   does.
//!
//! Each of the three is freed as soon as it is empty, and each is bounded.

use std::cell::Cell;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use rustls::ServerConfig;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes taken from the socket in one read: a full TLS record (16 KiB of plaintext and its
/// overhead) and then some, so that a busy connection reads several records per call.
const READ_CHUNK: usize = 20 * 1024;

/// The most that may wait for the rest of a record: rustls joins a handshake message of up
/// to 64 KiB from several records, which it decrypts and leaves in place until complete,
/// and one more record may be partly there. Beyond that the peer is not speaking TLS.
const MAX_INCOMING: usize = 0xffff + 18 * 1024 + 5;

/// The most that reading may queue for the peer (handshake flights, alerts, key updates)
/// before it is written: far more than any honest peer causes.
const MAX_QUEUED_BY_READS: usize = 64 * 1024;

/// Plaintext encrypted per write: four full records.
const MAX_WRITE: usize = 64 * 1024;

thread_local! {
    /// Where this thread seals records for the peer, whichever connection they are for. Kept
    /// from one write to the next, so that a write neither allocates nor zero-fills (safe
    /// Rust hands rustls only initialised bytes): only growth is zeroed, once. It grows to
    /// the largest flight sealed, a write's four records, and no further; a connection's
    /// idle cost stays nothing.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A server's TLS session over `io`, after the handshake.
pub(super) struct TlsStream<S> {
    io: S,
    conn: UnbufferedServerConnection,
    /// The start of a record that has not fully arrived (and, during the handshake, the
    /// records of a handshake message that has not); empty otherwise.
    incoming: Vec<u8>,
    /// Decrypted bytes the reader had no room for; the first `taken` have been read since.
    plaintext: Vec<u8>,
    taken: usize,
    /// Records for the peer that the socket did not take at once; the first `sent` have been
    /// written since.
    outgoing: Vec<u8>,
    sent: usize,
    /// The peer's close_notify has arrived, or its end of the stream: reads return 0.
    read_closed: bool,
    /// Our close_notify is queued.
    close_queued: bool,
    /// The session failed (its alert is queued): nothing more is encrypted.
    failed: bool,
}

/// Performs the server's side of the TLS handshake over `io`.
pub(super) async fn accept<S>(io: S, config: Arc<ServerConfig>) -> io::Result<TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let conn = UnbufferedServerConnection::new(config).map_err(tls_error)?;
    let mut stream = TlsStream {
        io,
        conn,
        incoming: Vec::new(),
        plaintext: Vec::new(),
        taken: 0,
        outgoing: Vec::new(),
        sent: 0,
        read_closed: false,
        close_queued: false,
        failed: false,
    };
    if let Err(e) = std::future::poll_fn(|cx| stream.poll_handshake(cx)).await {
        // Tell the peer why (the alert rustls queued), as far as it is still reading: the
        // caller's time limit on the handshake bounds this too.
        let _ = std::future::poll_fn(|cx| stream.poll_send(cx)).await;
        return Err(e);
    }
    Ok(stream)
}

/// What the caller of [`TlsStream::process`] wants once rustls is ready for it.
enum Want<'a, 'b> {
    /// Records from the peer, their plaintext into this buffer as far as it has room.
    Read(Option<&'a mut ReadBuf<'b>>),
    /// These bytes encrypted for the peer, and written to the socket as far as it takes
    /// them now (the rest waits in `outgoing`).
    Write(&'a [u8], &'a mut Context<'b>),
    /// A close_notify for the peer.
    Close,
}

impl<S> TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.poll_send(cx))?;
            if !self.conn.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            if self.read_closed {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the connection during the TLS handshake",
                )));
            }
            ready!(self.poll_receive(cx, None))?;
        }
    }

    /// Reads once from the socket and runs rustls over what arrived, the plaintext going to
    /// `out` as far as it has room and to `plaintext` beyond.
    fn poll_receive(
        &mut self,
        cx: &mut Context<'_>,
        out: Option<&mut ReadBuf<'_>>,
    ) -> Poll<io::Result<()>> {
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut chunk = ReadBuf::uninit(&mut chunk);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut chunk))?;
        if chunk.filled().is_empty() {
            self.read_closed = true;
            if !self.incoming.is_empty() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the connection within a TLS record",
                )));
            }
            return Poll::Ready(Ok(()));
        }
        let received = chunk.filled_mut();
        if self.incoming.is_empty() {
            // The common case: whole records, decrypted where they landed.
            let used = self.process(received, Want::Read(out))?;
            self.incoming.extend_from_slice(&received[used..]);
        } else {
            if self.incoming.len() + received.len() > MAX_INCOMING {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "TLS record or handshake message too large",
                )));
            }
            self.incoming.extend_from_slice(received);
            self.process_incoming(Want::Read(out))?;
        }
        if self.outgoing.len() > MAX_QUEUED_BY_READS {
            return Poll::Ready(Err(io::Error::other(
                "peer does not read what its TLS records make the server send",
            )));
        }
        Poll::Ready(Ok(()))
    }

    /// Runs rustls over `incoming` and drops what it is done with.
    fn process_incoming(&mut self, want: Want<'_, '_>) -> io::Result<()> {
        let mut incoming = std::mem::take(&mut self.incoming);
        let used = self.process(&mut incoming, want)?;
        incoming.drain(..used);
        if !incoming.is_empty() {
            self.incoming = incoming;
        }
        Ok(())
    }

    /// Drives rustls over the records in `received` until it needs more from the peer, or
    /// has done what `want` asks. Returns how many bytes at the start of `received` rustls
    /// is done with; the rest must be handed to it again, after the next bytes to arrive.
    fn process(&mut self, received: &mut [u8], mut want: Want<'_, '_>) -> io::Result<usize> {
        let mut used = 0;
        loop {
            let UnbufferedStatus { mut discard, state } =
                self.conn.process_tls_records(&mut received[used..]);
            let state = match state {
                Ok(state) => state,
                Err(e) => {
                    used += discard;
                    self.failed = true;
                    self.queue_alert(&mut received[used..]);
                    return Err(tls_error(e));
                }
            };
            match state {
                ConnectionState::ReadTraffic(mut records) => {
                    while let Some(record) = records.next_record() {
                        let record = record.map_err(tls_error)?;
                        discard += record.discard;
                        let out = match &mut want {
                            Want::Read(out) => out.as_deref_mut(),
                            // Not met in practice: a read takes every whole record before
                            // it waits, so a write finds none left to decrypt. Were one
                            // there, its plaintext would wait for the next read.
                            Want::Write(..) | Want::Close => None,
                        };
                        keep_plaintext(record.payload, out, &mut self.plaintext);
                    }
                }
                ConnectionState::EncodeTlsData(mut record) => {
                    append_records(&mut self.outgoing, |out| record.encode(out))?;
                }
                // What was encoded waits in `outgoing`, ahead of anything encrypted later.
                ConnectionState::TransmitTlsData(records) => records.done(),
                ConnectionState::WriteTraffic(mut traffic) => {
                    match want {
                        Want::Write(data, cx) => {
                            let (io, outgoing) = (&mut self.io, &mut self.outgoing);
                            seal(
                                |out| traffic.encrypt(data, out),
                                |records| write_or_keep(io, cx, records, outgoing),
                            )??
                        }
                        Want::Close => append_records(&mut self.outgoing, |out| {
                            traffic.queue_close_notify(out)
                        })?,
                        // rustls has taken every whole record and waits for more.
                        Want::Read(_) => {}
                    }
                    return Ok(used + discard);
                }
                ConnectionState::BlockedHandshake => return Ok(used + discard),
                // Edge-triggered: once, when the peer's close_notify is taken. Writing may go
                // on, until our own close_notify.
                ConnectionState::PeerClosed => {
                    self.read_closed = true;
                    if matches!(want, Want::Read(_)) {
                        return Ok(used + discard);
                    }
                }
                ConnectionState::Closed => {
                    self.read_closed = true;
                    return match want {
                        Want::Read(_) => Ok(used + discard),
                        Want::Write(..) | Want::Close => Err(io::Error::new(
                            io::ErrorKind::BrokenPipe,
                            "TLS session already closed",
                        )),
                    };
                }
                // No early data is accepted (the configuration's `max_early_data_size` is 0).
                _ => return Err(io::Error::other("unexpected TLS connection state")),
            }
            used += discard;
        }
    }

    /// After a failure, puts the alert rustls queued for the peer (if any) in `outgoing`,
    /// where the handshake or the writer's shutdown sends it.
    fn queue_alert(&mut self, received: &mut [u8]) {
        let status = self.conn.process_tls_records(received);
        if let Ok(ConnectionState::EncodeTlsData(mut record)) = status.state {
            let _ = append_records(&mut self.outgoing, |out| record.encode(out));
        }
    }

    /// Writes out what waits in `outgoing`, then lets the buffer go.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.outgoing.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.outgoing[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        if !self.outgoing.is_empty() {
            self.outgoing = Vec::new();
            self.sent = 0;
        }
        Poll::Ready(Ok(()))
    }
}

/// An error of rustls's encoding calls that may say the buffer was too small.
trait RoomNeeded: std::error::Error + Send + Sync + 'static {
    fn room_needed(&self) -> Option<usize>;
}

impl RoomNeeded for EncodeError {
    fn room_needed(&self) -> Option<usize> {
        match self {
            EncodeError::InsufficientSize(size) => Some(size.required_size),
            EncodeError::AlreadyEncoded => None,
        }
    }
}

impl RoomNeeded for EncryptError {
    fn room_needed(&self) -> Option<usize> {
        match self {
            EncryptError::InsufficientSize(size) => Some(size.required_size),
            EncryptError::EncryptExhausted => None,
        }
    }
}

/// Has `encode` write its records into this thread's [`SCRATCH`] buffer and hands them to
/// `take`. A buffer too small is left as it was, rustls saying how much it needs: the
/// buffer grows to that and `encode` runs again.
fn seal<E: RoomNeeded, T>(
    mut encode: impl FnMut(&mut [u8]) -> Result<usize, E>,
    take: impl FnOnce(&[u8]) -> T,
) -> io::Result<T> {
    // Taken out of its cell, not borrowed: nothing `take` does can find it in use. Were
    // `seal` ever entered again meanwhile, that call would only find the cell empty.
    let mut scratch = SCRATCH.take();
    let sealed = match encode(&mut scratch) {
        Ok(written) => Ok(written),
        Err(e) => match e.room_needed() {
            Some(needed) => {
                scratch.resize(needed, 0);
                encode(&mut scratch).map_err(io::Error::other)
            }
            None => Err(io::Error::other(e)),
        },
    };
    let taken = sealed.map(|written| take(&scratch[..written]));
    SCRATCH.set(scratch);
    taken
}

/// Appends to `out` the records `encode` writes.
fn append_records<E: RoomNeeded>(
    out: &mut Vec<u8>,
    encode: impl FnMut(&mut [u8]) -> Result<usize, E>,
) -> io::Result<()> {
    seal(encode, |records| out.extend_from_slice(records))
}

/// Writes `records` to `io` as far as it takes them now, when nothing waits before them in
/// `outgoing`, and keeps the rest there: the socket's own buffer is the usual place records
/// wait, and only a full one costs this stream a buffer.
fn write_or_keep<S: AsyncWrite + Unpin>(
    io: &mut S,
    cx: &mut Context<'_>,
    records: &[u8],
    outgoing: &mut Vec<u8>,
) -> io::Result<()> {
    let mut written = 0;
    if outgoing.is_empty() {
        while written < records.len() {
            match Pin::new(&mut *io).poll_write(cx, &records[written..]) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => written += n,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
    }
    outgoing.extend_from_slice(&records[written..]);
    Ok(())
}

/// Hands `payload` to the reader's buffer `out` as far as it has room, and keeps the rest
/// (all of it, when earlier plaintext is still waiting) in `kept`.
fn keep_plaintext(payload: &[u8], out: Option<&mut ReadBuf<'_>>, kept: &mut Vec<u8>) {
    let given = match out {
        Some(out) if kept.is_empty() => {
            let n = payload.len().min(out.remaining());
            out.put_slice(&payload[..n]);
            n
        }
        _ => 0,
    };
    kept.extend_from_slice(&payload[given..]);
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<S> AsyncRead for TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.taken < this.plaintext.len() {
                let n = buf.remaining().min(this.plaintext.len() - this.taken);
                buf.put_slice(&this.plaintext[this.taken..this.taken + n]);
                this.taken += n;
                if this.taken == this.plaintext.len() {
                    this.plaintext = Vec::new();
                    this.taken = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.read_closed || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let before = buf.filled().len();
            ready!(this.poll_receive(cx, Some(buf)))?;
            if buf.filled().len() > before {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<S> AsyncWrite for TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // What an earlier write (or a read) queued goes first, and bounds what waits.
        ready!(this.poll_send(cx))?;
        let n = buf.len().min(MAX_WRITE);
        if this.failed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the TLS session has failed",
            )));
        }
        this.process_incoming(Want::Write(&buf[..n], cx))?;
        // The records are taken; behind records rustls queued first (a key update) they
        // wait in `outgoing`, and go now as far as the socket takes them. A socket that is
        // full leaves them to the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A session that has failed sends its alert instead, already queued.
        if !this.close_queued && !this.failed {
            this.close_queued = true;
            let _ = this.process_incoming(Want::Close);
        }
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use rustls::CipherSuite::{self, *};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::version::{TLS12, TLS13};
    use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::TlsConnector;
    use tokio_rustls::client::TlsStream as ClientStream;

    use crate::tls::{Certificate, CertificateSlot};

    /// The server's configuration as `parlance` builds it (a self-signed certificate made
    /// in a directory of its own), and the certificate for the client to trust.
    fn server_config() -> (Arc<ServerConfig>, CertificateDer<'static>) {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("parlance-tls-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = Certificate::load(None, None, &dir, &["localhost".to_string()]).unwrap();
        let trusted = CertificateDer::from_pem_file(&cert.info.cert_path).unwrap();
        let config = CertificateSlot::new(&cert).server_config(&[]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        (config, trusted)
    }

    fn client_config(
        trusted: &CertificateDer<'static>,
        version: &'static SupportedProtocolVersion,
        suite: CipherSuite,
    ) -> Arc<ClientConfig> {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites.retain(|s| s.suite() == suite);
        assert_eq!(provider.cipher_suites.len(), 1, "{suite:?}");
        let mut roots = RootCertStore::empty();
        roots.add(trusted.clone()).unwrap();
        let config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }

    /// A socket that moves at most `step` bytes per read and per write, so that every
    /// record reaches the stream in pieces cut wherever `step` falls.
    struct Trickle {
        socket: TcpStream,
        step: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let mut part = vec![0; self.step.min(buf.remaining())];
            let mut part = ReadBuf::new(&mut part);
            ready!(Pin::new(&mut self.socket).poll_read(cx, &mut part))?;
            buf.put_slice(part.filled());
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = self.step.min(buf.len());
            Pin::new(&mut self.socket).poll_write(cx, &buf[..n])
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.socket).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.socket).poll_shutdown(cx)
        }
    }

    /// A handshake over real sockets: the server's stream (over a socket moving `step`
    /// bytes at a time) and the client's.
    async fn connect(
        config: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
        step: usize,
    ) -> (TlsStream<Trickle>, ClientStream<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = async {
            let (socket, _) = listener.accept().await.unwrap();
            accept(Trickle { socket, step }, config).await.unwrap()
        };
        let client = async {
            let socket = TcpStream::connect(addr).await.unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            TlsConnector::from(client)
                .connect(name, socket)
                .await
                .unwrap()
        };
        tokio::join!(server, client)
    }

    /// A session over plain sockets with the given protocol version and cipher suite.
    async fn session(
        version: &'static SupportedProtocolVersion,
        suite: CipherSuite,
    ) -> (TlsStream<Trickle>, ClientStream<TcpStream>) {
        let (config, trusted) = server_config();
        connect(config, client_config(&trusted, version, suite), usize::MAX).await
    }

    /// `len` bytes that differ from one position to the next, so that a lost, doubled or
    /// reordered piece shows.
    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
    }

    async fn read_exactly<R: AsyncRead + Unpin>(reader: &mut R, len: usize) -> Vec<u8> {
        let mut got = vec![0; len];
        reader.read_exact(&mut got).await.unwrap();
        got
    }

    /// Writes `sent` on one side, and returns as many bytes read on the other.
    async fn carry<W, R>(from: &mut W, to: &mut R, sent: &[u8]) -> Vec<u8>
    where
        W: AsyncWrite + Unpin,
        R: AsyncRead + Unpin,
    {
        let write = async {
            from.write_all(sent).await.unwrap();
            from.flush().await.unwrap();
        };
        tokio::join!(write, read_exactly(to, sent.len())).1
    }

    /// Messages both ways, small and larger than a record, then a clean close each way.
    async fn exchange(mut server: TlsStream<Trickle>, mut client: ClientStream<TcpStream>) {
        for (len, seed) in [(1, 1), (700, 2), (40_000, 3), (16_384, 4), (3, 5)] {
            let sent = pattern(len, seed);
            assert_eq!(
                carry(&mut client, &mut server, &sent).await,
                sent,
                "to the server"
            );
            let sent = pattern(len, !seed);
            assert_eq!(
                carry(&mut server, &mut client, &sent).await,
                sent,
                "to the client"
            );
            assert_holds_nothing(&server);
        }
        let mut rest = [0; 16];
        let (_, end) = tokio::join!(
            async { server.shutdown().await.unwrap() },
            client.read(&mut rest)
        );
        // rustls's client reports an end without close_notify as an error.
        assert_eq!(end.unwrap(), 0, "the server's close_notify arrived");
        client.shutdown().await.unwrap();
        assert_eq!(server.read(&mut [0; 16]).await.unwrap(), 0);
    }

    /// The record the client's session makes of `plaintext`, not written to the socket.
    fn record_of(client: &mut ClientStream<TcpStream>, plaintext: &[u8]) -> Vec<u8> {
        let (_, session) = client.get_mut();
        io::Write::write_all(&mut session.writer(), plaintext).unwrap();
        let mut record = Vec::new();
        session.write_tls(&mut record).unwrap();
        record
    }

    /// The point of this stream: between messages, no buffer is held.
    fn assert_holds_nothing<S>(stream: &TlsStream<S>) {
        assert_eq!(stream.incoming.capacity(), 0, "incoming");
        assert_eq!(stream.plaintext.capacity(), 0, "plaintext");
        assert_eq!(stream.outgoing.capacity(), 0, "outgoing");
    }

    /// Where this thread's scratch buffer is and how large: the same place after another
    /// write means that write sealed its records without a buffer of its own.
    fn scratch() -> (*const u8, usize) {
        let buffer = SCRATCH.take();
        let place = (buffer.as_ptr(), buffer.len());
        SCRATCH.set(buffer);
        place
    }

    #[tokio::test]
    async fn writes_seal_their_records_in_the_threads_buffer_and_keep_none_of_their_own() {
        let (mut server, mut client) = session(&TLS13, TLS13_AES_128_GCM_SHA256).await;
        let large = pattern(MAX_WRITE, 1);
        assert_eq!(carry(&mut server, &mut client, &large).await, large);
        let after_first = scratch();
        assert!(after_first.1 > MAX_WRITE, "four records and their overhead");
        for (len, seed) in [(1, 2), (700, 3), (MAX_WRITE, 4), (3 * MAX_WRITE + 5, 5)] {
            let sent = pattern(len, seed);
            assert_eq!(carry(&mut server, &mut client, &sent).await, sent);
            assert_eq!(scratch(), after_first, "the same buffer, not grown");
            assert_holds_nothing(&server);
        }
    }

    #[tokio::test]
    async fn records_a_full_socket_does_not_take_wait_and_follow_in_order() {
        let (mut server, mut client) =
            session(&TLS12, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256).await;
        // The client reads nothing until the socket's buffers are full and a write finds
        // records still waiting from the one before.
        let mut sent = Vec::new();
        for seed in (0..=u8::MAX).cycle() {
            let piece = pattern(MAX_WRITE - usize::from(seed), seed);
            let written = tokio::select! {
                biased;
                n = server.write(&piece) => Some(n.unwrap()),
                () = std::future::ready(()) => None,
            };
            match written {
                Some(n) => sent.extend_from_slice(&piece[..n]),
                None => break,
            }
        }
        assert!(
            !server.outgoing.is_empty(),
            "the rest of the last write waits"
        );
        let flush = async { server.flush().await.unwrap() };
        let got = tokio::join!(flush, read_exactly(&mut client, sent.len())).1;
        assert!(got == sent, "every byte, in order");
        assert_holds_nothing(&server);
    }

    #[tokio::test]
    async fn every_offered_suite_of_tls_1_3_and_1_2_carries_data_both_ways() {
        let (config, trusted) = server_config();
        let suites = [
            (&TLS13, TLS13_AES_128_GCM_SHA256),
            (&TLS13, TLS13_AES_256_GCM_SHA384),
            (&TLS13, TLS13_CHACHA20_POLY1305_SHA256),
            (&TLS12, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
            (&TLS12, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
            (&TLS12, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
        ];
        for (version, suite) in suites {
            let client = client_config(&trusted, version, suite);
            let (server, client) = connect(config.clone(), client, usize::MAX).await;
            assert_eq!(
                server.conn.negotiated_cipher_suite().unwrap().suite(),
                suite
            );
            exchange(server, client).await;
        }
    }

    #[tokio::test]
    async fn records_cut_at_every_byte_boundary_arrive_whole() {
        let (config, trusted) = server_config();
        for (version, suite) in [
            (&TLS13, TLS13_AES_128_GCM_SHA256),
            (&TLS12, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
        ] {
            // One byte at a time cuts every record at every boundary; the others cut
            // records at places that move from one record to the next.
            for step in [1, 2, 3, 7, 100, 1000, 5000] {
                let client = client_config(&trusted, version, suite);
                let (server, client) = connect(config.clone(), client, step).await;
                exchange(server, client).await;
            }
        }
    }

    #[tokio::test]
    async fn a_partial_record_is_kept_until_its_end_arrives_and_then_let_go() {
        let (mut server, mut client) = session(&TLS13, TLS13_AES_256_GCM_SHA384).await;
        // The client's record, taken from its TLS session rather than written to the socket.
        let record = record_of(&mut client, b"OPTIONS");
        let socket = client.get_mut().0;
        socket.write_all(&record[..10]).await.unwrap();
        let mut got = [0; 7];
        let read = tokio::select! {
            biased;
            r = server.read(&mut got) => Some(r),
            () = std::future::ready(()) => None,
        };
        assert!(read.is_none(), "nothing to read yet");
        socket.write_all(&record[10..]).await.unwrap();
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"OPTIONS");
        assert_holds_nothing(&server);
    }

    #[tokio::test]
    async fn the_peer_asking_for_new_keys_gets_them_and_traffic_goes_on() {
        let (mut server, mut client) = session(&TLS13, TLS13_CHACHA20_POLY1305_SHA256).await;
        for round in 0..3u8 {
            client.get_mut().1.refresh_traffic_keys().unwrap();
            client.write_all(&[round; 100]).await.unwrap();
            client.flush().await.unwrap();
            assert_eq!(read_exactly(&mut server, 100).await, [round; 100]);
            server.write_all(&[!round; 100]).await.unwrap();
            server.flush().await.unwrap();
            assert_eq!(read_exactly(&mut client, 100).await, [!round; 100]);
        }
    }

    #[tokio::test]
    async fn a_peer_not_speaking_tls_gets_an_alert_and_the_handshake_fails() {
        let (config, _) = server_config();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut peer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (socket, _) = listener.accept().await.unwrap();
        peer.write_all(b"REGISTER sip:example.com SIP/2.0\r\n\r\n")
            .await
            .unwrap();
        let error = accept(socket, config).await.err().expect("refused");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
        let mut answer = Vec::new();
        peer.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer.first(), Some(&21), "an alert record: {answer:?}");
    }

    #[tokio::test]
    async fn a_record_cut_short_by_the_end_of_the_stream_is_an_error() {
        let (mut server, mut client) =
            session(&TLS12, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256).await;
        let record = record_of(&mut client, b"INFO");
        let socket = client.get_mut().0;
        socket.write_all(&record[..record.len() - 1]).await.unwrap();
        socket.shutdown().await.unwrap();
        let error = server.read(&mut [0; 16]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn a_forged_record_is_refused_with_an_alert() {
        let (mut server, mut client) = session(&TLS13, TLS13_AES_128_GCM_SHA256).await;
        let mut record = record_of(&mut client, b"MESSAGE");
        *record.last_mut().unwrap() ^= 1;
        let socket = client.get_mut().0;
        socket.write_all(&record).await.unwrap();
        let error = server.read(&mut [0; 16]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
        let error = server.write_all(b"200 OK").await.unwrap_err();
        assert_eq!(
            error.kind(),
            io::ErrorKind::BrokenPipe,
            "nothing after the alert"
        );
        // The writer's shutdown sends the alert rustls queued.
        server.shutdown().await.unwrap();
        let mut answer = Vec::new();
        client.get_mut().0.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer.first(), Some(&23), "an encrypted record: {answer:?}");
        assert!(
            client.get_mut().1.read_tls(&mut &answer[..]).is_ok()
                && client.get_mut().1.process_new_packets().is_err(),
            "the client reads an alert"
        );
    }
}
