//! Every test vector of the reference's section 12, plus the real messages they come from.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{b64, hex, hex16, sip, t0};
use sip_proto::Message;
use sipae::signature::{sign, verify};
use sipae::{
    Association, AssociationParams, AuthFields, AuthenticateMessage, ChallengeMessage, Credentials,
    DEFAULT_REALM, GssapiData, Identity, MessageFields, NegotiateFlags, NtHash, NtlmV2Response,
    Opaque, PendingChallenge, Server, ServerConfig, SessionKeys, Signature, TargetNames, Uppercase,
    VerifyError, Version, client, filetime, identity_uris, lmv2_response, nt_proof_str, ntowfv2,
    rc4_session_key, session_base_key, signature_buffer, verify_ntlmv2,
};

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn fields_of(message: &Message) -> MessageFields<'_> {
    match message {
        Message::Request(r) => MessageFields::of_request(r),
        Message::Response(r) => MessageFields::of_response(r),
    }
}

// ---------------------------------------------------------------------------------------
// 12.1 [MS-NLMP] 4.2.4 NTLMv2

const NLMP_TARGET_INFO: &str =
    "02000C0044006F006D00610069006E0001000C005300650072007600650072000000000000";
const NLMP_SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF];
const NLMP_FLAGS: NegotiateFlags = NegotiateFlags::from_bits(0xE28A_8233);

fn nlmp_blob() -> Vec<u8> {
    let mut blob = hex("0101000000000000");
    blob.extend_from_slice(&0u64.to_le_bytes());
    blob.extend_from_slice(&[0xAA; 8]);
    blob.extend_from_slice(&[0; 4]);
    blob.extend_from_slice(&hex(&NLMP_TARGET_INFO[..72]));
    blob.extend_from_slice(&[0; 4]);
    blob
}

#[test]
fn nlmp_ntlmv2_keys_and_responses() {
    let nt = NtHash::from_password("Password");
    assert_eq!(
        nt,
        NtHash::from_bytes(hex16("A4F49C406510BDCAB6824EE7C30FD852"))
    );
    let key = ntowfv2(&nt, "User", "Domain", Uppercase::Unicode);
    assert_eq!(key, hex16("0C868A403BFD7A93A3001EF22EF02E3F"));

    let proof = nt_proof_str(&key, &NLMP_SERVER_CHALLENGE, &nlmp_blob());
    assert_eq!(proof, hex16("68CD0AB851E51C96AABC927BEBEF6A1C"));
    let base = session_base_key(&key, &proof);
    assert_eq!(base, hex16("8DE40CCADBC14A82F15CB0AD0DE95CA3"));
    assert_eq!(
        lmv2_response(&key, &NLMP_SERVER_CHALLENGE, &[0xAA; 8]).to_vec(),
        hex("86C35097AC9CEC102554764A57CCCC19AAAAAAAAAAAAAAAA")
    );
    let random_session_key = [0x55; 16];
    let encrypted = rc4_session_key(&base, &random_session_key);
    assert_eq!(encrypted, hex16("C5DAD2544FC9799094CE1CE90BC9D03E"));
    assert_eq!(rc4_session_key(&base, &encrypted), random_session_key);

    let keys = SessionKeys::derive(&random_session_key, NLMP_FLAGS);
    assert_eq!(
        keys.client.signing,
        hex16("4788DC861B4782F35D43FD98FE1A2D39")
    );
    assert_eq!(
        keys.client.sealing,
        hex16("59F600973CC4960A25480A7C196E4C58")
    );
}

#[test]
fn nlmp_mac_with_and_without_the_datagram_rc4_step() {
    let keys = SessionKeys::derive(&[0x55; 16], NLMP_FLAGS);
    let plaintext = utf16("Plaintext");
    assert_eq!(plaintext, hex("50006C00610069006E007400650078007400"));
    let no_key_exch = NLMP_FLAGS.without(NegotiateFlags::KEY_EXCH);
    assert_eq!(
        sign(&keys.client, no_key_exch, 0, &plaintext, 0),
        Signature::from_hex("0100000070352851F256430900000000").unwrap()
    );
    let datagram = NLMP_FLAGS | NegotiateFlags::DATAGRAM;
    let sealed = sign(&keys.client, datagram, 0, &plaintext, 0);
    assert_eq!(
        sealed,
        Signature::from_hex("01000000E11BC13BF75B1D7500000000").unwrap()
    );
    assert!(verify(&keys.client, datagram, 0, &plaintext, &sealed));
}

/// The [MS-NLMP] 4.2.4 CHALLENGE and AUTHENTICATE messages themselves (as dumped in sipe's
/// tests): decoded, checked, re-encoded byte for byte.
#[test]
fn nlmp_messages_decode_verify_and_re_encode() {
    let challenge = hex(concat!(
        "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000",
        "060070170000000f530065007200760065007200",
        "02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000"
    ));
    let c = ChallengeMessage::decode(&challenge).unwrap();
    assert_eq!(c.flags, NLMP_FLAGS);
    assert_eq!(c.server_challenge, NLMP_SERVER_CHALLENGE);
    assert_eq!(c.target_name, "Server");
    assert_eq!(
        c.target_info.as_ref().unwrap().encode(),
        hex(&NLMP_TARGET_INFO[..72])
    );
    assert_eq!(
        c.version,
        Some(Version {
            major: 6,
            minor: 0,
            build: 6000,
            revision: 15
        })
    );
    assert_eq!(c.encode().unwrap(), challenge);

    let authenticate = hex(concat!(
        "4e544c4d5353500003000000180018006c00000054005400840000000c000c00480000000800080054000000",
        "100010005c00000010001000d8000000358288e20501280a0000000f",
        "44006f006d00610069006e00550073006500720043004f004d0050005500540045005200",
        "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa",
        "68cd0ab851e51c96aabc927bebef6a1c01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000",
        "02000c0044006f006d00610069006e0001000c005300650072007600650072000000000000000000",
        "c5dad2544fc9799094ce1ce90bc9d03e"
    ));
    let a = AuthenticateMessage::decode(&authenticate).unwrap();
    assert_eq!(
        (a.user.as_str(), a.domain.as_str(), a.workstation.as_str()),
        ("User", "Domain", "COMPUTER")
    );
    assert_eq!(a.flags.bits(), 0xE288_8235);
    assert_eq!(a.mic, None);
    assert_eq!(a.encode().unwrap(), authenticate);
    let r = NtlmV2Response::parse(&a.nt_response).unwrap();
    assert_eq!(r.client_challenge, [0xAA; 8]);
    assert_eq!(r.timestamp, 0);
    let base = verify_ntlmv2(
        &NtHash::from_password("Password"),
        &a,
        &NLMP_SERVER_CHALLENGE,
    )
    .unwrap();
    assert_eq!(base, hex16("8DE40CCADBC14A82F15CB0AD0DE95CA3"));
}

// ---------------------------------------------------------------------------------------
// 12.2 Office Communicator 2007 R2 <-> OCS 2007 R2

const OC_CHALLENGE: &str = "TlRMTVNTUAACAAAAAAAAADgAAADzgpji3Ruq9OfiGNEAAAAAAAAAAJYAlgA4AAAABQLODgAAAA8CAAoAQwBPAFMATQBPAAEAGABDAE8AUwBNAE8ALQBPAEMAUwAtAFIAMgAEABYAYwBvAHMAbQBvAC4AbABvAGMAYQBsAAMAMABjAG8AcwBtAG8ALQBvAGMAcwAtAHIAMgAuAGMAbwBzAG0AbwAuAGwAbwBjAGEAbAAFABYAYwBvAHMAbQBvAC4AbABvAGMAYQBsAAAAAAA=";
const OC_AUTHENTICATE: &str = "TlRMTVNTUAADAAAAGAAYAHIAAADGAMYAigAAAAoACgBIAAAACAAIAFIAAAAYABgAWgAAABAAEABQAQAAVYKYYgUCzg4AAAAPQwBPAFMATQBPAFUAcwBlAHIAQwBPAFMATQBPAC0ATwBDAFMALQBSADIAoeku/k4Hi/fFwASazGFmwtauh1yw/apBjcDIAK527KYG0rn769BHMQEBAAAAAAAAWVGaFye5ygHWrodcsP2qQQAAAAACAAoAQwBPAFMATQBPAAEAGABDAE8AUwBNAE8ALQBPAEMAUwAtAFIAMgAEABYAYwBvAHMAbQBvAC4AbABvAGMAYQBsAAMAMABjAG8AcwBtAG8ALQBvAGMAcwAtAHIAMgAuAGMAbwBzAG0AbwAuAGwAbwBjAGEAbAAFABYAYwBvAHMAbQBvAC4AbABvAGMAYQBsAAAAAAAAAAAAMctznhyoCkmFkeiueXEV5A==";
const OC_TARGET: &str = "cosmo-ocs-r2.cosmo.local";

fn oc_register() -> Message {
    sip(&format!(
        concat!(
            "REGISTER sip:cosmo.local SIP/2.0\r\n",
            "Via: SIP/2.0/TLS 192.168.172.6:12723\r\n",
            "Max-Forwards: 70\r\n",
            "From: <sip:user@cosmo.local>;tag=3e49177a52;epid=c8ca638a15\r\n",
            "To: <sip:user@cosmo.local>\r\n",
            "Call-ID: 4037df9284354df39065195bd57a4b14\r\n",
            "CSeq: 3 REGISTER\r\n",
            "Contact: <sip:192.168.172.6:12723;transport=tls;ms-opaque=fad3dfab32>;methods=\"INVITE, MESSAGE, INFO, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, BENOTIFY\";proxy=replace;+sip.instance=\"<urn:uuid:34D859DB-6585-5F91-A3B4-DE853C15347D>\"\r\n",
            "User-Agent: UCCAPI/3.5.6907.0 OC/3.5.6907.0 (Microsoft Office Communicator 2007 R2)\r\n",
            "Event: registration\r\n",
            "Proxy-Authorization: NTLM qop=\"auth\", realm=\"SIP Communications Service\", opaque=\"2BDBAC9D\", targetname=\"cosmo-ocs-r2.cosmo.local\", version=4, gssapi-data=\"{}\", crand=\"13317733\", cnum=\"1\", response=\"0100000029618e9651b65a7764000000\"\r\n",
            "Content-Length: 0\r\n",
            "\r\n"
        ),
        OC_AUTHENTICATE
    ))
}

fn oc_200_ok() -> Message {
    sip(concat!(
        "SIP/2.0 200 OK\r\n",
        "Authentication-Info: NTLM rspauth=\"01000000E615438A917661BE64000000\", srand=\"9616454F\", snum=\"1\", opaque=\"2BDBAC9D\", qop=\"auth\", targetname=\"cosmo-ocs-r2.cosmo.local\", realm=\"SIP Communications Service\"\r\n",
        "From: \"User\"<sip:user@cosmo.local>;tag=3e49177a52;epid=c8ca638a15\r\n",
        "To: <sip:user@cosmo.local>;tag=5E61CCD925D17E043D9A74835A88F664\r\n",
        "Call-ID: 4037df9284354df39065195bd57a4b14\r\n",
        "CSeq: 3 REGISTER\r\n",
        "Via: SIP/2.0/TLS 192.168.172.6:12723;ms-received-port=12723;ms-received-cid=2600\r\n",
        "Expires: 7200\r\n",
        "Server: RTC/3.5\r\n",
        "Content-Length: 0\r\n",
        "\r\n"
    ))
}

fn oc_server() -> Server {
    let mut config = ServerConfig::new(OC_TARGET, "cosmo.local");
    config.target_names = TargetNames::from_dns(OC_TARGET, "cosmo.local");
    Server::new(config).unwrap()
}

/// The OCS 2007 R2 server never sent a timestamp; the OC blob is from 2010-03-01.
fn oc_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_267_438_088)
}

#[test]
fn oc_messages_decode_and_re_encode() {
    let challenge = b64(OC_CHALLENGE);
    let c = ChallengeMessage::decode(&challenge).unwrap();
    assert_eq!(c.flags, NegotiateFlags::SERVER_CHALLENGE);
    assert_eq!(c.server_challenge.to_vec(), hex("DD1BAAF4E7E218D1"));
    assert_eq!(c.target_name, "");
    assert_eq!(
        c.version,
        Some(Version {
            major: 5,
            minor: 2,
            build: 3790,
            revision: 15
        })
    );
    assert_eq!(c.encode().unwrap(), challenge);

    let authenticate = b64(OC_AUTHENTICATE);
    let a = AuthenticateMessage::decode(&authenticate).unwrap();
    assert_eq!(a.flags, NegotiateFlags::CLIENT_AUTHENTICATE);
    assert_eq!(
        (a.user.as_str(), a.domain.as_str(), a.workstation.as_str()),
        ("User", "COSMO", "COSMO-OCS-R2")
    );
    assert_eq!(
        a.lm_response,
        hex("A1E92EFE4E078BF7C5C0049ACC6166C2D6AE875CB0FDAA41")
    );
    assert_eq!(a.encode().unwrap(), authenticate);
    let r = NtlmV2Response::parse(&a.nt_response).unwrap();
    assert_eq!(r.nt_proof, hex16("8DC0C800AE76ECA606D2B9FBEBD04731"));
    assert_eq!(r.timestamp.to_le_bytes().to_vec(), hex("59519A1727B9CA01"));
    assert_eq!(r.client_challenge.to_vec(), hex("D6AE875CB0FDAA41"));
}

#[test]
fn oc_keys_from_the_nt_hash() {
    let nt = NtHash::from_password("Pa$$word");
    assert_eq!(
        nt,
        NtHash::from_hex("1A4B1757588CAB6298E29E91C06DF58D").unwrap()
    );
    let a = AuthenticateMessage::decode(&b64(OC_AUTHENTICATE)).unwrap();
    let server_challenge = ChallengeMessage::decode(&b64(OC_CHALLENGE))
        .unwrap()
        .server_challenge;
    let base = verify_ntlmv2(&nt, &a, &server_challenge).unwrap();
    let exported = rc4_session_key(
        &base,
        &a.encrypted_random_session_key.clone().try_into().unwrap(),
    );
    assert_eq!(exported, hex16("6742FBE37BB1946B49D86A525BD29A9B"));
    let keys = SessionKeys::derive(&exported, a.flags);
    assert_eq!(
        keys.client.signing,
        hex16("EA5E87C195AE65338F7C023E7600690D")
    );
    assert_eq!(
        keys.client.sealing,
        hex16("83013A189002D3ABAD49C4C8F605ECC8")
    );
    assert_eq!(
        keys.server.signing,
        hex16("0151FE94DBA8C83F3C6A6E5444AE54B4")
    );
    assert_eq!(
        keys.server.sealing,
        hex16("2A2E34E8D420C039E8F31CB9E8E0CD88")
    );
}

/// The whole server path on the real exchange: the REGISTER carrying the AUTHENTICATE and
/// its version-4 signature is accepted, and the 200 OK signed by this crate carries OCS's
/// own `rspauth`.
#[test]
fn oc_exchange_through_the_server() {
    let server = oc_server();
    let register = oc_register();
    let Message::Request(req) = &register else {
        panic!()
    };
    let fields = MessageFields::of_request(req);
    assert_eq!(
        signature_buffer(
            4,
            &AuthFields {
                scheme: "NTLM",
                rand: "13317733",
                num: "1",
                realm: DEFAULT_REALM,
                targetname: OC_TARGET
            },
            &fields
        ),
        "<NTLM><13317733><1><SIP Communications Service><cosmo-ocs-r2.cosmo.local><4037df9284354df39065195bd57a4b14><3><REGISTER><sip:user@cosmo.local><3e49177a52><sip:user@cosmo.local><><><><>"
    );
    let creds = server
        .find_credentials(req.headers.get_all("Proxy-Authorization"))
        .unwrap();
    let pending = PendingChallenge::from_parts(
        Opaque::new(0x2BDB_AC9D),
        b64(OC_CHALLENGE),
        oc_time() + Duration::from_secs(60),
    )
    .unwrap();
    let mut lookups = Vec::new();
    let mut sa = server
        .authenticate(pending, &creds, &fields, oc_time(), |id| {
            lookups.push(id.clone());
            Some(NtHash::from_password("Pa$$word"))
        })
        .unwrap();
    assert_eq!(
        lookups,
        [Identity {
            user: "User".into(),
            domain: "COSMO".into(),
            workstation: "COSMO-OCS-R2".into()
        }]
    );
    assert_eq!(sa.aor(), "sip:user@cosmo.local");
    assert_eq!(sa.expires_at(), oc_time() + Duration::from_secs(8 * 3600));
    assert_eq!(
        sa.verify(&creds, &fields, oc_time()),
        Err(VerifyError::Replayed(1))
    );

    let ok = oc_200_ok();
    let info = sa
        .sign_with(&fields_of(&ok), oc_time(), 0x9616_454F, 0)
        .unwrap();
    assert_eq!(
        info.rspauth,
        Signature::from_hex("01000000E615438A917661BE64000000").unwrap()
    );
    assert_eq!(
        (
            info.srand.as_str(),
            info.snum.as_str(),
            info.opaque.as_str()
        ),
        ("9616454F", "1", "2BDBAC9D")
    );
    assert_eq!(
        info.to_header_value(),
        r#"NTLM qop="auth", opaque="2BDBAC9D", srand="9616454F", snum="1", rspauth="01000000E615438A917661BE64000000", targetname="cosmo-ocs-r2.cosmo.local", realm="SIP Communications Service", version=4"#
    );
}

#[test]
fn oc_buffers_and_signatures_directly() {
    let keys = SessionKeys::derive(
        &hex16("6742FBE37BB1946B49D86A525BD29A9B"),
        NegotiateFlags::CLIENT_AUTHENTICATE,
    );
    let flags = NegotiateFlags::CLIENT_AUTHENTICATE;
    let ok = oc_200_ok();
    let buffer = signature_buffer(
        4,
        &AuthFields {
            scheme: "NTLM",
            rand: "9616454F",
            num: "1",
            realm: DEFAULT_REALM,
            targetname: OC_TARGET,
        },
        &fields_of(&ok),
    );
    assert_eq!(
        buffer,
        "<NTLM><9616454F><1><SIP Communications Service><cosmo-ocs-r2.cosmo.local><4037df9284354df39065195bd57a4b14><3><REGISTER><sip:user@cosmo.local><3e49177a52><sip:user@cosmo.local><5E61CCD925D17E043D9A74835A88F664><><><7200><200>"
    );
    let rspauth = Signature::from_hex("01000000E615438A917661BE64000000").unwrap();
    assert!(verify(
        &keys.server,
        flags,
        100,
        buffer.as_bytes(),
        &rspauth
    ));
    assert!(
        !verify(&keys.client, flags, 100, buffer.as_bytes(), &rspauth),
        "direction matters"
    );
}

/// This crate's client, given the same inputs as Office Communicator 2007 R2, writes the
/// same AUTHENTICATE byte for byte.
#[test]
fn client_reproduces_the_oc_authenticate() {
    let config = client::ClientConfig {
        user: "User",
        domain: "COSMO",
        workstation: "COSMO-OCS-R2",
        nt_hash: NtHash::from_password("Pa$$word"),
        uppercase: Uppercase::Unicode,
        flags: NegotiateFlags::CLIENT_AUTHENTICATE,
        version: Version {
            major: 5,
            minor: 2,
            build: 3790,
            revision: 15,
        },
        with_mic: false,
    };
    let random = client::ClientRandom {
        client_challenge: hex("D6AE875CB0FDAA41").try_into().unwrap(),
        random_session_key: hex16("6742FBE37BB1946B49D86A525BD29A9B"),
        time: u64::from_le_bytes(hex("59519A1727B9CA01").try_into().unwrap()),
    };
    let out = client::authenticate(&b64(OC_CHALLENGE), &config, &random).unwrap();
    assert_eq!(out.message, b64(OC_AUTHENTICATE));
}

// ---------------------------------------------------------------------------------------
// 12.3 OCS 2007, legacy signature (no extended session security, version 2)

const LEGACY_BUFFER: &str = "<NTLM><0878F41B><1><SIP Communications Service><ocs1.ocs.provo.novell.com><8592g5DCBa1694i5887m0D0Bt2247b3F38xAE9Fx><3><REGISTER><sip:gabriel@ocs.provo.novell.com><2947328781><B816D65C2300A32CFA6D371F2AF537FD><900><200>";

fn legacy_flags() -> NegotiateFlags {
    NegotiateFlags::CLIENT_AUTHENTICATE.without(NegotiateFlags::EXTENDED_SESSION_SECURITY)
}

#[test]
fn legacy_signature() {
    let keys = SessionKeys::derive(&hex16("5F029153BC025058969548615E7099BA"), legacy_flags());
    let expected = Signature::from_hex("0100000000000000BF2E52667DDF6DED").unwrap();
    assert_eq!(
        sign(
            &keys.server,
            legacy_flags(),
            100,
            LEGACY_BUFFER.as_bytes(),
            0
        ),
        expected
    );
    assert!(verify(
        &keys.server,
        legacy_flags(),
        100,
        LEGACY_BUFFER.as_bytes(),
        &expected
    ));
    assert!(!verify(
        &keys.server,
        legacy_flags(),
        100,
        &LEGACY_BUFFER.as_bytes()[1..],
        &expected
    ));
}

#[test]
fn legacy_version_2_through_an_association() {
    let ok = sip(concat!(
        "SIP/2.0 200 OK\r\n",
        "Authentication-Info: NTLM rspauth=\"0100000000000000BF2E52667DDF6DED\", srand=\"0878F41B\", snum=\"1\", opaque=\"4452DFB0\", qop=\"auth\", targetname=\"ocs1.ocs.provo.novell.com\", realm=\"SIP Communications Service\"\r\n",
        "From: \"Gabriel Burt\"<sip:gabriel@ocs.provo.novell.com>;tag=2947328781;epid=1234567890\r\n",
        "To: <sip:gabriel@ocs.provo.novell.com>;tag=B816D65C2300A32CFA6D371F2AF537FD\r\n",
        "Call-ID: 8592g5DCBa1694i5887m0D0Bt2247b3F38xAE9Fx\r\n",
        "CSeq: 3 REGISTER\r\n",
        "Via: SIP/2.0/TLS 164.99.194.49:10409;branch=z9hG4bKE0E37DBAF252C3255BAD;received=164.99.195.20;ms-received-port=10409;ms-received-cid=1E00\r\n",
        "Contact: <sip:164.99.195.20:10409;transport=tls;ms-received-cid=1E00>;expires=900\r\n",
        "Expires: 900\r\n",
        "Server: RTC/3.0\r\n",
        "Content-Length: 0\r\n",
        "\r\n"
    ));
    let fields = fields_of(&ok);
    let auth = AuthFields {
        scheme: "NTLM",
        rand: "0878F41B",
        num: "1",
        realm: DEFAULT_REALM,
        targetname: "ocs1.ocs.provo.novell.com",
    };
    assert_eq!(signature_buffer(2, &auth, &fields), LEGACY_BUFFER);

    let mut sa = Association::new(
        AssociationParams {
            opaque: Opaque::new(0x4452_DFB0),
            version: 2,
            flags: legacy_flags(),
            identity: Identity {
                user: "gabriel".into(),
                domain: String::new(),
                workstation: String::new(),
            },
            aor: "sip:gabriel@ocs.provo.novell.com".into(),
            realm: DEFAULT_REALM.into(),
            targetname: "ocs1.ocs.provo.novell.com".into(),
            established_at: t0(),
            lifetime: Duration::from_secs(3600),
        },
        SessionKeys::derive(&hex16("5F029153BC025058969548615E7099BA"), legacy_flags()),
    );
    let info = sa.sign_with(&fields, t0(), 0x0878_F41B, 0).unwrap();
    assert_eq!(
        info.rspauth,
        Signature::from_hex("0100000000000000BF2E52667DDF6DED").unwrap()
    );
    assert_eq!(
        info.version, None,
        "a version-2 association writes no version parameter"
    );
    assert_eq!(
        info.to_header_value(),
        r#"NTLM qop="auth", opaque="4452DFB0", srand="0878F41B", snum="1", rspauth="0100000000000000BF2E52667DDF6DED", targetname="ocs1.ocs.provo.novell.com", realm="SIP Communications Service""#
    );
}

// ---------------------------------------------------------------------------------------
// 12.4 Buffer construction (sipe's tests: a real 180 Ringing relayed by OCS 2007 R2)

#[test]
fn buffer_of_the_relayed_180_with_pai() {
    let ringing = sip(concat!(
        "SIP/2.0 180 Ringing\r\n",
        "Authentication-Info: NTLM rspauth=\"010000003EA8D688BA51D5CD64000000\", srand=\"1B6D47A1\", snum=\"11\", opaque=\"357E6F72\", qop=\"auth\", targetname=\"LOC-COMPANYT-FE03.COMPANY.COM\", realm=\"SIP Communications Service\"\r\n",
        "Via: SIP/2.0/tls 192.168.44.10:50230;received=10.117.245.254;ms-received-port=50230;ms-received-cid=37ABE00\r\n",
        "FROM: \"Sender\"<sip:sender@company.com>;tag=2420628112;epid=54392f1bbf01\r\n",
        "TO: \"recipient\"<sip:recipient@company.com>;tag=7aee15546a;epid=3102EB8BD1\r\n",
        "CSEQ: 1 INVITE\r\n",
        "CALL-ID: 41CEg82ECa0AC8i3DD7mE673t9CF4b19DAxF780x\r\n",
        "CONTACT: <sip:recipient@company.com;opaque=user:epid:-gLwenLTVVqy-Ak8TJn1ZAAA;gruu>;text;audio;video\r\n",
        "CONTENT-LENGTH: 0\r\n",
        "SUPPORTED: gruu-10\r\n",
        "ALLOW: UPDATE\r\n",
        "P-ASSERTED-IDENTITY: \"recipient\"<SIP:recipient@company.com>\r\n",
        "SERVER: RTCC/3.5.0.0 MCXService/3.5.0.0 communicator.NOKIAS60R2.JVP.EN_US/1.0.6875.0\r\n",
        "\r\n"
    ));
    let info =
        sipae::AuthenticationInfo::parse(ringing.headers().get("Authentication-Info").unwrap())
            .unwrap();
    let auth = AuthFields {
        scheme: "NTLM",
        rand: &info.srand,
        num: &info.snum,
        realm: &info.realm,
        targetname: &info.targetname,
    };
    assert_eq!(
        signature_buffer(4, &auth, &fields_of(&ringing)),
        "<NTLM><1B6D47A1><11><SIP Communications Service><LOC-COMPANYT-FE03.COMPANY.COM><41CEg82ECa0AC8i3DD7mE673t9CF4b19DAxF780x><1><INVITE><sip:sender@company.com><2420628112><sip:recipient@company.com><7aee15546a><SIP:recipient@company.com><><><180>"
    );
    assert_eq!(
        signature_buffer(3, &auth, &fields_of(&ringing)),
        signature_buffer(4, &auth, &fields_of(&ringing))
    );
}

#[test]
fn buffer_with_bare_from_and_to() {
    let ringing = sip(concat!(
        "SIP/2.0 180 Ringing\r\n",
        "Via: SIP/2.0/tls 192.168.44.10:50230\r\n",
        "From: sip:sender@company.com;tag=2420628112;epid=54392f1bbf01\r\n",
        "To: sip:recipient@company.com;tag=7aee15546a;epid=3102EB8BD1\r\n",
        "CSeq: 1 INVITE\r\n",
        "Call-ID: 41CEg82ECa0AC8i3DD7mE673t9CF4b19DAxF780x\r\n",
        "Content-Length: 0\r\n",
        "P-Asserted-Identity: <SIP:recipient@company.com>\r\n",
        "\r\n"
    ));
    let auth = AuthFields {
        scheme: "NTLM",
        rand: "1B6D47A1",
        num: "11",
        realm: "foo",
        targetname: "bar",
    };
    assert_eq!(
        signature_buffer(4, &auth, &fields_of(&ringing)),
        "<NTLM><1B6D47A1><11><foo><bar><41CEg82ECa0AC8i3DD7mE673t9CF4b19DAxF780x><1><INVITE><sip:sender@company.com><2420628112><sip:recipient@company.com><7aee15546a><SIP:recipient@company.com><><><180>"
    );
}

#[test]
fn p_asserted_identity_cases() {
    assert_eq!(
        identity_uris(r#""Cullen Jennings" <sip:fluffy@cisco.com>"#),
        ("sip:fluffy@cisco.com", "")
    );
    assert_eq!(identity_uris("tel:+14085264000"), ("", "tel:+14085264000"));
    assert_eq!(
        identity_uris(r#""Lunch, Lucas" <sip:llucas@cisco.com>,<tel:+420123456;ext=88463>"#),
        ("sip:llucas@cisco.com", "tel:+420123456;ext=88463")
    );
}

#[test]
fn p_preferred_identity_stands_in_for_a_missing_pai() {
    let invite = sip(concat!(
        "INVITE sip:bob@example.test SIP/2.0\r\n",
        "Via: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1\r\n",
        "Max-Forwards: 70\r\n",
        "From: <sip:alice@example.test>;tag=a\r\n",
        "To: <sip:bob@example.test>\r\n",
        "Call-ID: c\r\n",
        "CSeq: 1 INVITE\r\n",
        "P-Preferred-Identity: <sip:alice@example.test>, <tel:+1555>\r\n",
        "Content-Length: 0\r\n",
        "\r\n"
    ));
    let auth = AuthFields {
        scheme: "NTLM",
        rand: "r",
        num: "1",
        realm: "x",
        targetname: "y",
    };
    assert_eq!(
        signature_buffer(4, &auth, &fields_of(&invite)),
        "<NTLM><r><1><x><y><c><1><INVITE><sip:alice@example.test><a><sip:bob@example.test><><sip:alice@example.test><tel:+1555><>"
    );
}

// ---------------------------------------------------------------------------------------
// 12.5 Lync 2013 CHALLENGE

const LYNC_CHALLENGE_HEADER: &str = r#"NTLM opaque="78D29AC8", gssapi-data="TlRMTVNTUAACAAAAAAAAADgAAADzgpjiyggGf8bkagEAAAAAAAAAAJoAmgA4AAAABgGxHQAAAA8CAAgATABZAE4AQwABAB4ATABZAE4AQwAyADAAMQAzAC0AUwBFAFIAVgBFAFIABAAQAGwAeQBuAGMALgBsAG8AYwADADAATABZAE4AQwAyADAAMQAzAC0AUwBFAFIAVgBFAFIALgBsAHkAbgBjAC4AbABvAGMABQAQAGwAeQBuAGMALgBsAG8AYwAHAAgA3Uju/zZR0gEAAAAA", targetname="LYNC2013-SERVER.lync.loc", realm="SIP Communications Service", version=4"#;

fn lync_challenge_bytes() -> Vec<u8> {
    let c = Credentials::parse(LYNC_CHALLENGE_HEADER).unwrap();
    assert_eq!(c.opaque.as_deref(), Some("78D29AC8"));
    assert_eq!(c.version, Some(4));
    let GssapiData::Token(token) = c.gssapi_data else {
        panic!("no token")
    };
    token
}

#[test]
fn lync_challenge_decodes_and_re_encodes() {
    let bytes = lync_challenge_bytes();
    let c = ChallengeMessage::decode(&bytes).unwrap();
    assert_eq!(c.flags.bits(), 0xE298_82F3);
    assert_eq!(c.server_challenge.to_vec(), hex("CA08067FC6E46A01"));
    assert_eq!(c.target_name, "");
    assert_eq!(c.version, Some(Version::WINDOWS_7_SP1));
    let info = c.target_info.as_ref().unwrap();
    let names: Vec<(u16, String)> = info
        .iter()
        .filter(|p| p.id != sipae::AvPairs::TIMESTAMP)
        .map(|p| {
            (
                p.id,
                String::from_utf16(
                    &p.value
                        .chunks(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect::<Vec<_>>(),
                )
                .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (2, "LYNC".to_owned()),
            (1, "LYNC2013-SERVER".to_owned()),
            (4, "lync.loc".to_owned()),
            (3, "LYNC2013-SERVER.lync.loc".to_owned()),
            (5, "lync.loc".to_owned()),
        ]
    );
    assert_eq!(
        info.timestamp().unwrap().to_le_bytes().to_vec(),
        hex("DD48EEFF3651D201")
    );
    assert_eq!(c.encode().unwrap(), bytes);
}

fn from_filetime(ft: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos((ft - 116_444_736_000_000_000) * 100)
}

/// Given Lync's names and clock, this server's CHALLENGE is Lync's, byte for byte, but for
/// the random ServerChallenge.
#[test]
fn server_builds_lyncs_challenge() {
    let lync = lync_challenge_bytes();
    let timestamp = ChallengeMessage::decode(&lync)
        .unwrap()
        .target_info
        .unwrap()
        .timestamp()
        .unwrap();
    let now = from_filetime(timestamp);
    assert_eq!(filetime(now), timestamp);

    let mut config = ServerConfig::new("LYNC2013-SERVER.lync.loc", "lync.loc");
    config.target_names.nb_domain = "LYNC".into();
    let server = Server::new(config).unwrap();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5);
    let (pending, header) = server.challenge(&mut rng, now);
    let mut ours = pending.challenge_bytes().to_vec();
    ours[24..32].copy_from_slice(&lync[24..32]);
    assert_eq!(ours, lync);
    assert!(header.starts_with(&format!(
        r#"NTLM opaque="{}", gssapi-data=""#,
        pending.opaque()
    )));
    assert!(header.ends_with(
        r#"targetname="LYNC2013-SERVER.lync.loc", realm="SIP Communications Service", version=4"#
    ));
}

// ---------------------------------------------------------------------------------------
// 12.6 End-to-end against pidgin-sipe 1.25.0

const SIPE_CHALLENGE: &str = "TlRMTVNTUAACAAAAAAAAADgAAADzgpjiqusjtMKggIgAAAAAAAAAAHwAfAA4AAAABgGxHQAAAA8CAA4ARQBYAEEATQBQAEwARQABAAgAUwBSAFYAMQAEABgAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQAAwASAGwAbwBjAGEAbABoAG8AcwB0AAUAGABlAHgAYQBtAHAAbABlAC4AdABlAHMAdAAHAAgAgH14EFZ73QEAAAAA";
const SIPE_AUTHENTICATE: &str = "TlRMTVNTUAADAAAAGAAYAHAAAACsAKwAiAAAAAAAAABIAAAAJAAkAEgAAAAEAAQAbAAAABAAEAA0AQAAVYKYYgUBKAoAAAAPYQBsAGkAYwBlAEAAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQAVgBNAKM09TbUnoqTevivCD1OvzkiL2apmKcF/dA3Dv6F5ph/RPWOG9bACG8BAQAAAAAAAIB9eBBWe90BIi9mqZinBf0AAAAAAgAOAEUAWABBAE0AUABMAEUAAQAIAFMAUgBWADEABAAYAGUAeABhAG0AcABsAGUALgB0AGUAcwB0AAMAEgBsAG8AYwBhAGwAaABvAHMAdAAFABgAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQABwAIAIB9eBBWe90BAAAAAAAAAAAIJEag7aEXN1LjTxEYEGic";

fn sipe_server() -> Server {
    let mut config = ServerConfig::new("localhost", "example.test");
    config.target_names.nb_computer = "SRV1".into();
    Server::new(config).unwrap()
}

fn sipe_time() -> SystemTime {
    let c = ChallengeMessage::decode(&b64(SIPE_CHALLENGE)).unwrap();
    from_filetime(c.target_info.unwrap().timestamp().unwrap())
}

#[test]
fn sipe_messages_and_keys() {
    let challenge = b64(SIPE_CHALLENGE);
    assert_eq!(
        ChallengeMessage::decode(&challenge)
            .unwrap()
            .encode()
            .unwrap(),
        challenge
    );
    let authenticate = b64(SIPE_AUTHENTICATE);
    let a = AuthenticateMessage::decode(&authenticate).unwrap();
    assert_eq!(a.encode().unwrap(), authenticate);
    assert_eq!(
        (a.user.as_str(), a.domain.as_str(), a.workstation.as_str()),
        ("alice@example.test", "", "VM")
    );
    assert_eq!(a.flags.bits(), 0x6298_8255);
    assert_eq!(
        a.encrypted_random_session_key,
        hex("082446A0EDA1173752E34F111810689C")
    );

    let nt = NtHash::from_password("secret");
    assert_eq!(
        nt,
        NtHash::from_hex("878D8014606CDA29677A44EFA1353FC7").unwrap()
    );
    let key = ntowfv2(&nt, &a.user, &a.domain, Uppercase::Ascii);
    assert_eq!(key, hex16("E92D7721A3836F6D2C0128C5A6BB5E5C"));
    let r = NtlmV2Response::parse(&a.nt_response).unwrap();
    assert_eq!(r.nt_proof, hex16("D0370EFE85E6987F44F58E1BD6C0086F"));
    let server_challenge = ChallengeMessage::decode(&challenge)
        .unwrap()
        .server_challenge;
    let base = verify_ntlmv2(&nt, &a, &server_challenge).unwrap();
    assert_eq!(base, hex16("81E2A35BC53F03877794F90ECFA57C0B"));
    let exported = rc4_session_key(&base, &hex16("082446A0EDA1173752E34F111810689C"));
    assert_eq!(exported, hex16("239D6072A19B68A5179AF94D0A0E86D8"));
    let keys = SessionKeys::derive(&exported, a.flags);
    assert_eq!(
        keys.client.signing,
        hex16("09EBAF465E15EC8950A2823B281C4444")
    );
    assert_eq!(
        keys.client.sealing,
        hex16("A2359AE36EE3660F5EEEDE6092625BC4")
    );
    assert_eq!(
        keys.server.signing,
        hex16("CA5B31B4FC6113AFE8D3F21731561763")
    );
    assert_eq!(
        keys.server.sealing,
        hex16("EA526B2648455AF1748E03E86BFCEE11")
    );
}

/// The CHALLENGE of the live run came from the scratch server; this server, with the same
/// names and clock, builds the same bytes but for the ServerChallenge.
#[test]
fn server_builds_the_sipe_run_challenge() {
    let recorded = b64(SIPE_CHALLENGE);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(6);
    let (pending, _) = sipe_server().challenge(&mut rng, sipe_time());
    let mut ours = pending.challenge_bytes().to_vec();
    ours[24..32].copy_from_slice(&recorded[24..32]);
    assert_eq!(ours, recorded);
}

fn fields<'a>(
    call_id: &'a str,
    cseq: &'a str,
    from: &'a str,
    to: &'a str,
    expires: Option<&'a str>,
    status: Option<u16>,
) -> MessageFields<'a> {
    MessageFields {
        call_id,
        cseq,
        from,
        to,
        asserted_identity: None,
        expires,
        status,
    }
}

/// The live run replayed through the server: handshake with the v4 signature, the signed
/// 200 OKs, the server-originated INFO, and sipe's signed 200 OK to it.
#[test]
fn sipe_run_through_the_server() {
    let server = sipe_server();
    let now = sipe_time();
    let register_auth = format!(
        r#"NTLM qop="auth", opaque="D063CAA2", realm="SIP Communications Service", targetname="localhost", gssapi-data="{SIPE_AUTHENTICATE}", version=4, crand="5558370d", cnum="1", response="010000009B5EA7B932DD636D64000000""#
    );
    let creds = server.find_credentials([register_auth.as_str()]).unwrap();
    let call = "8A50g9F5EaDC02i24C0mD03EtDCBBb804Fx533Bx";
    let register = fields(
        call,
        "3 REGISTER",
        "<sip:alice@example.test>;tag=3718437156;epid=1f4ad27e84",
        "<sip:alice@example.test>",
        None,
        None,
    );
    let pending = PendingChallenge::from_parts(
        Opaque::new(0xD063_CAA2),
        b64(SIPE_CHALLENGE),
        now + Duration::from_secs(60),
    )
    .unwrap();
    let mut sa = server
        .authenticate(pending, &creds, &register, now, |_| {
            Some(NtHash::from_password("secret"))
        })
        .unwrap();
    assert_eq!(sa.identity().user, "alice@example.test");

    let ok = fields(
        call,
        "3 REGISTER",
        "<sip:alice@example.test>;tag=3718437156;epid=1f4ad27e84",
        "<sip:alice@example.test>;tag=fcffdc796a",
        Some("3600"),
        Some(200),
    );
    let info = sa.sign_with(&ok, now, 0xD36B_AB01, 0).unwrap();
    assert_eq!(info.rspauth.to_hex(), "010000005BFC98F216CD444864000000");
    assert_eq!(info.snum, "1");

    let sub_call = "C0F6gD399a39A7iD1D3m4259tA883bADC9xA873x";
    let sub_ok = fields(
        sub_call,
        "1 SUBSCRIBE",
        "<sip:alice@example.test>;tag=313400164",
        "<sip:alice@example.test>;tag=39dd7ada29",
        Some("0"),
        Some(200),
    );
    let info = sa.sign_with(&sub_ok, now, 0xD30B_9387, 0).unwrap();
    assert_eq!(
        (info.snum.as_str(), info.rspauth.to_hex().as_str()),
        ("2", "01000000294F140E7F81AF0064000000")
    );

    for _ in 3..5 {
        sa.sign_with(&sub_ok, now, 0, 0).unwrap();
    }
    let info_call = "897Fg0388a19A4i8068m72E3t5C3CbDACCx2342x";
    let info_req = fields(
        info_call,
        "1 INFO",
        "<sip:ocschat@example.test>;tag=bc480493e0",
        "<sip:alice@example.test>;tag=2189059198;epid=1f4ad27e84",
        None,
        None,
    );
    let info = sa.sign_with(&info_req, now, 0x51F7_386E, 0).unwrap();
    assert_eq!(
        (info.snum.as_str(), info.rspauth.to_hex().as_str()),
        ("5", "01000000996F986057EE548664000000")
    );

    let reply = fields(
        info_call,
        "1 INFO",
        "<sip:ocschat@example.test>;tag=bc480493e0",
        "<sip:alice@example.test>;tag=2189059198;epid=1f4ad27e84",
        None,
        Some(200),
    );
    let reply_auth = Credentials::parse(
        r#"NTLM qop="auth", opaque="D063CAA2", realm="SIP Communications Service", targetname="localhost", crand="1c55e6fe", cnum="6", response="01000000F81323A192A034DB64000000""#,
    )
    .unwrap();
    assert_eq!(sa.verify(&reply_auth, &reply, now), Ok(()));
    assert_eq!(
        sa.verify(&reply_auth, &reply, now),
        Err(VerifyError::Replayed(6))
    );
}
