//! The primitives NTLM is built from, behind one small interface so that the protocol
//! modules read like [MS-NLMP]'s pseudo-code.

use hmac::{Hmac, Mac};
use md4::Md4;
use md5::{Digest, Md5};
use rc4::consts::U16;
use rc4::{KeyInit, Rc4, StreamCipher};
use subtle::ConstantTimeEq;

pub(crate) fn md4(data: &[u8]) -> [u8; 16] {
    Md4::digest(data).into()
}

pub(crate) fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

pub(crate) fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Encrypts (or decrypts: RC4 is its own inverse) `data` in place with a fresh RC4 state.
pub(crate) fn rc4(key: &[u8; 16], data: &mut [u8]) {
    Rc4::<U16>::new(key.into()).apply_keystream(data);
}

/// CRC-32 (IEEE 802.3, reflected), the checksum of the legacy NTLM signature. Only the
/// legacy path uses it, on buffers of a few hundred bytes, so a table is not worth it.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn rc4_known_answer() {
        // RFC 6229, key 0x0102…10, first 16 keystream bytes.
        let key: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
        let mut data = [0u8; 16];
        rc4(&key, &mut data);
        assert_eq!(
            data,
            [
                0x9a, 0xc7, 0xcc, 0x9a, 0x60, 0x9d, 0x1e, 0xf7, 0xb2, 0x93, 0x28, 0x99, 0xcd, 0xe4,
                0x1b, 0x97
            ]
        );
    }

    #[test]
    fn md4_known_answer() {
        // RFC 1320 test suite.
        assert_eq!(md4(b"abc"), hex16("a448017aaf21d8525fc10ae87aa6729d"));
    }

    fn hex16(s: &str) -> [u8; 16] {
        core::array::from_fn(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
    }
}
