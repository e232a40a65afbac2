//! Test support: a real server on 127.0.0.1 with a throw-away data directory, and a raw SIP
//! client that writes bytes and reads framed messages over TCP or TLS.

pub mod admin;
pub mod browser;
pub mod chat;
pub mod files;
pub mod https;
pub mod logs;
pub mod manage;
pub mod ntlm;
pub mod pool;
pub mod postgres;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use parlance_clock::Clock;
use parlance_server::config::Config;
use parlance_server::{Options, Server};
use rand::RngCore;
use sip_proto::auth::{Algorithm, AuthHeader, DigestInput, ha1, response};
use sip_proto::{Decoder, Item, Limits, Message, Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub const DOMAIN: &str = "example.test";
/// How long a test waits for something the server should do at once.
pub const WAIT: Duration = Duration::from_secs(5);

/// A server for one test; its data directory is removed when it is dropped.
#[allow(missing_debug_implementations)]
pub struct TestServer {
    pub server: Option<Server>,
    pub clock: Clock,
    pub config: Config,
    dir: PathBuf,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_with_options(tweak, Options::default()).await
    }

    pub async fn start_with_options(
        tweak: impl FnOnce(&mut Config),
        options: Options,
    ) -> TestServer {
        Self::start_in(temp_dir(), tweak, options).await
    }

    /// Another server of the same installation (a node of a pool): its own data directory
    /// with `first`'s server key, and whatever `tweak` sets (the shared store and bus).
    pub async fn start_beside(first: &TestServer, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = temp_dir();
        std::fs::copy(first.config.server_key_path(), dir.join("server.key")).unwrap();
        Self::start_in(dir, tweak, Options::default()).await
    }

    async fn start_in(
        dir: PathBuf,
        tweak: impl FnOnce(&mut Config),
        options: Options,
    ) -> TestServer {
        let mut config = Config {
            domain: DOMAIN.into(),
            data_dir: dir.clone(),
            ..Config::default()
        };
        config.sip.tcp_listen = Some("127.0.0.1:0".parse().unwrap());
        config.sip.tls_listen = Some("127.0.0.1:0".parse().unwrap());
        config.web.listen = Some("127.0.0.1:0".parse().unwrap());
        config.admin.listen = Some("127.0.0.1:0".parse().unwrap());
        tweak(&mut config);
        let clock = options.clock.clone();
        let server = Server::start(config.clone(), options)
            .await
            .expect("server starts");
        TestServer {
            server: Some(server),
            clock,
            config,
            dir,
        }
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("server running")
    }

    /// A category and a room in it, with roles; returns the room's `ma-chan:` URI.
    pub async fn add_room(
        &self,
        name: &str,
        privacy: parlance_store::rooms::Privacy,
        behavior: parlance_store::rooms::Behavior,
        roles: &[(&str, parlance_store::rooms::Role)],
    ) -> String {
        use parlance_store::rooms::{NewCategory, NewRoom};
        let store = &self.server().store;
        let category = match store.find_category("Tests").await.unwrap() {
            Some(c) => c,
            None => {
                let root = store.root_category().await.unwrap();
                let new = NewCategory {
                    parent_id: root.id,
                    name: "Tests",
                    description: "",
                    file_post: true,
                    invitations: true,
                    logged: true,
                };
                store.add_category(&new).await.unwrap()
            }
        };
        let new = NewRoom {
            category_id: category.id,
            name,
            description: &format!("about {name}"),
            topic: "",
            privacy,
            behavior,
            invitations: true,
        };
        let room = store.add_room(&new).await.unwrap();
        for (user, role) in roles {
            let id = store
                .user(&format!("{user}@{DOMAIN}"))
                .await
                .unwrap()
                .expect("user exists")
                .id;
            store.set_role(room.id, id, *role, true).await.unwrap();
        }
        format!("ma-chan://{DOMAIN}/{}", room.guid)
    }

    pub async fn add_user(&self, user: &str, password: &str) {
        let key =
            parlance_store::ServerKey::load_or_create(&self.config.server_key_path()).unwrap();
        self.server()
            .store
            .add_user(
                &format!("{user}@{DOMAIN}"),
                "",
                password,
                self.config.realm(),
                &key,
            )
            .await
            .expect("user added");
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.server().tcp_addr.expect("TCP listener")
    }

    pub async fn tcp(&self) -> SipConn {
        SipConn::tcp(self.tcp_addr()).await
    }

    /// Plain TCP from another loopback address (127.0.0.2, …): another client machine.
    pub async fn tcp_from(&self, from: std::net::IpAddr) -> SipConn {
        SipConn::tcp_from(self.tcp_addr(), from).await
    }

    pub async fn tls(&self) -> SipConn {
        SipConn::tls(
            self.server().tls_addr.expect("TLS listener"),
            &self.cert_path(),
        )
        .await
    }

    /// The self-signed certificate the server presents over SIP and HTTPS.
    pub fn cert_path(&self) -> PathBuf {
        self.config.data_dir.join("tls-cert.pem")
    }

    pub fn https_addr(&self) -> SocketAddr {
        self.server().https_addr.expect("HTTPS listener")
    }

    /// An HTTP/1.1 client connection to the HTTPS listener.
    pub async fn https(&self) -> https::Https {
        https::Https::connect(self.https_addr(), &self.cert_path())
            .await
            .expect("HTTPS connection")
    }

    /// A TLS connection to the HTTPS listener for writing raw HTTP.
    pub async fn https_raw(&self) -> https::RawHttps {
        https::RawHttps::connect(self.https_addr(), &self.cert_path())
            .await
            .expect("HTTPS connection")
    }

    /// Stops the server and starts a new one on the same data (new ports).
    pub async fn restart(&mut self) {
        self.shutdown().await;
        let server = Server::start(
            self.config.clone(),
            Options {
                clock: self.clock.clone(),
                ..Options::default()
            },
        )
        .await
        .expect("server restarts");
        self.server = Some(server);
    }

    pub async fn shutdown(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn temp_dir() -> PathBuf {
    let mut r = [0u8; 8];
    rand::rng().fill_bytes(&mut r);
    let name: String = r.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("parlance-test-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A TLS connection to `addr` that trusts only the certificate in `cert_pem` (the test
/// server's self-signed one) and offers the application protocols `alpn`.
pub async fn tls_connect(
    addr: SocketAddr,
    cert_pem: &std::path::Path,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(cert_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A raw SIP client connection.
#[allow(missing_debug_implementations)]
pub struct SipConn {
    stream: Box<dyn Stream>,
    buf: BytesMut,
    decoder: Decoder,
    pub local: SocketAddr,
    pub transport: &'static str,
    cseq: u32,
}

impl SipConn {
    pub async fn tcp(addr: SocketAddr) -> SipConn {
        let s = TcpStream::connect(addr).await.expect("connect");
        let local = s.local_addr().unwrap();
        SipConn::new(Box::new(s), local, "TCP")
    }

    /// Plain TCP from the loopback address `from` (127.0.0.2, …): another client machine.
    pub async fn tcp_from(addr: SocketAddr, from: std::net::IpAddr) -> SipConn {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(from, 0)).expect("bind");
        let s = socket.connect(addr).await.expect("connect");
        let local = s.local_addr().unwrap();
        SipConn::new(Box::new(s), local, "TCP")
    }

    /// TLS that really verifies: the server's self-signed certificate is the only root.
    pub async fn tls(addr: SocketAddr, cert_pem: &std::path::Path) -> SipConn {
        let tls = tls_connect(addr, cert_pem, &[])
            .await
            .expect("TLS handshake");
        let local = tls.get_ref().0.local_addr().unwrap();
        SipConn::new(Box::new(tls), local, "TLS")
    }

    fn new(stream: Box<dyn Stream>, local: SocketAddr, transport: &'static str) -> SipConn {
        SipConn {
            stream,
            buf: BytesMut::new(),
            decoder: Decoder::new(Limits::default()),
            local,
            transport,
            cseq: 0,
        }
    }

    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// The next message, or `None` when the server closed the connection.
    pub async fn try_recv(&mut self) -> Option<Message> {
        loop {
            match self
                .decoder
                .decode(&mut self.buf)
                .expect("server output frames")
            {
                Some(Item::Message(m)) => return Some(m),
                Some(Item::Rejected(r)) => panic!("server sent an unparsable message: {r:?}"),
                None => {}
            }
            let n = tokio::time::timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("server answered in time")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
        }
    }

    pub async fn recv(&mut self) -> Message {
        self.try_recv()
            .await
            .expect("a message, not a closed connection")
    }

    pub async fn recv_response(&mut self) -> Response {
        match self.recv().await {
            Message::Response(r) => r,
            Message::Request(r) => panic!("expected a response, got {} {}", r.method, r.uri),
        }
    }

    pub async fn recv_request(&mut self) -> Request {
        match self.recv().await {
            Message::Request(r) => r,
            Message::Response(r) => panic!("expected a request, got {} {}", r.status, r.reason),
        }
    }

    /// Asserts that nothing arrives for a little while.
    pub async fn expect_silence(&mut self, for_: Duration) {
        if let Ok(n) = tokio::time::timeout(for_, self.stream.read_buf(&mut self.buf)).await {
            assert_eq!(
                n.unwrap_or(0),
                0,
                "unexpected data: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Reads until the server closes the connection (answers before the close are returned).
    pub async fn until_closed(&mut self) -> Vec<Message> {
        let mut seen = Vec::new();
        while let Some(m) = self.try_recv().await {
            seen.push(m);
        }
        seen
    }

    pub fn next_cseq(&mut self) -> u32 {
        self.cseq += 1;
        self.cseq
    }

    /// A request from `user` on this connection, as a SIP client would write it. The
    /// arguments are the fields a test varies, in the order they appear on the wire.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &mut self,
        method: &str,
        uri: &str,
        user: &str,
        to: &str,
        call_id: &str,
        extra: &[&str],
        body: &str,
    ) -> String {
        let cseq = self.next_cseq();
        let branch = format!("z9hG4bK{call_id}{cseq}");
        let mut s = format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/{} {};branch={branch}\r\nMax-Forwards: 70\r\n\
             From: <sip:{user}@{DOMAIN}>;tag=t{user}\r\nTo: <{to}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
             Contact: <sip:{user}@{};transport={}>\r\n",
            self.transport,
            self.local,
            self.local,
            self.transport.to_ascii_lowercase()
        );
        for h in extra {
            s.push_str(h);
            s.push_str("\r\n");
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s
    }

    /// The provisioning SUBSCRIBE exactly as pidgin-sipe writes it (xccos.md §1.4,
    /// shared/protocol/sipe-transcript.txt #3), asking for the groups of `body`.
    pub fn provisioning_subscribe(&mut self, user: &str, call_id: &str, body: &str) -> String {
        let me = format!("sip:{user}@{DOMAIN}");
        self.request(
            "SUBSCRIBE",
            &me,
            user,
            &me,
            call_id,
            &[
                "Event: vnd-microsoft-provisioning-v2",
                "Accept: application/vnd-microsoft-roaming-provisioning-v2+xml",
                "Supported: com.microsoft.autoextend",
                "Supported: ms-benotify",
                "Proxy-Require: ms-benotify",
                "Supported: ms-piggyback-first-notify",
                "Expires: 0",
                "Content-Type: application/vnd-microsoft-roaming-provisioning-v2+xml",
            ],
            body,
        )
    }

    /// A REGISTER for `user` with optional extra headers.
    pub fn register_request(&mut self, user: &str, extra: &[&str]) -> String {
        let to = format!("sip:{user}@{DOMAIN}");
        self.request(
            "REGISTER",
            &format!("sip:{DOMAIN}"),
            user,
            &to,
            &format!("reg-{user}-{}", self.local.port()),
            extra,
            "",
        )
    }

    /// Registers with Digest: a first REGISTER draws the challenge, the second answers it.
    pub async fn register(&mut self, user: &str, password: &str) -> Response {
        let req = self.register_request(user, &["Expires: 3600"]);
        self.send(req).await;
        let challenge = self.recv_response().await;
        assert_eq!(challenge.status, 401, "expected a challenge");
        let auth = digest_authorization(
            &challenge,
            Algorithm::Md5,
            user,
            password,
            "REGISTER",
            &format!("sip:{DOMAIN}"),
            1,
        );
        let req =
            self.register_request(user, &["Expires: 3600", &format!("Authorization: {auth}")]);
        self.send(req).await;
        self.recv_response().await
    }
}

/// The `Authorization` value answering `challenge`'s offer of `algorithm`.
pub fn digest_authorization(
    challenge: &Response,
    algorithm: Algorithm,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
    nc: u32,
) -> String {
    let offer = challenge
        .headers
        .get_all("WWW-Authenticate")
        .map(|v| AuthHeader::parse(v).unwrap())
        .find(|h| h.param("algorithm").and_then(Algorithm::parse) == Some(algorithm))
        .expect("the challenge offers the algorithm");
    let realm = offer.param("realm").unwrap();
    let nonce = offer.param("nonce").unwrap();
    let nc = format!("{nc:08x}");
    let cnonce = "0a4f113b";
    let ha1 = ha1(algorithm, user, realm, password);
    let resp = response(DigestInput {
        algorithm,
        ha1: &ha1,
        nonce,
        nc: &nc,
        cnonce,
        qop: Some("auth"),
        method,
        uri,
    });
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", \
         algorithm={algorithm}, qop=auth, nc={nc}, cnonce=\"{cnonce}\""
    )
}
