//! Round trips between this crate's client and the server state machine, and the ways a
//! message can fail: wrong password, tampering, replay, foreign opaque, expiry, truncation.

mod common;

use std::cell::Cell;
use std::time::{Duration, SystemTime};

use common::t0;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sipae::client::{self, ClientAuthenticate, ClientConfig, ClientRandom};
use sipae::{
    AuthError, AuthFields, AuthenticateMessage, AuthenticationInfo, Credentials, DEFAULT_REALM,
    Discard, GssapiData, Inbound, MessageError, MessageFields, NegotiateFlags, NtHash, NtlmV2Error,
    Server, ServerConfig, Session, SignError, Uppercase, Verdict, VerifyError, Version,
};

const TARGET: &str = "fe.example.test";
const ALICE: &str = "<sip:alice@example.test>;tag=1234;epid=abcd";
const BOB: &str = "<sip:bob@example.test>";

fn server() -> Server {
    Server::new(ServerConfig::new(TARGET, "example.test")).unwrap()
}

fn seeded() -> StdRng {
    StdRng::seed_from_u64(42)
}

fn alice_config(password: &str) -> ClientConfig<'static> {
    ClientConfig {
        user: "alice",
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

fn random() -> ClientRandom {
    ClientRandom {
        client_challenge: [7; 8],
        random_session_key: [9; 16],
        time: 0,
    }
}

fn alice_account(id: &sipae::Identity) -> Option<NtHash> {
    (id.user.eq_ignore_ascii_case("alice")).then(|| NtHash::from_password("secret"))
}

fn request<'a>(cseq: &'a str, from: &'a str, to: &'a str) -> MessageFields<'a> {
    MessageFields {
        call_id: "call-1",
        cseq,
        from,
        to,
        asserted_identity: None,
        expires: None,
        status: None,
    }
}

fn inbound<'a>(fields: MessageFields<'a>, credentials: &'a [String]) -> Inbound<'a> {
    Inbound {
        fields,
        credentials: credentials.iter().map(String::as_str).collect(),
    }
}

/// The client's view of a finished handshake.
struct Client {
    auth: ClientAuthenticate,
    opaque: String,
    next_cnum: u32,
}

impl Client {
    fn auth_fields<'a>(&self, crand: &'a str, cnum: &'a str) -> AuthFields<'a> {
        AuthFields {
            scheme: "NTLM",
            rand: crand,
            num: cnum,
            realm: DEFAULT_REALM,
            targetname: TARGET,
        }
    }

    /// The `Authorization` value sipe writes for a signed message (no `version`).
    fn signed(&mut self, msg: &MessageFields<'_>) -> String {
        let cnum = self.next_cnum.to_string();
        self.next_cnum += 1;
        let response = self.auth.sign(4, &self.auth_fields("1a2b3c4d", &cnum), msg);
        Credentials {
            scheme: "NTLM".into(),
            realm: Some(DEFAULT_REALM.into()),
            targetname: Some(TARGET.into()),
            opaque: Some(self.opaque.clone()),
            gssapi_data: GssapiData::Absent,
            version: None,
            qop: Some("auth".into()),
            crand: Some("1a2b3c4d".into()),
            cnum: Some(cnum),
            response: Some(response.to_hex().to_lowercase()),
        }
        .to_header_value()
    }

    fn check_server(&self, msg: &MessageFields<'_>, info: &AuthenticationInfo) -> bool {
        let auth = AuthFields {
            scheme: "NTLM",
            rand: &info.srand,
            num: &info.snum,
            realm: &info.realm,
            targetname: &info.targetname,
        };
        self.auth.verify_server(4, &auth, msg, &info.rspauth)
    }
}

fn picking_ntlm(version: u32) -> String {
    format!(
        r#"NTLM qop="auth", realm="{DEFAULT_REALM}", targetname="{TARGET}", gssapi-data="", version={version}"#
    )
}

/// Steps A and B: returns the opaque and the CHALLENGE bytes.
fn get_challenge(
    server: &Server,
    session: &mut Session,
    now: SystemTime,
    rng: &mut StdRng,
) -> (String, Vec<u8>) {
    let register = request("1 REGISTER", ALICE, "<sip:alice@example.test>");
    assert_eq!(
        session.handle(server, &inbound(register, &[]), now, rng, alice_account),
        Verdict::Offer(format!(
            r#"NTLM realm="{DEFAULT_REALM}", targetname="{TARGET}", version=4"#
        ))
    );
    let creds = [picking_ntlm(4)];
    let register = request("2 REGISTER", ALICE, "<sip:alice@example.test>");
    let Verdict::Challenge(header) =
        session.handle(server, &inbound(register, &creds), now, rng, alice_account)
    else {
        panic!("expected a challenge")
    };
    let c = Credentials::parse(&header).unwrap();
    assert_eq!(c.realm.as_deref(), Some(DEFAULT_REALM));
    assert_eq!(c.targetname.as_deref(), Some(TARGET));
    let GssapiData::Token(token) = c.gssapi_data else {
        panic!("no CHALLENGE")
    };
    (c.opaque.unwrap(), token)
}

/// The AUTHENTICATE REGISTER's `Authorization`, signed (version 4) when `sign` is set.
fn authenticate_header(
    out: &ClientAuthenticate,
    opaque: &str,
    version: u32,
    sign: bool,
    msg: &MessageFields<'_>,
) -> String {
    let (crand, cnum, response) = if sign {
        let auth = AuthFields {
            scheme: "NTLM",
            rand: "5558370d",
            num: "1",
            realm: DEFAULT_REALM,
            targetname: TARGET,
        };
        (
            Some("5558370d".to_owned()),
            Some("1".to_owned()),
            Some(out.sign(version, &auth, msg).to_hex()),
        )
    } else {
        (None, None, None)
    };
    Credentials {
        scheme: "NTLM".into(),
        realm: Some(DEFAULT_REALM.into()),
        targetname: Some(TARGET.into()),
        opaque: Some(opaque.to_owned()),
        gssapi_data: GssapiData::Token(out.message.clone()),
        version: Some(version),
        qop: Some("auth".into()),
        crand,
        cnum,
        response,
    }
    .to_header_value()
}

fn try_handshake(
    server: &Server,
    session: &mut Session,
    config: &ClientConfig<'_>,
    now: SystemTime,
    rng: &mut StdRng,
) -> (Verdict, Client) {
    let (opaque, challenge) = get_challenge(server, session, now, rng);
    let out = client::authenticate(&challenge, config, &random()).unwrap();
    let register = request("3 REGISTER", ALICE, "<sip:alice@example.test>");
    let creds = [authenticate_header(&out, &opaque, 4, true, &register)];
    let verdict = session.handle(server, &inbound(register, &creds), now, rng, alice_account);
    (
        verdict,
        Client {
            auth: out,
            opaque,
            next_cnum: 2,
        },
    )
}

fn established(
    server: &Server,
    session: &mut Session,
    now: SystemTime,
    rng: &mut StdRng,
) -> Client {
    let (verdict, client) = try_handshake(server, session, &alice_config("secret"), now, rng);
    assert_eq!(verdict, Verdict::Established);
    client
}

#[test]
fn full_round_trip() {
    let (server, mut session, mut rng, now) = (server(), Session::new(), seeded(), t0());
    let mut alice = established(&server, &mut session, now, &mut rng);
    let id = session.identity().unwrap();
    assert_eq!(
        (
            id.user.as_str(),
            id.domain.as_str(),
            id.workstation.as_str()
        ),
        ("alice", "EXAMPLE", "WS1")
    );
    assert_eq!(
        session.association().unwrap().aor(),
        "sip:alice@example.test"
    );

    // The signed 200 OK to the REGISTER.
    let ok = MessageFields {
        status: Some(200),
        expires: Some("3600"),
        ..request("3 REGISTER", ALICE, "<sip:alice@example.test>;tag=srv")
    };
    let info = session.sign(&ok, now, &mut rng).unwrap();
    assert_eq!(info.snum, "1");
    assert_eq!(info.opaque, alice.opaque);
    assert!(alice.check_server(&ok, &info));
    let parsed = AuthenticationInfo::parse(&info.to_header_value()).unwrap();
    assert_eq!(parsed, info);

    // Signed requests and responses from the client.
    let invite = request("1 INVITE", ALICE, BOB);
    let creds = [alice.signed(&invite)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(invite, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Authentic
    );
    let reply = MessageFields {
        status: Some(200),
        ..request("1 INFO", BOB, ALICE)
    };
    let creds = [alice.signed(&reply)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(reply, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Authentic
    );

    // Server-originated requests keep snum increasing.
    let notify = request("5 BENOTIFY", BOB, ALICE);
    let info = session.sign(&notify, now, &mut rng).unwrap();
    assert_eq!(info.snum, "2");
    assert!(alice.check_server(&notify, &info));
    assert!(!alice.check_server(&request("6 BENOTIFY", BOB, ALICE), &info));
}

#[test]
fn sip_proto_messages_through_the_adapter() {
    let (server, mut session, mut rng, now) = (server(), Session::new(), seeded(), t0());
    let mut alice = established(&server, &mut session, now, &mut rng);
    let text_fields = request("1 MESSAGE", ALICE, BOB);
    let auth = alice.signed(&text_fields);
    let message = common::sip(&format!(
        "MESSAGE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.1;branch=z9hG4bKx\r\nMax-Forwards: 70\r\nf: {ALICE}\r\nt: {BOB}\r\ni: call-1\r\nCSeq: 1 MESSAGE\r\nAuthorization: Kerberos realm=\"other\"\r\nAUTHORIZATION: {auth}\r\nContent-Length: 0\r\n\r\n"
    ));
    let sip_proto::Message::Request(req) = &message else {
        panic!()
    };
    let inbound = Inbound::of_request(req);
    assert_eq!(inbound.credentials.len(), 2);
    assert_eq!(
        session.handle(&server, &inbound, now, &mut rng, alice_account),
        Verdict::Authentic
    );
}

#[test]
fn tampered_and_replayed_messages_are_discarded() {
    let (server, mut session, mut rng, now) = (server(), Session::new(), seeded(), t0());
    let mut alice = established(&server, &mut session, now, &mut rng);
    let invite = request("1 INVITE", ALICE, BOB);
    let creds = [alice.signed(&invite)];
    let handle = |session: &mut Session, rng: &mut StdRng, fields, creds| {
        session.handle(&server, &inbound(fields, creds), now, rng, alice_account)
    };
    assert_eq!(
        handle(&mut session, &mut rng, invite, &creds),
        Verdict::Authentic
    );
    assert_eq!(
        handle(&mut session, &mut rng, invite, &creds),
        Verdict::Discard(Discard::Invalid(VerifyError::Replayed(2)))
    );
    // A changed signed field.
    let other = request("2 INVITE", ALICE, BOB);
    let creds = [alice.signed(&invite)];
    assert_eq!(
        handle(&mut session, &mut rng, other, &creds),
        Verdict::Discard(Discard::Invalid(VerifyError::BadSignature))
    );
    // A changed signature.
    let mut creds = [alice.signed(&invite)];
    creds[0] = creds[0].replace("response=\"01000000", "response=\"01000001");
    assert_eq!(
        handle(&mut session, &mut rng, invite, &creds),
        Verdict::Discard(Discard::Invalid(VerifyError::BadSignature))
    );
    // A changed cnum is a changed buffer.
    let creds = [alice.signed(&invite).replace("cnum=\"5\"", "cnum=\"50\"")];
    assert_eq!(
        handle(&mut session, &mut rng, invite, &creds),
        Verdict::Discard(Discard::Invalid(VerifyError::BadSignature))
    );
    // A request from someone else, signed with alice's keys.
    let forged = request("3 INVITE", BOB, ALICE);
    let creds = [alice.signed(&forged)];
    assert_eq!(
        handle(&mut session, &mut rng, forged, &creds),
        Verdict::Discard(Discard::Invalid(VerifyError::WrongAddress {
            expected: "sip:alice@example.test".into(),
            found: "sip:bob@example.test".into()
        }))
    );
    // Missing and malformed parameters.
    let creds = [alice.signed(&invite).replace(", response=", ", xresponse=")];
    assert_eq!(
        handle(&mut session, &mut rng, invite, &creds),
        Verdict::Discard(Discard::Invalid(VerifyError::Missing("response")))
    );
    let creds = [alice.signed(&invite).replace("cnum=\"8\"", "cnum=\"-8\"")];
    assert_eq!(
        handle(&mut session, &mut rng, invite, &creds),
        Verdict::Discard(Discard::Invalid(VerifyError::BadCnum("-8".into())))
    );
    let creds = [alice
        .signed(&invite)
        .replace("response=\"0", "response=\"z")];
    assert_eq!(
        handle(&mut session, &mut rng, invite, &creds),
        Verdict::Discard(Discard::Invalid(VerifyError::BadResponseHex))
    );
    let creds = [format!("{}, version=3", alice.signed(&invite))];
    assert_eq!(
        handle(&mut session, &mut rng, invite, &creds),
        Verdict::Discard(Discard::Invalid(VerifyError::VersionMismatch {
            expected: 4,
            found: 3
        }))
    );
    // Still fine afterwards, with an explicit version=4.
    let creds = [format!("{}, version=4", alice.signed(&invite))];
    assert_eq!(
        handle(&mut session, &mut rng, invite, &creds),
        Verdict::Authentic
    );
}

#[test]
fn foreign_opaque_gets_one_401_then_the_connection_closes() {
    let (server, mut session, mut rng, now) = (server(), Session::new(), seeded(), t0());
    let mut alice = established(&server, &mut session, now, &mut rng);
    let invite = request("1 INVITE", ALICE, BOB);
    let creds = [alice.signed(&invite).replace(&alice.opaque, "0BADF00D")];
    let mut handle = || {
        session.handle(
            &server,
            &inbound(invite, &creds),
            now,
            &mut rng,
            alice_account,
        )
    };
    assert_eq!(handle(), Verdict::Offer(server.offer()));
    assert_eq!(handle(), Verdict::Close);
}

#[test]
fn handshake_failures() {
    let server = server();
    let now = t0();
    let fail = |config: ClientConfig<'static>| {
        let (mut session, mut rng) = (Session::new(), seeded());
        let (verdict, _) = try_handshake(&server, &mut session, &config, now, &mut rng);
        assert!(session.association().is_none());
        verdict
    };
    assert_eq!(
        fail(alice_config("wrong")),
        Verdict::Rejected(AuthError::Ntlm(NtlmV2Error::ProofMismatch))
    );
    assert_eq!(
        fail(ClientConfig {
            user: "mallory",
            ..alice_config("secret")
        }),
        Verdict::Rejected(AuthError::UnknownAccount)
    );
    let without = |f| ClientConfig {
        flags: NegotiateFlags::CLIENT_AUTHENTICATE.without(f),
        ..alice_config("secret")
    };
    assert_eq!(
        fail(without(NegotiateFlags::EXTENDED_SESSION_SECURITY)),
        Verdict::Rejected(AuthError::NoExtendedSessionSecurity)
    );
    assert_eq!(
        fail(without(NegotiateFlags::DATAGRAM)),
        Verdict::Rejected(AuthError::MissingFlags(NegotiateFlags::DATAGRAM))
    );
    assert_eq!(
        fail(without(NegotiateFlags::SIGN | NegotiateFlags::KEY_EXCH)),
        Verdict::Rejected(AuthError::MissingFlags(
            NegotiateFlags::SIGN | NegotiateFlags::KEY_EXCH
        ))
    );
    let oem =
        NegotiateFlags::CLIENT_AUTHENTICATE.without(NegotiateFlags::UNICODE) | NegotiateFlags::OEM;
    assert_eq!(
        fail(ClientConfig {
            flags: oem,
            ..alice_config("secret")
        }),
        Verdict::Rejected(AuthError::NotUnicode)
    );
    let reserved = NegotiateFlags::CLIENT_AUTHENTICATE | NegotiateFlags::from_bits(0x0000_0400);
    assert_eq!(
        fail(ClientConfig {
            flags: reserved,
            ..alice_config("secret")
        }),
        Verdict::Rejected(AuthError::ReservedFlags(0x400))
    );
}

#[test]
fn handshake_protocol_errors() {
    let server = server();
    let now = t0();
    let register = request("3 REGISTER", ALICE, "<sip:alice@example.test>");

    // The opaque of another challenge.
    let (mut session, mut rng) = (Session::new(), seeded());
    let (_, challenge) = get_challenge(&server, &mut session, now, &mut rng);
    let out = client::authenticate(&challenge, &alice_config("secret"), &random()).unwrap();
    let creds = [authenticate_header(&out, "0BADF00D", 4, true, &register)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(register, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Rejected(AuthError::UnknownOpaque)
    );

    // A challenge answers once.
    let (opaque, challenge) = get_challenge(&server, &mut session, now, &mut rng);
    let out = client::authenticate(&challenge, &alice_config("secret"), &random()).unwrap();
    let creds = [authenticate_header(&out, &opaque, 4, true, &register)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(register, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Established
    );
    assert_eq!(
        session.handle(
            &server,
            &inbound(register, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Rejected(AuthError::UnknownOpaque)
    );

    // Too late.
    let (mut session, mut rng) = (Session::new(), seeded());
    let (opaque, challenge) = get_challenge(&server, &mut session, now, &mut rng);
    let out = client::authenticate(&challenge, &alice_config("secret"), &random()).unwrap();
    let creds = [authenticate_header(&out, &opaque, 4, true, &register)];
    let late = now + Duration::from_secs(61);
    assert_eq!(
        session.handle(
            &server,
            &inbound(register, &creds),
            late,
            &mut rng,
            alice_account
        ),
        Verdict::Rejected(AuthError::UnknownOpaque)
    );

    // Another version than offered.
    let (mut session, mut rng) = (Session::new(), seeded());
    let (opaque, challenge) = get_challenge(&server, &mut session, now, &mut rng);
    let out = client::authenticate(&challenge, &alice_config("secret"), &random()).unwrap();
    let creds = [authenticate_header(&out, &opaque, 3, false, &register)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(register, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Rejected(AuthError::VersionMismatch {
            offered: 4,
            found: 3
        })
    );

    // A signature that does not match the new keys.
    let (mut session, mut rng) = (Session::new(), seeded());
    let (opaque, challenge) = get_challenge(&server, &mut session, now, &mut rng);
    let out = client::authenticate(&challenge, &alice_config("secret"), &random()).unwrap();
    let other = request("4 REGISTER", ALICE, "<sip:alice@example.test>");
    let creds = [authenticate_header(&out, &opaque, 4, true, &other)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(register, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Rejected(AuthError::Signature(VerifyError::BadSignature))
    );

    // Handshake data outside a REGISTER, and unauthenticated ACKs and responses.
    let creds = [picking_ntlm(4)];
    let invite = request("1 INVITE", ALICE, BOB);
    assert_eq!(
        session.handle(
            &server,
            &inbound(invite, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Discard(Discard::HandshakeOutsideRegister)
    );
    let ack = request("1 ACK", ALICE, BOB);
    assert_eq!(
        session.handle(&server, &inbound(ack, &[]), now, &mut rng, alice_account),
        Verdict::Discard(Discard::Unauthenticated)
    );
    let ok = MessageFields {
        status: Some(200),
        ..request("1 INFO", BOB, ALICE)
    };
    assert_eq!(
        session.handle(&server, &inbound(ok, &[]), now, &mut rng, alice_account),
        Verdict::Discard(Discard::Unauthenticated)
    );
}

/// Every prefix of a valid AUTHENTICATE is refused with a typed error.
#[test]
fn truncated_authenticate_messages() {
    let (server, mut session, mut rng, now) = (server(), Session::new(), seeded(), t0());
    let (_, challenge) = get_challenge(&server, &mut session, now, &mut rng);
    let out = client::authenticate(&challenge, &alice_config("secret"), &random()).unwrap();
    for len in 0..out.message.len() {
        let err = AuthenticateMessage::decode(&out.message[..len]).unwrap_err();
        assert!(
            matches!(
                err,
                MessageError::Truncated
                    | MessageError::FieldOutOfBounds { .. }
                    | MessageError::BadSignature
            ),
            "{len}: {err:?}"
        );
    }
}

#[test]
fn version_3_has_no_signature_on_the_authenticate() {
    let mut config = ServerConfig::new(TARGET, "example.test");
    config.version = 3;
    let server = Server::new(config).unwrap();
    let (mut session, mut rng, now) = (Session::new(), seeded(), t0());
    let register = request("1 REGISTER", ALICE, "<sip:alice@example.test>");
    assert_eq!(
        session.handle(
            &server,
            &inbound(register, &[]),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Offer(format!(
            r#"NTLM realm="{DEFAULT_REALM}", targetname="{TARGET}", version=3"#
        ))
    );
    let creds = [picking_ntlm(3)];
    let Verdict::Challenge(header) = session.handle(
        &server,
        &inbound(register, &creds),
        now,
        &mut rng,
        alice_account,
    ) else {
        panic!()
    };
    let c = Credentials::parse(&header).unwrap();
    let GssapiData::Token(token) = c.gssapi_data else {
        panic!()
    };
    let out = client::authenticate(&token, &alice_config("secret"), &random()).unwrap();
    let creds = [authenticate_header(
        &out,
        c.opaque.as_deref().unwrap(),
        3,
        false,
        &register,
    )];
    assert_eq!(
        session.handle(
            &server,
            &inbound(register, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Established
    );
    let mut alice = Client {
        auth: out,
        opaque: c.opaque.unwrap(),
        next_cnum: 1,
    };
    let auth = alice.auth_fields("00000001", "1");
    let info = request("2 INFO", ALICE, BOB);
    let sig = alice.auth.sign(3, &auth, &info);
    alice.next_cnum = 2;
    let creds = [format!(
        r#"NTLM qop="auth", opaque="{}", realm="{DEFAULT_REALM}", targetname="{TARGET}", crand="00000001", cnum="1", response="{sig}""#,
        alice.opaque
    )];
    assert_eq!(
        session.handle(
            &server,
            &inbound(info, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Authentic
    );
}

#[test]
fn legacy_clients_only_when_allowed() {
    let mut config = ServerConfig::new(TARGET, "example.test");
    config.allow_without_extended_session_security = true;
    let server = Server::new(config).unwrap();
    let (mut session, mut rng, now) = (Session::new(), seeded(), t0());
    let legacy = ClientConfig {
        flags: NegotiateFlags::CLIENT_AUTHENTICATE
            .without(NegotiateFlags::EXTENDED_SESSION_SECURITY),
        ..alice_config("secret")
    };
    let (verdict, mut alice) = try_handshake(&server, &mut session, &legacy, now, &mut rng);
    assert_eq!(verdict, Verdict::Established);
    let invite = request("1 INVITE", ALICE, BOB);
    let creds = [alice.signed(&invite)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(invite, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Authentic
    );
    let ok = MessageFields {
        status: Some(200),
        ..invite
    };
    let info = session.sign(&ok, now, &mut rng).unwrap();
    assert!(alice.check_server(&ok, &info));
}

#[test]
fn mic_is_checked_when_announced() {
    let with_mic = ClientConfig {
        with_mic: true,
        ..alice_config("secret")
    };
    let (server, mut session, mut rng, now) = (server(), Session::new(), seeded(), t0());
    let (verdict, _) = try_handshake(&server, &mut session, &with_mic, now, &mut rng);
    assert_eq!(verdict, Verdict::Established);

    // Tamper with the MIC: refused, unless MIC checking is off.
    let tamper = |server: &Server| {
        let (mut session, mut rng) = (Session::new(), seeded());
        let (opaque, challenge) = get_challenge(server, &mut session, now, &mut rng);
        let mut out = client::authenticate(&challenge, &with_mic, &random()).unwrap();
        out.message[AuthenticateMessage::MIC_OFFSET] ^= 1;
        let register = request("3 REGISTER", ALICE, "<sip:alice@example.test>");
        let creds = [authenticate_header(&out, &opaque, 4, true, &register)];
        session.handle(
            server,
            &inbound(register, &creds),
            now,
            &mut rng,
            alice_account,
        )
    };
    assert_eq!(tamper(&server), Verdict::Rejected(AuthError::BadMic));
    let mut lax = ServerConfig::new(TARGET, "example.test");
    lax.verify_mic = false;
    assert_eq!(tamper(&Server::new(lax).unwrap()), Verdict::Established);

    // Announced but absent: the message has no MIC slot.
    let (mut session, mut rng) = (Session::new(), seeded());
    let (opaque, challenge) = get_challenge(&server, &mut session, now, &mut rng);
    let out = client::authenticate(&challenge, &with_mic, &random()).unwrap();
    let mut m = AuthenticateMessage::decode(&out.message).unwrap();
    m.mic = None;
    let stripped = ClientAuthenticate {
        message: m.encode().unwrap(),
        ..out
    };
    let register = request("3 REGISTER", ALICE, "<sip:alice@example.test>");
    let creds = [authenticate_header(&stripped, &opaque, 4, true, &register)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(register, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Rejected(AuthError::MissingMic)
    );
}

#[test]
fn domain_and_case_fallbacks() {
    let server = server();
    let now = t0();
    // The key was computed with an empty domain, but the message names one.
    let (mut session, mut rng) = (Session::new(), seeded());
    let (opaque, challenge) = get_challenge(&server, &mut session, now, &mut rng);
    let out = client::authenticate(
        &challenge,
        &ClientConfig {
            domain: "",
            ..alice_config("secret")
        },
        &random(),
    )
    .unwrap();
    let mut m = AuthenticateMessage::decode(&out.message).unwrap();
    m.domain = "EXAMPLE".into();
    let patched = ClientAuthenticate {
        message: m.encode().unwrap(),
        ..out
    };
    let register = request("3 REGISTER", ALICE, "<sip:alice@example.test>");
    let creds = [authenticate_header(&patched, &opaque, 4, true, &register)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(register, &creds),
            now,
            &mut rng,
            alice_account
        ),
        Verdict::Established
    );
    assert_eq!(session.identity().unwrap().domain, "EXAMPLE");

    // sipe upper-cases only ASCII letters.
    let jose = |id: &sipae::Identity| (id.user == "josé").then(|| NtHash::from_password("secret"));
    for uppercase in [Uppercase::Ascii, Uppercase::Unicode] {
        let (mut session, mut rng) = (Session::new(), seeded());
        let (opaque, challenge) = get_challenge(&server, &mut session, now, &mut rng);
        let config = ClientConfig {
            user: "josé",
            uppercase,
            ..alice_config("secret")
        };
        let out = client::authenticate(&challenge, &config, &random()).unwrap();
        let creds = [authenticate_header(&out, &opaque, 4, false, &register)];
        assert_eq!(
            session.handle(&server, &inbound(register, &creds), now, &mut rng, jose),
            Verdict::Established,
            "{uppercase:?}"
        );
    }
}

#[test]
fn expiry_after_eight_hours() {
    let (server, mut session, mut rng, now) = (server(), Session::new(), seeded(), t0());
    let mut alice = established(&server, &mut session, now, &mut rng);
    let expires = session.association().unwrap().expires_at();
    assert_eq!(expires, now + Duration::from_secs(8 * 3600));
    let just_before = expires - Duration::from_secs(1);

    let invite = request("1 INVITE", ALICE, BOB);
    let creds = [alice.signed(&invite)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(invite, &creds),
            just_before,
            &mut rng,
            alice_account
        ),
        Verdict::Authentic
    );
    assert_eq!(
        session.sign(&invite, expires, &mut rng),
        Err(SignError::Expired)
    );

    let creds = [alice.signed(&invite)];
    let register = request("9 REGISTER", ALICE, "<sip:alice@example.test>");
    let reg_creds = [alice.signed(&register)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(register, &reg_creds),
            expires,
            &mut rng,
            alice_account
        ),
        Verdict::Offer(server.offer())
    );
    assert!(session.association().is_none());
    assert_eq!(
        session.sign(&invite, expires, &mut rng),
        Err(SignError::NoAssociation)
    );
    assert_eq!(
        session.handle(
            &server,
            &inbound(invite, &creds),
            expires,
            &mut rng,
            alice_account
        ),
        Verdict::Offer(server.offer())
    );
    assert_eq!(
        session.handle(
            &server,
            &inbound(invite, &creds),
            expires,
            &mut rng,
            alice_account
        ),
        Verdict::Close
    );
}

#[test]
fn re_authentication_replaces_the_association() {
    let (server, mut session, mut rng, now) = (server(), Session::new(), seeded(), t0());
    let mut old = established(&server, &mut session, now, &mut rng);
    let old_opaque = session.association().unwrap().opaque();
    let later = now + Duration::from_secs(7 * 3600 + 55 * 60);
    let info = request("7 INFO", ALICE, BOB);

    // Before re-authentication starts, an unsigned request gets a 401, then a close.
    let mut fresh = Session::new();
    let mut fresh_rng = seeded();
    let _ = established(&server, &mut fresh, now, &mut fresh_rng);
    assert_eq!(
        fresh.handle(
            &server,
            &inbound(info, &[]),
            later,
            &mut fresh_rng,
            alice_account
        ),
        Verdict::Offer(server.offer())
    );
    assert_eq!(
        fresh.handle(
            &server,
            &inbound(info, &[]),
            later,
            &mut fresh_rng,
            alice_account
        ),
        Verdict::Close
    );

    // The client drops its keys and registers again; meanwhile its unsigned requests are
    // dropped, never processed: signing cannot be turned off.
    let (opaque, challenge) = get_challenge(&server, &mut session, later, &mut rng);
    assert_eq!(
        session.handle(&server, &inbound(info, &[]), later, &mut rng, alice_account),
        Verdict::Discard(Discard::UnsignedDuringReauthentication)
    );
    let signed_info = [old.signed(&info)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(info, &signed_info),
            later,
            &mut rng,
            alice_account
        ),
        Verdict::Authentic
    );
    let out = client::authenticate(&challenge, &alice_config("secret"), &random()).unwrap();
    let register = request("3 REGISTER", ALICE, "<sip:alice@example.test>");
    let creds = [authenticate_header(&out, &opaque, 4, true, &register)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(register, &creds),
            later,
            &mut rng,
            alice_account
        ),
        Verdict::Established
    );
    let new = session.association().unwrap();
    assert_ne!(new.opaque(), old_opaque);
    assert_eq!(new.expires_at(), later + Duration::from_secs(8 * 3600));

    // Unsigned requests are no longer accepted, and the old opaque is unknown.
    assert_eq!(
        session.handle(&server, &inbound(info, &[]), later, &mut rng, alice_account),
        Verdict::Offer(server.offer())
    );
    let stale = [old.signed(&info)];
    assert_eq!(
        session.handle(
            &server,
            &inbound(info, &stale),
            later,
            &mut rng,
            alice_account
        ),
        Verdict::Close
    );

    // The window for unsigned requests closes with the challenge lifetime.
    let (mut session, mut rng) = (Session::new(), seeded());
    let _ = established(&server, &mut session, now, &mut rng);
    get_challenge(&server, &mut session, later, &mut rng);
    let after = later + Duration::from_secs(61);
    assert_eq!(
        session.handle(&server, &inbound(info, &[]), after, &mut rng, alice_account),
        Verdict::Offer(server.offer())
    );
}

#[test]
fn lookup_sees_the_names_as_sent() {
    let (server, mut session, mut rng, now) = (server(), Session::new(), seeded(), t0());
    let (opaque, challenge) = get_challenge(&server, &mut session, now, &mut rng);
    let config = ClientConfig {
        user: "Alice@Example.Test",
        domain: "",
        ..alice_config("secret")
    };
    let out = client::authenticate(&challenge, &config, &random()).unwrap();
    let register = request("3 REGISTER", ALICE, "<sip:alice@example.test>");
    let creds = [authenticate_header(&out, &opaque, 4, true, &register)];
    let seen = Cell::new(None);
    let verdict = session.handle(&server, &inbound(register, &creds), now, &mut rng, |id| {
        seen.set(Some((id.user.clone(), id.domain.clone())));
        Some(NtHash::from_password("secret"))
    });
    assert_eq!(verdict, Verdict::Established);
    assert_eq!(
        seen.take(),
        Some(("Alice@Example.Test".to_owned(), String::new()))
    );
}
