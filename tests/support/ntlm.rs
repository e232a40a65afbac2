//! An NTLM (MS-SIPAE) client for tests: the three-REGISTER handshake and signed requests
//! afterwards, with the NTLM account and the SIP address chosen apart, as an attacker would.

use sip_proto::{Message, Request, Response};
use sipae::client::{self, ClientAuthenticate, ClientConfig, ClientRandom};
use sipae::{
    AuthFields, AuthenticationInfo, Credentials, DEFAULT_REALM, GssapiData, MessageFields,
    NegotiateFlags, NtHash, Uppercase, Version,
};

use crate::{DOMAIN, SipConn, TestServer};

/// The NTLM `targetname` of the test server: its domain.
pub const TARGET: &str = DOMAIN;

/// A connection that has completed the handshake.
pub struct Signed {
    pub conn: SipConn,
    pub auth: ClientAuthenticate,
    pub opaque: String,
    pub cnum: u32,
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("opaque", &self.opaque)
            .finish_non_exhaustive()
    }
}

/// What the client says of itself in the AUTHENTICATE: `user` in the Windows domain
/// EXAMPLE (the server maps it to `user@<its domain>`), proving `password`.
pub fn config<'a>(user: &'a str, password: &str) -> ClientConfig<'a> {
    ClientConfig {
        user,
        domain: "EXAMPLE",
        workstation: "WS1",
        nt_hash: NtHash::from_password(password),
        uppercase: Uppercase::Unicode,
        flags: NegotiateFlags::CLIENT_AUTHENTICATE,
        version: Version {
            major: 10,
            minor: 0,
            build: 19041,
            revision: 15,
        },
        with_mic: false,
    }
}

pub fn random() -> ClientRandom {
    ClientRandom {
        client_challenge: [7; 8],
        random_session_key: [9; 16],
        time: 0,
    }
}

/// A message as written, parsed back: what the server will see of it.
pub fn parse(text: &str) -> Message {
    let bytes = text.as_bytes();
    let head_end = text.find("\r\n\r\n").unwrap();
    let limits = sip_proto::HeadLimits {
        max_request_line: 4096,
        max_headers: 100,
    };
    let body = bytes::Bytes::copy_from_slice(&bytes[head_end + 4..]);
    sip_proto::parse(&bytes[..head_end], body, limits).expect("a valid message")
}

fn parse_request(text: &str) -> Request {
    match parse(text) {
        Message::Request(r) => r,
        Message::Response(r) => panic!("not a request: {}", r.status),
    }
}

/// Adds `Authorization: NTLM …` signed over the request as it will be sent.
pub fn sign(
    auth: &ClientAuthenticate,
    opaque: &str,
    cnum: u32,
    text: &str,
    gssapi: GssapiData,
) -> String {
    let req = parse_request(text);
    let cnum = cnum.to_string();
    let fields = AuthFields {
        scheme: "NTLM",
        rand: "1a2b3c4d",
        num: &cnum,
        realm: DEFAULT_REALM,
        targetname: TARGET,
    };
    let response = auth.sign(4, &fields, &MessageFields::of_request(&req));
    let creds = Credentials {
        scheme: "NTLM".into(),
        realm: Some(DEFAULT_REALM.into()),
        targetname: Some(TARGET.into()),
        opaque: Some(opaque.to_owned()),
        version: matches!(gssapi, GssapiData::Token(_)).then_some(4),
        gssapi_data: gssapi,
        qop: Some("auth".into()),
        crand: Some("1a2b3c4d".into()),
        cnum: Some(cnum),
        response: Some(response.to_hex().to_lowercase()),
    };
    text.replacen(
        "Content-Length:",
        &format!(
            "Authorization: {}\r\nContent-Length:",
            creds.to_header_value()
        ),
        1,
    )
}

/// Checks the server's `Authentication-Info` on a message it sent.
pub fn server_signature_ok(auth: &ClientAuthenticate, message: &Message) -> bool {
    let headers = message.headers();
    let Some(info) = headers
        .get("Authentication-Info")
        .and_then(|v| AuthenticationInfo::parse(v).ok())
    else {
        return false;
    };
    let fields = AuthFields {
        scheme: "NTLM",
        rand: &info.srand,
        num: &info.snum,
        realm: &info.realm,
        targetname: &info.targetname,
    };
    let msg = match message {
        Message::Request(r) => MessageFields::of_request(r),
        Message::Response(r) => MessageFields::of_response(r),
    };
    auth.verify_server(4, &fields, &msg, &info.rspauth)
}

/// REGISTER → 401 offer; REGISTER picking NTLM → 401 CHALLENGE; REGISTER with the
/// AUTHENTICATE, signed. The NTLM account is `ntlm_user` with `password`; the REGISTERs
/// are From and To `sip_user`. Returns the client and the answer to the last REGISTER.
pub async fn handshake(
    s: &TestServer,
    ntlm_user: &str,
    sip_user: &str,
    password: &str,
) -> (Signed, Response) {
    let conn = s.tls().await;
    handshake_on(conn, ntlm_user, sip_user, password).await
}

/// [`handshake`] on a connection of the caller's.
pub async fn handshake_on(
    mut conn: SipConn,
    ntlm_user: &str,
    sip_user: &str,
    password: &str,
) -> (Signed, Response) {
    let req = conn.register_request(sip_user, &["Expires: 3600"]);
    conn.send(req).await;
    let offer = conn.recv_response().await;
    assert_eq!(offer.status, 401);
    assert!(
        offer
            .headers
            .get_all("WWW-Authenticate")
            .any(|v| v.starts_with("NTLM ")),
        "NTLM is offered"
    );
    let pick = format!(
        r#"NTLM qop="auth", realm="{DEFAULT_REALM}", targetname="{TARGET}", gssapi-data="", version=4"#
    );
    let req = conn.register_request(
        sip_user,
        &["Expires: 3600", &format!("Authorization: {pick}")],
    );
    conn.send(req).await;
    let challenge = conn.recv_response().await;
    assert_eq!(challenge.status, 401);
    assert!(
        challenge.headers.get("Date").is_some(),
        "MS-SIPAE 401s carry Date"
    );
    let header = challenge
        .headers
        .get_all("WWW-Authenticate")
        .find(|v| v.starts_with("NTLM "))
        .unwrap();
    let creds = Credentials::parse(header).unwrap();
    let GssapiData::Token(token) = creds.gssapi_data else {
        panic!("no CHALLENGE in {header}")
    };
    let opaque = creds.opaque.unwrap();
    let auth = client::authenticate(&token, &config(ntlm_user, password), &random()).unwrap();
    let req = conn.register_request(sip_user, &["Expires: 3600"]);
    let req = sign(
        &auth,
        &opaque,
        1,
        &req,
        GssapiData::Token(auth.message.clone()),
    );
    conn.send(req).await;
    let answer = conn.recv_response().await;
    (
        Signed {
            conn,
            auth,
            opaque,
            cnum: 2,
        },
        answer,
    )
}

impl Signed {
    /// Signs a request with the next `cnum`.
    pub fn sign(&mut self, text: &str) -> String {
        self.cnum += 1;
        sign(
            &self.auth,
            &self.opaque,
            self.cnum - 1,
            text,
            GssapiData::Absent,
        )
    }
}
