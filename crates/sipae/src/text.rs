//! The text encodings NTLM and MS-SIPAE use: UTF-16LE and OEM strings, and hex.

pub(crate) fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Strict UTF-16LE: an odd length or an unpaired surrogate is an error, because the
/// string feeds NTOWFv2 and a lossy decode would silently change the key.
pub(crate) fn from_utf16le(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}

/// OEM strings are only accepted in ASCII: the code page is the client's and unknown.
pub(crate) fn from_oem(bytes: &[u8]) -> Option<String> {
    bytes
        .is_ascii()
        .then(|| bytes.iter().map(|&b| char::from(b)).collect())
}

pub(crate) fn to_oem(s: &str) -> Option<Vec<u8>> {
    s.is_ascii().then(|| s.as_bytes().to_vec())
}

/// Decodes hex of either case into exactly `N` bytes.
pub(crate) fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_is_strict() {
        assert_eq!(from_utf16le(&utf16le("Usér😀")).as_deref(), Some("Usér😀"));
        assert_eq!(from_utf16le(&[0x41]), None);
        assert_eq!(from_utf16le(&[0x00, 0xD8]), None);
    }

    #[test]
    fn oem_is_ascii_only() {
        assert_eq!(from_oem(b"WORK").as_deref(), Some("WORK"));
        assert_eq!(from_oem(&[0xE9]), None);
        assert_eq!(to_oem("é"), None);
    }

    #[test]
    fn hex_of_either_case_and_exact_length() {
        assert_eq!(from_hex::<2>("01aB"), Some([0x01, 0xab]));
        assert_eq!(from_hex::<2>("01a"), None);
        assert_eq!(from_hex::<1>("0g"), None);
        assert_eq!(from_hex::<1>("+1"), None);
    }
}
