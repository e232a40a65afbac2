//! NTLM NegotiateFlags ([MS-NLMP] 2.2.2.5).

use std::fmt;
use std::ops::{BitAnd, BitOr};

/// The 32 NegotiateFlags bits, kept raw so that a decoded message re-encodes bit for bit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NegotiateFlags(u32);

impl NegotiateFlags {
    pub const UNICODE: Self = Self(0x0000_0001);
    pub const OEM: Self = Self(0x0000_0002);
    pub const REQUEST_TARGET: Self = Self(0x0000_0004);
    pub const SIGN: Self = Self(0x0000_0010);
    pub const SEAL: Self = Self(0x0000_0020);
    pub const DATAGRAM: Self = Self(0x0000_0040);
    pub const LM_KEY: Self = Self(0x0000_0080);
    pub const NTLM: Self = Self(0x0000_0200);
    pub const ANONYMOUS: Self = Self(0x0000_0800);
    pub const OEM_DOMAIN_SUPPLIED: Self = Self(0x0000_1000);
    pub const OEM_WORKSTATION_SUPPLIED: Self = Self(0x0000_2000);
    pub const ALWAYS_SIGN: Self = Self(0x0000_8000);
    pub const TARGET_TYPE_DOMAIN: Self = Self(0x0001_0000);
    pub const TARGET_TYPE_SERVER: Self = Self(0x0002_0000);
    pub const EXTENDED_SESSION_SECURITY: Self = Self(0x0008_0000);
    pub const IDENTIFY: Self = Self(0x0010_0000);
    pub const REQUEST_NON_NT_SESSION_KEY: Self = Self(0x0040_0000);
    pub const TARGET_INFO: Self = Self(0x0080_0000);
    pub const VERSION: Self = Self(0x0200_0000);
    pub const NEGOTIATE_128: Self = Self(0x2000_0000);
    pub const KEY_EXCH: Self = Self(0x4000_0000);
    pub const NEGOTIATE_56: Self = Self(0x8000_0000);

    /// The bits [MS-NLMP] marks reserved (r1–r10).
    pub const RESERVED: Self = Self(0x1D24_4508);

    /// What the server offers in its CHALLENGE: the exact flags of OCS 2007 R2 and Lync 2013
    /// (`0xE29882F3`), which every MS-SIPAE client has been seen to accept.
    pub const SERVER_CHALLENGE: Self = Self(0xE298_82F3);

    /// What sipe and Office Communicator 2007 R2 answer with (`0x62988255`).
    pub const CLIENT_AUTHENTICATE: Self = Self(0x6298_8255);

    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    pub const fn bits(self) -> u32 {
        self.0
    }

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    const NAMES: [(Self, &'static str); 22] = [
        (Self::UNICODE, "UNICODE"),
        (Self::OEM, "OEM"),
        (Self::REQUEST_TARGET, "REQUEST_TARGET"),
        (Self::SIGN, "SIGN"),
        (Self::SEAL, "SEAL"),
        (Self::DATAGRAM, "DATAGRAM"),
        (Self::LM_KEY, "LM_KEY"),
        (Self::NTLM, "NTLM"),
        (Self::ANONYMOUS, "ANONYMOUS"),
        (Self::OEM_DOMAIN_SUPPLIED, "OEM_DOMAIN_SUPPLIED"),
        (Self::OEM_WORKSTATION_SUPPLIED, "OEM_WORKSTATION_SUPPLIED"),
        (Self::ALWAYS_SIGN, "ALWAYS_SIGN"),
        (Self::TARGET_TYPE_DOMAIN, "TARGET_TYPE_DOMAIN"),
        (Self::TARGET_TYPE_SERVER, "TARGET_TYPE_SERVER"),
        (Self::EXTENDED_SESSION_SECURITY, "EXTENDED_SESSION_SECURITY"),
        (Self::IDENTIFY, "IDENTIFY"),
        (
            Self::REQUEST_NON_NT_SESSION_KEY,
            "REQUEST_NON_NT_SESSION_KEY",
        ),
        (Self::TARGET_INFO, "TARGET_INFO"),
        (Self::VERSION, "VERSION"),
        (Self::NEGOTIATE_128, "128"),
        (Self::KEY_EXCH, "KEY_EXCH"),
        (Self::NEGOTIATE_56, "56"),
    ];
}

impl BitOr for NegotiateFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitAnd for NegotiateFlags {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl fmt::Debug for NegotiateFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NegotiateFlags({:#010X}", self.0)?;
        let mut sep = ": ";
        for (flag, name) in Self::NAMES {
            if self.contains(flag) {
                write!(f, "{sep}{name}")?;
                sep = " | ";
            }
        }
        let reserved = self.0 & Self::RESERVED.0;
        if reserved != 0 {
            write!(f, "{sep}reserved {reserved:#X}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_and_reserved_bits_partition_the_word() {
        let named = NegotiateFlags::NAMES
            .iter()
            .fold(0u32, |acc, (f, _)| acc | f.bits());
        assert_eq!(named & NegotiateFlags::RESERVED.bits(), 0);
        assert_eq!(named | NegotiateFlags::RESERVED.bits(), u32::MAX);
    }

    #[test]
    fn debug_lists_the_flags() {
        let s = format!("{:?}", NegotiateFlags::CLIENT_AUTHENTICATE);
        assert!(
            s.starts_with("NegotiateFlags(0x62988255: UNICODE | REQUEST_TARGET | SIGN"),
            "{s}"
        );
        assert!(!s.contains("reserved"));
    }
}
