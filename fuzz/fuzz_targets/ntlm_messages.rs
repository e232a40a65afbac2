//! Arbitrary bytes into the NTLM message parsers and the server's AUTHENTICATE check: none
//! may panic, and every message that decodes must re-encode to one that decodes to itself.

#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use sipae::{
    AuthenticateMessage, AvPairs, ChallengeMessage, Credentials, GssapiData, MessageError,
    MessageFields, NegotiateMessage, NtHash, NtlmV2Response, Opaque, PendingChallenge, Server,
    ServerConfig,
};

/// A CHALLENGE with Lync 2013's flags and version, so that AUTHENTICATE inputs meet a real
/// server state.
const CHALLENGE: &[u8] = &[
    0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x38, 0x00, 0x00, 0x00, 0xf3, 0x82, 0x98, 0xe2, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0x00, 0x38, 0x00, 0x00, 0x00,
    0x06, 0x01, 0xb1, 0x1d, 0x00, 0x00, 0x00, 0x0f, 0x02, 0x00, 0x02, 0x00, 0x44, 0x00, 0x00, 0x00,
    0x00, 0x00,
];

/// Encoding can only fail when overlapping input fields become too long written apart.
fn re_encodes<M: PartialEq + std::fmt::Debug>(
    m: &M,
    encode: impl Fn(&M) -> Result<Vec<u8>, MessageError>,
    decode: impl Fn(&[u8]) -> Result<M, MessageError>,
) {
    match encode(m) {
        Ok(bytes) => assert_eq!(&decode(&bytes).expect("re-encoded message decodes"), m),
        Err(e) => assert!(matches!(e, MessageError::TooLong(_)), "{e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = NegotiateMessage::decode(data) {
        re_encodes(&m, NegotiateMessage::encode, NegotiateMessage::decode);
    }
    if let Ok(m) = ChallengeMessage::decode(data) {
        re_encodes(&m, ChallengeMessage::encode, ChallengeMessage::decode);
    }
    if let Ok(m) = AuthenticateMessage::decode(data) {
        re_encodes(&m, AuthenticateMessage::encode, AuthenticateMessage::decode);
    }
    if let Ok(pairs) = AvPairs::decode(data) {
        assert_eq!(pairs.encode(), data);
    }
    let _ = NtlmV2Response::parse(data);
    let _ = Credentials::parse(&String::from_utf8_lossy(data));

    let server = Server::new(ServerConfig::new("fe.example.test", "example.test")).unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let pending = PendingChallenge::from_parts(
        Opaque::new(1),
        CHALLENGE.to_vec(),
        now + Duration::from_secs(60),
    )
    .unwrap();
    let creds = Credentials {
        scheme: "NTLM".into(),
        realm: Some(server.config().realm.clone()),
        targetname: Some("fe.example.test".into()),
        opaque: Some("00000001".into()),
        gssapi_data: GssapiData::Token(data.to_vec()),
        version: Some(4),
        qop: None,
        crand: Some("1".into()),
        cnum: Some("1".into()),
        response: Some("01000000000000000000000064000000".into()),
    };
    let fields = MessageFields {
        cseq: "1 REGISTER",
        from: "<sip:a@example.test>",
        ..Default::default()
    };
    let _ = server.authenticate(pending, &creds, &fields, now, |_| {
        Some(NtHash::from_password("pw"))
    });
});
