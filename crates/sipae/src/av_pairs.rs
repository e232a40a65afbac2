//! AV_PAIR lists ([MS-NLMP] 2.2.2.1): the CHALLENGE's TargetInfo and the AV pairs inside a
//! client's NTLMv2 response.

use crate::messages::MessageError;
use crate::text::utf16le;

/// One attribute/value pair. The list never holds the terminating MsvAvEOL; encoding
/// appends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvPair {
    pub id: u16,
    pub value: Vec<u8>,
}

/// An ordered AV_PAIR list, order and unknown ids preserved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AvPairs(Vec<AvPair>);

impl AvPairs {
    pub const EOL: u16 = 0;
    pub const NB_COMPUTER_NAME: u16 = 1;
    pub const NB_DOMAIN_NAME: u16 = 2;
    pub const DNS_COMPUTER_NAME: u16 = 3;
    pub const DNS_DOMAIN_NAME: u16 = 4;
    pub const DNS_TREE_NAME: u16 = 5;
    pub const FLAGS: u16 = 6;
    pub const TIMESTAMP: u16 = 7;
    pub const SINGLE_HOST: u16 = 8;
    pub const TARGET_NAME: u16 = 9;
    pub const CHANNEL_BINDINGS: u16 = 10;

    /// MsvAvFlags bit: the AUTHENTICATE message carries a MIC.
    pub const FLAG_MIC_PRESENT: u32 = 0x0000_0002;

    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a pair. MsvAvEOL cannot be added (it only terminates the list) and a value
    /// must fit the 16-bit AvLen.
    pub fn push(&mut self, id: u16, value: Vec<u8>) -> Result<(), MessageError> {
        if id == Self::EOL {
            return Err(MessageError::AvPairEolInList);
        }
        if value.len() > usize::from(u16::MAX) {
            return Err(MessageError::FieldTooLong { field: "AvPair" });
        }
        self.0.push(AvPair { id, value });
        Ok(())
    }

    /// Appends a pair whose value is a UTF-16LE string.
    pub fn push_str(&mut self, id: u16, value: &str) -> Result<(), MessageError> {
        self.push(id, utf16le(value))
    }

    pub fn iter(&self) -> impl Iterator<Item = &AvPair> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of the first pair with `id`.
    pub fn get(&self, id: u16) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.value.as_slice())
    }

    /// MsvAvTimestamp as a FILETIME, when present and 8 bytes long.
    pub fn timestamp(&self) -> Option<u64> {
        self.get(Self::TIMESTAMP)
            .and_then(|v| <[u8; 8]>::try_from(v).ok())
            .map(u64::from_le_bytes)
    }

    /// MsvAvFlags, when present and 4 bytes long.
    pub fn flags(&self) -> Option<u32> {
        self.get(Self::FLAGS)
            .and_then(|v| <[u8; 4]>::try_from(v).ok())
            .map(u32::from_le_bytes)
    }

    /// Decodes a list from the start of `bytes` up to and including MsvAvEOL and returns it
    /// with the number of bytes it took.
    pub fn decode_prefix(bytes: &[u8]) -> Result<(Self, usize), MessageError> {
        let mut pairs = Vec::new();
        let mut at = 0usize;
        loop {
            let header = bytes.get(at..at + 4).ok_or(MessageError::AvPairTruncated)?;
            let id = u16::from_le_bytes([header[0], header[1]]);
            let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
            at += 4;
            if id == Self::EOL {
                if len != 0 {
                    return Err(MessageError::AvPairBadEol);
                }
                return Ok((Self(pairs), at));
            }
            let value = bytes
                .get(at..at + len)
                .ok_or(MessageError::AvPairTruncated)?;
            pairs.push(AvPair {
                id,
                value: value.to_vec(),
            });
            at += len;
        }
    }

    /// Decodes a list that must fill `bytes` exactly (a CHALLENGE's TargetInfo field).
    pub fn decode(bytes: &[u8]) -> Result<Self, MessageError> {
        let (pairs, used) = Self::decode_prefix(bytes)?;
        if used != bytes.len() {
            return Err(MessageError::AvPairTrailingData);
        }
        Ok(pairs)
    }

    /// The encoded list, MsvAvEOL included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        for p in &self.0 {
            out.extend_from_slice(&p.id.to_le_bytes());
            out.extend_from_slice(&(p.value.len() as u16).to_le_bytes());
            out.extend_from_slice(&p.value);
        }
        out.extend_from_slice(&[0; 4]);
        out
    }

    pub fn encoded_len(&self) -> usize {
        self.0.iter().map(|p| 4 + p.value.len()).sum::<usize>() + 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_malformed_lists() {
        assert_eq!(AvPairs::decode(&[]), Err(MessageError::AvPairTruncated));
        assert_eq!(
            AvPairs::decode(&[2, 0, 4, 0, b'a', 0]),
            Err(MessageError::AvPairTruncated)
        );
        assert_eq!(
            AvPairs::decode(&[0, 0, 1, 0, 0]),
            Err(MessageError::AvPairBadEol)
        );
        assert_eq!(
            AvPairs::decode(&[0, 0, 0, 0, 0]),
            Err(MessageError::AvPairTrailingData)
        );
        assert_eq!(
            AvPairs::decode(&[2, 0, 0, 0]),
            Err(MessageError::AvPairTruncated)
        );
    }

    #[test]
    fn push_refuses_eol_and_oversized_values() {
        let mut pairs = AvPairs::new();
        assert_eq!(
            pairs.push(AvPairs::EOL, vec![]),
            Err(MessageError::AvPairEolInList)
        );
        assert_eq!(
            pairs.push(AvPairs::NB_DOMAIN_NAME, vec![0; 70_000]),
            Err(MessageError::FieldTooLong { field: "AvPair" })
        );
        assert!(pairs.is_empty());
    }

    #[test]
    fn round_trip_keeps_order_and_unknown_ids() {
        let mut pairs = AvPairs::new();
        pairs.push_str(AvPairs::NB_DOMAIN_NAME, "Domain").unwrap();
        pairs.push(0x7777, vec![1, 2, 3]).unwrap();
        pairs
            .push(AvPairs::TIMESTAMP, 5u64.to_le_bytes().to_vec())
            .unwrap();
        let bytes = pairs.encode();
        assert_eq!(bytes.len(), pairs.encoded_len());
        let back = AvPairs::decode(&bytes).unwrap();
        assert_eq!(back, pairs);
        assert_eq!(back.timestamp(), Some(5));
        assert_eq!(back.flags(), None);
    }
}
