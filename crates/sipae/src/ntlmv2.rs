//! NTLMv2 ([MS-NLMP] 3.3.2): NTOWFv2, the client's NTLMv2 response, its check against a
//! stored NT hash, and the session keys that follow from it.

use std::fmt;

use crate::av_pairs::AvPairs;
use crate::crypto::{ct_eq, hmac_md5, md4, rc4};
use crate::messages::{AuthenticateMessage, MessageError};
use crate::text::{from_hex, utf16le};

/// MD4 of the UTF-16LE password: the password-equivalent secret the server stores.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NtHash([u8; 16]);

impl NtHash {
    pub fn from_password(password: &str) -> NtHash {
        NtHash(md4(&utf16le(password)))
    }

    pub const fn from_bytes(bytes: [u8; 16]) -> NtHash {
        NtHash(bytes)
    }

    /// Parses 32 hex digits of either case.
    pub fn from_hex(hex: &str) -> Option<NtHash> {
        from_hex(hex).map(NtHash)
    }

    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for NtHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NtHash(..)")
    }
}

/// How the user name is upper-cased for NTOWFv2. Windows maps every character; sipe only
/// ASCII letters, so both are tried for names with non-ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uppercase {
    Unicode,
    Ascii,
}

impl Uppercase {
    fn apply(self, s: &str) -> String {
        match self {
            Uppercase::Ascii => s.to_ascii_uppercase(),
            // One-to-one mapping like Windows' RtlUpcaseUnicodeChar: a character whose
            // upper case is several characters (ß → SS) stays as it is.
            Uppercase::Unicode => s
                .chars()
                .map(|c| {
                    let mut up = c.to_uppercase();
                    match (up.next(), up.next()) {
                        (Some(u), None) => u,
                        _ => c,
                    }
                })
                .collect(),
        }
    }
}

/// NTOWFv2 = ResponseKeyNT: `HMAC-MD5(NT hash, UTF-16LE(Upper(user) ‖ domain))`, with the
/// user and domain exactly as the client sent them.
pub fn ntowfv2(nt_hash: &NtHash, user: &str, domain: &str, uppercase: Uppercase) -> [u8; 16] {
    let mut ud = uppercase.apply(user);
    ud.push_str(domain);
    hmac_md5(nt_hash.as_bytes(), &[&utf16le(&ud)])
}

/// `NTProofStr = HMAC-MD5(ResponseKeyNT, ServerChallenge ‖ blob)`.
pub fn nt_proof_str(response_key: &[u8; 16], server_challenge: &[u8; 8], blob: &[u8]) -> [u8; 16] {
    hmac_md5(response_key, &[server_challenge, blob])
}

/// LMv2 response: `HMAC-MD5(ResponseKeyLM, ServerChallenge ‖ ClientChallenge) ‖ ClientChallenge`.
/// Clients send it beside the NT response; this server does not accept it on its own.
pub fn lmv2_response(
    response_key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[..16].copy_from_slice(&hmac_md5(
        response_key,
        &[server_challenge, client_challenge],
    ));
    out[16..].copy_from_slice(client_challenge);
    out
}

/// `SessionBaseKey = HMAC-MD5(ResponseKeyNT, NTProofStr)`; for NTLMv2 this is also the
/// KeyExchangeKey.
pub fn session_base_key(response_key: &[u8; 16], nt_proof: &[u8; 16]) -> [u8; 16] {
    hmac_md5(response_key, &[nt_proof])
}

/// RC4 with the KeyExchangeKey: turns the EncryptedRandomSessionKey into the
/// ExportedSessionKey (server) and back (client).
pub fn rc4_session_key(key_exchange_key: &[u8; 16], key: &[u8; 16]) -> [u8; 16] {
    let mut out = *key;
    rc4(key_exchange_key, &mut out);
    out
}

/// `MIC = HMAC-MD5(ExportedSessionKey, CHALLENGE ‖ AUTHENTICATE)`, the AUTHENTICATE taken
/// with its MIC field zeroed (connectionless: there is no NEGOTIATE).
pub fn mic(
    exported_session_key: &[u8; 16],
    challenge: &[u8],
    authenticate_mic_zeroed: &[u8],
) -> [u8; 16] {
    hmac_md5(exported_session_key, &[challenge, authenticate_mic_zeroed])
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NtlmV2Error {
    #[error("NT response of {0} bytes is not an NTLMv2 response")]
    NotNtlmV2(usize),
    #[error("NTLMv2 blob has response type {0:#04X}/{1:#04X}, expected 0x01/0x01")]
    BadResponseType(u8, u8),
    #[error("NTLMv2 blob: {0}")]
    AvPairs(#[from] MessageError),
    #[error("NTProofStr does not match: wrong password, or another user or domain")]
    ProofMismatch,
}

/// A client's NTLMv2 response (NTLMv2_RESPONSE, [MS-NLMP] 2.2.2.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmV2Response<'a> {
    pub nt_proof: [u8; 16],
    /// Everything after NTProofStr: the NTLMv2_CLIENT_CHALLENGE the proof covers.
    pub blob: &'a [u8],
    pub timestamp: u64,
    pub client_challenge: [u8; 8],
    pub av_pairs: AvPairs,
}

impl NtlmV2Response<'_> {
    /// NTProofStr (16) + RespType, HiRespType, 6 reserved, timestamp (8), client challenge
    /// (8), 4 reserved; the AV pairs follow.
    const MIN_LEN: usize = 16 + 28;

    /// Parses the response. Bytes after the AV pairs' MsvAvEOL (clients add four zero
    /// bytes) are left uninterpreted: the proof covers them anyway.
    pub fn parse(nt_response: &[u8]) -> Result<NtlmV2Response<'_>, NtlmV2Error> {
        if nt_response.len() < Self::MIN_LEN {
            return Err(NtlmV2Error::NotNtlmV2(nt_response.len()));
        }
        let (proof, blob) = nt_response.split_at(16);
        if blob[0] != 1 || blob[1] != 1 {
            return Err(NtlmV2Error::BadResponseType(blob[0], blob[1]));
        }
        let (av_pairs, _) = AvPairs::decode_prefix(&blob[28..])?;
        Ok(NtlmV2Response {
            nt_proof: proof.try_into().expect("16 bytes"),
            blob,
            timestamp: u64::from_le_bytes(blob[8..16].try_into().expect("8 bytes")),
            client_challenge: blob[16..24].try_into().expect("8 bytes"),
            av_pairs,
        })
    }
}

/// Checks the AUTHENTICATE's NTLMv2 response against the account's NT hash and returns
/// the SessionBaseKey.
///
/// Tried in order: the domain as sent, then an empty domain ([MS-NLMP] 3.2.5.1.2: servers
/// SHOULD accept clients that wrongly leave UserDom empty); for each, the user name
/// upper-cased the Windows way and, if that differs, the ASCII-only way.
pub fn verify(
    nt_hash: &NtHash,
    msg: &AuthenticateMessage,
    server_challenge: &[u8; 8],
) -> Result<[u8; 16], NtlmV2Error> {
    let response = NtlmV2Response::parse(&msg.nt_response)?;
    let domains: &[&str] = if msg.domain.is_empty() {
        &[""]
    } else {
        &[&msg.domain, ""]
    };
    let ascii_differs = Uppercase::Ascii.apply(&msg.user) != Uppercase::Unicode.apply(&msg.user);
    for domain in domains {
        for uppercase in [Uppercase::Unicode, Uppercase::Ascii] {
            if uppercase == Uppercase::Ascii && !ascii_differs {
                continue;
            }
            let key = ntowfv2(nt_hash, &msg.user, domain, uppercase);
            let proof = nt_proof_str(&key, server_challenge, response.blob);
            if ct_eq(&proof, &response.nt_proof) {
                return Ok(session_base_key(&key, &proof));
            }
        }
    }
    Err(NtlmV2Error::ProofMismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uppercase_variants() {
        assert_eq!(Uppercase::Unicode.apply("straße é"), "STRAßE É");
        assert_eq!(Uppercase::Ascii.apply("straße é"), "STRAßE é");
    }

    #[test]
    fn parse_rejects_short_and_v1_responses() {
        assert_eq!(
            NtlmV2Response::parse(&[0; 24]),
            Err(NtlmV2Error::NotNtlmV2(24))
        );
        let mut r = vec![0u8; 48];
        assert_eq!(
            NtlmV2Response::parse(&r),
            Err(NtlmV2Error::BadResponseType(0, 0))
        );
        r[16] = 1;
        r[17] = 1;
        let parsed = NtlmV2Response::parse(&r).unwrap();
        assert!(parsed.av_pairs.is_empty());
        r.truncate(46);
        assert_eq!(
            NtlmV2Response::parse(&r),
            Err(NtlmV2Error::AvPairs(MessageError::AvPairTruncated))
        );
    }

    #[test]
    fn nt_hash_debug_is_redacted() {
        assert_eq!(format!("{:?}", NtHash::from_password("x")), "NtHash(..)");
        assert_eq!(NtHash::from_hex("zz"), None);
    }
}
