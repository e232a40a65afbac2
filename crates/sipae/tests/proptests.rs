//! Property tests: the parsers never panic on any input, the messages this crate builds
//! decode back to themselves, and signatures made by one side verify on the other.

mod common;

use std::time::Duration;

use common::{b64, t0};
use proptest::collection::vec;
use proptest::prelude::*;
use sipae::client::{self, ClientConfig, ClientRandom};
use sipae::{
    AuthFields, AuthenticateMessage, AuthenticationInfo, AvPairs, ChallengeMessage, Credentials,
    DEFAULT_REALM, GssapiData, MessageFields, NegotiateFlags, NegotiateMessage, NtHash,
    NtlmV2Response, Opaque, PendingChallenge, Server, ServerConfig, Signature, Uppercase,
    VerifyError, Version,
};

const OC_AUTHENTICATE: &str = "TlRMTVNTUAADAAAAGAAYAHIAAADGAMYAigAAAAoACgBIAAAACAAIAFIAAAAYABgAWgAAABAAEABQAQAAVYKYYgUCzg4AAAAPQwBPAFMATQBPAFUAcwBlAHIAQwBPAFMATQBPAC0ATwBDAFMALQBSADIAoeku/k4Hi/fFwASazGFmwtauh1yw/apBjcDIAK527KYG0rn769BHMQEBAAAAAAAAWVGaFye5ygHWrodcsP2qQQAAAAACAAoAQwBPAFMATQBPAAEAGABDAE8AUwBNAE8ALQBPAEMAUwAtAFIAMgAEABYAYwBvAHMAbQBvAC4AbABvAGMAYQBsAAMAMABjAG8AcwBtAG8ALQBvAGMAcwAtAHIAMgAuAGMAbwBzAG0AbwAuAGwAbwBjAGEAbAAFABYAYwBvAHMAbQBvAC4AbABvAGMAYQBsAAAAAAAAAAAAMctznhyoCkmFkeiueXEV5A==";
const OC_CHALLENGE: &str = "TlRMTVNTUAACAAAAAAAAADgAAADzgpji3Ruq9OfiGNEAAAAAAAAAAJYAlgA4AAAABQLODgAAAA8CAAoAQwBPAFMATQBPAAEAGABDAE8AUwBNAE8ALQBPAEMAUwAtAFIAMgAEABYAYwBvAHMAbQBvAC4AbABvAGMAYQBsAAMAMABjAG8AcwBtAG8ALQBvAGMAcwAtAHIAMgAuAGMAbwBzAG0AbwAuAGwAbwBjAGEAbAAFABYAYwBvAHMAbQBvAC4AbABvAGMAYQBsAAAAAAA=";

/// Runs every parser on `bytes`; none may panic.
fn parse_everything(bytes: &[u8]) {
    let _ = NegotiateMessage::decode(bytes);
    let _ = ChallengeMessage::decode(bytes);
    let _ = AuthenticateMessage::decode(bytes);
    let _ = NtlmV2Response::parse(bytes);
    let _ = AvPairs::decode(bytes);
    let _ = AvPairs::decode_prefix(bytes);
    let text = String::from_utf8_lossy(bytes);
    let _ = Credentials::parse(&text);
    let _ = AuthenticationInfo::parse(&text);
}

/// An AUTHENTICATE carrying `token`, checked by a server against the real OC CHALLENGE.
fn authenticate_token(token: Vec<u8>) {
    let server = Server::new(ServerConfig::new("cosmo-ocs-r2.cosmo.local", "cosmo.local")).unwrap();
    let pending = PendingChallenge::from_parts(
        Opaque::new(1),
        b64(OC_CHALLENGE),
        t0() + Duration::from_secs(60),
    )
    .unwrap();
    let creds = Credentials {
        scheme: "NTLM".into(),
        realm: Some(DEFAULT_REALM.into()),
        targetname: Some("cosmo-ocs-r2.cosmo.local".into()),
        opaque: Some("00000001".into()),
        gssapi_data: GssapiData::Token(token),
        version: Some(4),
        qop: None,
        crand: Some("1".into()),
        cnum: Some("1".into()),
        response: Some("0100000029618e9651b65a7764000000".into()),
    };
    let fields = MessageFields {
        call_id: "c",
        cseq: "1 REGISTER",
        from: "<sip:user@cosmo.local>",
        ..Default::default()
    };
    let _ = server.authenticate(pending, &creds, &fields, t0(), |_| {
        Some(NtHash::from_password("Pa$$word"))
    });
}

fn header_with(message_type: u8) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..400).prop_map(move |tail| {
        let mut m = b"NTLMSSP\0".to_vec();
        m.extend_from_slice(&[message_type, 0, 0, 0]);
        m.extend_from_slice(&tail);
        m
    })
}

fn av_pairs() -> impl Strategy<Value = AvPairs> {
    vec((1u16.., vec(any::<u8>(), 0..40)), 0..6).prop_map(|pairs| {
        let mut list = AvPairs::new();
        for (id, value) in pairs {
            list.push(id, value).unwrap();
        }
        list
    })
}

fn version() -> impl Strategy<Value = Version> {
    (any::<u8>(), any::<u8>(), any::<u16>(), any::<u8>()).prop_map(
        |(major, minor, build, revision)| Version {
            major,
            minor,
            build,
            revision,
        },
    )
}

/// Flags with UNICODE set or cleared, and names that fit the encoding it selects.
fn flags_and_name() -> impl Strategy<Value = (NegotiateFlags, String)> {
    (any::<u32>(), any::<bool>()).prop_flat_map(|(bits, unicode)| {
        let flags = if unicode {
            NegotiateFlags::from_bits(bits) | NegotiateFlags::UNICODE
        } else {
            NegotiateFlags::from_bits(bits).without(NegotiateFlags::UNICODE)
        };
        let name = if unicode { "\\PC{0,12}" } else { "[ -~]{0,12}" };
        (Just(flags), name)
    })
}

fn challenge_message() -> impl Strategy<Value = ChallengeMessage> {
    (
        flags_and_name(),
        any::<[u8; 8]>(),
        proptest::option::of(av_pairs()),
        proptest::option::of(version()),
    )
        .prop_map(
            |((flags, target_name), server_challenge, target_info, version)| ChallengeMessage {
                flags,
                server_challenge,
                target_name,
                target_info,
                version,
            },
        )
}

fn authenticate_message() -> impl Strategy<Value = AuthenticateMessage> {
    (
        flags_and_name(),
        vec(any::<u8>(), 0..30),
        vec(any::<u8>(), 0..120),
        "[a-zA-Z]{0,8}",
        "[a-zA-Z0-9]{0,8}",
        vec(any::<u8>(), 0..20),
        proptest::option::of((version(), proptest::option::of(any::<[u8; 16]>()))),
    )
        .prop_map(
            |((flags, user), lm, nt, domain, workstation, key, layout)| AuthenticateMessage {
                flags,
                lm_response: lm,
                nt_response: nt,
                domain,
                user,
                workstation,
                encrypted_random_session_key: key,
                version: layout.map(|(v, _)| v),
                mic: layout.and_then(|(_, mic)| mic),
            },
        )
}

/// Header-safe text: what a SIP parser hands over for a header value.
fn text() -> impl Strategy<Value = String> {
    "[ -!#-\\[\\]-~]{0,24}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        parse_everything(&bytes);
    }

    #[test]
    fn arbitrary_ntlm_headers_never_panic(bytes in prop_oneof![header_with(1), header_with(2), header_with(3)]) {
        parse_everything(&bytes);
        authenticate_token(bytes);
    }

    #[test]
    fn mutated_real_authenticate_never_panics(
        flips in vec((0usize..352, any::<u8>()), 1..6),
        cut in 0usize..400,
    ) {
        let mut token = b64(OC_AUTHENTICATE);
        for (at, x) in flips {
            token[at] ^= x;
        }
        token.truncate(cut);
        parse_everything(&token);
        authenticate_token(token);
    }

    #[test]
    fn challenge_round_trip(m in challenge_message()) {
        let bytes = m.encode().unwrap();
        prop_assert_eq!(ChallengeMessage::decode(&bytes).unwrap(), m);
    }

    #[test]
    fn authenticate_round_trip(m in authenticate_message()) {
        let bytes = m.encode().unwrap();
        prop_assert_eq!(AuthenticateMessage::decode(&bytes).unwrap(), m);
    }

    #[test]
    fn negotiate_round_trip(
        bits in any::<u32>(),
        domain in "[ -~]{0,15}",
        workstation in "[ -~]{0,15}",
        version in proptest::option::of(version()),
    ) {
        let m = NegotiateMessage { flags: NegotiateFlags::from_bits(bits), domain, workstation, version };
        prop_assert_eq!(NegotiateMessage::decode(&m.encode().unwrap()).unwrap(), m);
    }

    #[test]
    fn decoded_messages_re_encode_to_themselves(bytes in prop_oneof![header_with(1), header_with(2), header_with(3)]) {
        if let Ok(m) = ChallengeMessage::decode(&bytes) {
            prop_assert_eq!(ChallengeMessage::decode(&m.encode().unwrap()).unwrap(), m);
        }
        if let Ok(m) = AuthenticateMessage::decode(&bytes) {
            prop_assert_eq!(AuthenticateMessage::decode(&m.encode().unwrap()).unwrap(), m);
        }
        if let Ok(m) = NegotiateMessage::decode(&bytes) {
            prop_assert_eq!(NegotiateMessage::decode(&m.encode().unwrap()).unwrap(), m);
        }
    }

    #[test]
    fn credentials_round_trip(
        realm in text(), targetname in text(), opaque in "[0-9A-F]{8}", version in proptest::option::of(2u32..10),
        token in proptest::option::of(vec(any::<u8>(), 0..64)), crand in "[0-9a-f]{8}", cnum in any::<u32>(),
    ) {
        let c = Credentials {
            scheme: "NTLM".into(),
            realm: Some(realm),
            targetname: Some(targetname),
            opaque: Some(opaque),
            gssapi_data: match token {
                None => GssapiData::Absent,
                Some(t) if t.is_empty() => GssapiData::Empty,
                Some(t) => GssapiData::Token(t),
            },
            version,
            qop: Some("auth".into()),
            crand: Some(crand),
            cnum: Some(cnum.to_string()),
            response: Some("0100000029618E9651B65A7764000000".into()),
        };
        prop_assert_eq!(Credentials::parse(&c.to_header_value()).unwrap(), c);
    }

    #[test]
    fn authentication_info_round_trip(
        srand in any::<u32>(), snum in any::<u32>(), sig in any::<[u8; 16]>(), realm in text(), targetname in text(),
        version in proptest::option::of(3u32..5),
    ) {
        let info = AuthenticationInfo {
            opaque: Opaque::new(srand ^ snum).to_string(),
            srand: format!("{srand:08X}"),
            snum: snum.to_string(),
            rspauth: Signature::from_bytes(sig),
            targetname,
            realm,
            version,
        };
        prop_assert_eq!(AuthenticationInfo::parse(&info.to_header_value()).unwrap(), info);
    }

    /// Whatever the header values, a message the client signs verifies on the server once,
    /// and a message the server signs verifies on the client; another Call-ID does not.
    #[test]
    fn signatures_verify_across_sides(
        call_id in text(), cseq in "[0-9]{1,4} [A-Z]{3,9}", from_user in "[a-z]{1,8}", to in text(),
        pai in proptest::option::of(text()), expires in proptest::option::of("[0-9]{1,5}"),
        status in proptest::option::of(100u16..700), crand in "[0-9a-f]{8}", seed in any::<u64>(),
        legacy in any::<bool>(),
    ) {
        let from = format!("\"{from_user}\" <sip:{from_user}@example.test>;tag=t");
        let mut config = ServerConfig::new("fe.example.test", "example.test");
        config.allow_without_extended_session_security = true;
        let server = Server::new(config).unwrap();
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        let (pending, _) = server.challenge(&mut rng, t0());
        let flags = if legacy {
            NegotiateFlags::CLIENT_AUTHENTICATE.without(NegotiateFlags::EXTENDED_SESSION_SECURITY)
        } else {
            NegotiateFlags::CLIENT_AUTHENTICATE
        };
        let client_config = ClientConfig {
            user: "alice", domain: "", workstation: "W", nt_hash: NtHash::from_password("pw"),
            uppercase: Uppercase::Unicode, flags, version: Version::default(), with_mic: seed % 2 == 0,
        };
        let random = ClientRandom { client_challenge: seed.to_le_bytes(), random_session_key: [seed as u8; 16], time: 0 };
        let out = client::authenticate(pending.challenge_bytes(), &client_config, &random).unwrap();
        let opaque = pending.opaque().to_string();
        let register = MessageFields { call_id: "r", cseq: "1 REGISTER", from: &from, ..Default::default() };
        let handshake = Credentials {
            scheme: "NTLM".into(), realm: Some(DEFAULT_REALM.into()), targetname: Some("fe.example.test".into()),
            opaque: Some(opaque.clone()), gssapi_data: GssapiData::Token(out.message.clone()), version: Some(4),
            qop: None, crand: None, cnum: None, response: None,
        };
        let mut sa = server.authenticate(pending, &handshake, &register, t0(), |_| Some(NtHash::from_password("pw"))).unwrap();

        let (from, to) = if status.is_some() { (to.as_str(), from.as_str()) } else { (from.as_str(), to.as_str()) };
        let msg = MessageFields { call_id: &call_id, cseq: &cseq, from, to, asserted_identity: pai.as_deref(), expires: expires.as_deref(), status };
        let auth = AuthFields { scheme: "NTLM", rand: &crand, num: "7", realm: DEFAULT_REALM, targetname: "fe.example.test" };
        let signed = Credentials {
            crand: Some(crand.clone()), cnum: Some("7".into()),
            response: Some(out.sign(4, &auth, &msg).to_hex()),
            gssapi_data: GssapiData::Absent, version: None, ..handshake
        };
        let other_call = format!("{call_id}x");
        let other = MessageFields { call_id: &other_call, ..msg };
        prop_assert_eq!(sa.verify(&signed, &other, t0()), Err(VerifyError::BadSignature));
        prop_assert_eq!(sa.verify(&signed, &msg, t0()), Ok(()));
        prop_assert_eq!(sa.verify(&signed, &msg, t0()), Err(VerifyError::Replayed(7)));

        let info = sa.sign(&msg, t0(), &mut rng).unwrap();
        let server_auth = AuthFields { scheme: "NTLM", rand: &info.srand, num: &info.snum, realm: &info.realm, targetname: &info.targetname };
        prop_assert!(out.verify_server(4, &server_auth, &msg, &info.rspauth));
        prop_assert!(!out.verify_server(4, &server_auth, &other, &info.rspauth));
    }
}
