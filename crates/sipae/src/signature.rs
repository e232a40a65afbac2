//! The NTLM signature (MAC) over an MS-SIPAE buffer ([MS-NLMP] 3.4.4).

use std::fmt;

use crate::crypto::{crc32, ct_eq, hmac_md5, md5, rc4};
use crate::flags::NegotiateFlags;
use crate::keys::DirectionKeys;
use crate::text::from_hex;

/// MS-SIPAE fixes the NTLM sequence number at 100 for every message in both directions;
/// replay protection lives in `cnum`/`snum`, which are inside the signed buffer.
pub const SIPAE_SEQUENCE_NUMBER: u32 = 100;

/// A 16-byte NTLM signature (`u32le(1) ‖ checksum ‖ u32le(seq)` with ESS).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 16]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signature is not 32 hex digits")]
pub struct BadSignatureHex;

impl Signature {
    pub const fn from_bytes(bytes: [u8; 16]) -> Signature {
        Signature(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Reads `response` / `rspauth`, whose hex case varies between implementations.
    pub fn from_hex(hex: &str) -> Result<Signature, BadSignatureHex> {
        from_hex(hex).map(Signature).ok_or(BadSignatureHex)
    }

    /// Upper-case hex, as OCS and Lync write `rspauth`.
    pub fn to_hex(&self) -> String {
        hex::encode_upper(self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Signs `buffer` with the sender's keys under the negotiated `flags`.
///
/// With extended session security: HMAC-MD5 checksum, sealed with RC4 when KEY_EXCH was
/// negotiated, keyed per message (`MD5(SealKey ‖ seq)`) when DATAGRAM was. `random_pad` is
/// unused. Without it (legacy): RC4 with the sealing key over
/// `0 ‖ CRC32 ‖ seq`, with `random_pad` written in clear in bytes 4..8.
pub fn sign(
    keys: &DirectionKeys,
    flags: NegotiateFlags,
    seq: u32,
    buffer: &[u8],
    random_pad: u32,
) -> Signature {
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&1u32.to_le_bytes());
    if flags.contains(NegotiateFlags::EXTENDED_SESSION_SECURITY) {
        let mut checksum: [u8; 8] = hmac_md5(&keys.signing, &[&seq.to_le_bytes(), buffer])[..8]
            .try_into()
            .expect("8 bytes");
        if flags.contains(NegotiateFlags::KEY_EXCH) {
            let key = if flags.contains(NegotiateFlags::DATAGRAM) {
                md5(&[&keys.sealing, &seq.to_le_bytes()])
            } else {
                keys.sealing
            };
            rc4(&key, &mut checksum);
        }
        out[4..12].copy_from_slice(&checksum);
        out[12..].copy_from_slice(&seq.to_le_bytes());
    } else {
        let mut sealed = [0u8; 12];
        sealed[4..8].copy_from_slice(&crc32(buffer).to_le_bytes());
        sealed[8..].copy_from_slice(&seq.to_le_bytes());
        rc4(&keys.sealing, &mut sealed);
        out[4..8].copy_from_slice(&random_pad.to_le_bytes());
        out[8..].copy_from_slice(&sealed[4..]);
    }
    Signature(out)
}

/// Checks a received signature in constant time. A legacy signature's random pad is taken
/// from the received bytes, since the receiver cannot know it.
pub fn verify(
    keys: &DirectionKeys,
    flags: NegotiateFlags,
    seq: u32,
    buffer: &[u8],
    received: &Signature,
) -> bool {
    let pad = u32::from_le_bytes(received.0[4..8].try_into().expect("4 bytes"));
    ct_eq(
        sign(keys, flags, seq, buffer, pad).as_bytes(),
        received.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        let s = Signature::from_hex("0100000029618e9651b65a7764000000").unwrap();
        assert_eq!(s.to_hex(), "0100000029618E9651B65A7764000000");
        assert_eq!(Signature::from_hex(&s.to_hex()), Ok(s));
        assert_eq!(Signature::from_hex("01"), Err(BadSignatureHex));
        assert_eq!(
            format!("{s:?}"),
            "Signature(0100000029618E9651B65A7764000000)"
        );
    }

    #[test]
    fn signature_depends_on_every_input() {
        let keys = DirectionKeys {
            signing: [1; 16],
            sealing: [2; 16],
        };
        let flags = NegotiateFlags::CLIENT_AUTHENTICATE;
        let base = sign(&keys, flags, 100, b"<a>", 0);
        assert_eq!(&base.as_bytes()[12..], &100u32.to_le_bytes());
        assert_ne!(sign(&keys, flags, 100, b"<b>", 0), base);
        assert_ne!(sign(&keys, flags, 101, b"<a>", 0), base);
        let other = DirectionKeys {
            signing: [1; 16],
            sealing: [3; 16],
        };
        assert_ne!(sign(&other, flags, 100, b"<a>", 0), base);
        assert_eq!(
            sign(&keys, flags, 100, b"<a>", 77),
            base,
            "the pad is legacy-only"
        );
    }

    #[test]
    fn legacy_pad_is_ignored_by_verify() {
        let keys = DirectionKeys {
            signing: [9; 16],
            sealing: [9; 16],
        };
        let flags = NegotiateFlags::DATAGRAM | NegotiateFlags::KEY_EXCH;
        let sig = sign(&keys, flags, 100, b"<x>", 0xDEAD_BEEF);
        assert_eq!(&sig.as_bytes()[4..8], &0xDEAD_BEEFu32.to_le_bytes());
        assert!(verify(&keys, flags, 100, b"<x>", &sig));
        assert!(!verify(&keys, flags, 100, b"<y>", &sig));
    }
}
