//! The NTLM NEGOTIATE, CHALLENGE and AUTHENTICATE messages ([MS-NLMP] 2.2.1): a codec that
//! finds every payload field through its (length, offset) descriptor and checks each one
//! against the message bounds before reading it.

use crate::av_pairs::AvPairs;
use crate::flags::NegotiateFlags;
use crate::text::{from_oem, from_utf16le, to_oem, utf16le};

pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// Real AUTHENTICATE messages are a few hundred bytes; this bound keeps a hostile
/// `gssapi-data` from costing more than a small, fixed amount of work.
pub const MAX_MESSAGE_LEN: usize = 16 * 1024;

const TYPE_NEGOTIATE: u32 = 1;
const TYPE_CHALLENGE: u32 = 2;
const TYPE_AUTHENTICATE: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("NTLM message of {0} bytes exceeds the limit of {MAX_MESSAGE_LEN}")]
    TooLong(usize),
    #[error("NTLM message shorter than its fixed header")]
    Truncated,
    #[error("not an NTLMSSP message")]
    BadSignature,
    #[error("NTLM message type {found}, expected {expected}")]
    WrongType { expected: u32, found: u32 },
    #[error("{field} lies outside the message")]
    FieldOutOfBounds { field: &'static str },
    #[error("{field} overlaps the fixed part of the message")]
    FieldOverlapsHeader { field: &'static str },
    #[error("{field} is not a valid string in the negotiated encoding")]
    BadString { field: &'static str },
    #[error("{field} is too long to encode")]
    FieldTooLong { field: &'static str },
    #[error("a MIC can only be sent after a Version field")]
    MicWithoutVersion,
    #[error("AV pair list truncated")]
    AvPairTruncated,
    #[error("MsvAvEOL with a non-zero length")]
    AvPairBadEol,
    #[error("data after MsvAvEOL in TargetInfo")]
    AvPairTrailingData,
    #[error("MsvAvEOL cannot be added inside an AV pair list")]
    AvPairEolInList,
}

/// The VERSION structure ([MS-NLMP] 2.2.2.10). Its three reserved bytes are written as
/// zero and ignored on receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
    pub build: u16,
    pub revision: u8,
}

impl Version {
    pub const NTLMSSP_REVISION_W2K3: u8 = 0x0F;

    /// 6.1.7601, what Lync 2013 sends and what this server announces.
    pub const WINDOWS_7_SP1: Version = Version {
        major: 6,
        minor: 1,
        build: 7601,
        revision: Self::NTLMSSP_REVISION_W2K3,
    };

    fn decode(b: &[u8]) -> Version {
        Version {
            major: b[0],
            minor: b[1],
            build: u16::from_le_bytes([b[2], b[3]]),
            revision: b[7],
        }
    }

    fn encode(self) -> [u8; 8] {
        let [b0, b1] = self.build.to_le_bytes();
        [self.major, self.minor, b0, b1, 0, 0, 0, self.revision]
    }
}

/// NEGOTIATE_MESSAGE. Connectionless NTLM (the MS-SIPAE case) never sends one; it is here
/// for completeness of the codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateMessage {
    pub flags: NegotiateFlags,
    pub domain: String,
    pub workstation: String,
    pub version: Option<Version>,
}

/// CHALLENGE_MESSAGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeMessage {
    pub flags: NegotiateFlags,
    pub server_challenge: [u8; 8],
    pub target_name: String,
    /// `None` encodes an empty TargetInfo field; `Some` always includes MsvAvEOL.
    pub target_info: Option<AvPairs>,
    /// Present when the payload starts after the Version slot.
    pub version: Option<Version>,
}

/// AUTHENTICATE_MESSAGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticateMessage {
    pub flags: NegotiateFlags,
    pub lm_response: Vec<u8>,
    pub nt_response: Vec<u8>,
    pub domain: String,
    pub user: String,
    pub workstation: String,
    pub encrypted_random_session_key: Vec<u8>,
    pub version: Option<Version>,
    /// Present when the payload starts after the MIC slot (offset 88 or later).
    pub mic: Option<[u8; 16]>,
}

impl AuthenticateMessage {
    /// Where the MIC sits in an encoded message.
    pub const MIC_OFFSET: usize = 72;
}

/// Checks the size bound, the signature, the type and that the fixed header is there.
fn check_header(msg: &[u8], expected: u32, fixed: usize) -> Result<(), MessageError> {
    if msg.len() > MAX_MESSAGE_LEN {
        return Err(MessageError::TooLong(msg.len()));
    }
    if msg.len() < 12 {
        return Err(MessageError::Truncated);
    }
    if &msg[..8] != SIGNATURE {
        return Err(MessageError::BadSignature);
    }
    let found = u32_at(msg, 8);
    if found != expected {
        return Err(MessageError::WrongType { expected, found });
    }
    if msg.len() < fixed {
        return Err(MessageError::Truncated);
    }
    Ok(())
}

fn u32_at(msg: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([msg[at], msg[at + 1], msg[at + 2], msg[at + 3]])
}

/// The payload fields of a message, located through their descriptors.
struct Fields<'a> {
    data: Vec<&'a [u8]>,
    /// Where the first non-empty field starts (the end of the header, optional slots
    /// included); the message length when every field is empty.
    payload_start: usize,
}

/// Reads the descriptors at `positions` (MaxLen is ignored, as [MS-NLMP] requires) and
/// bounds-checks each field: a non-empty field must lie within the message and after the
/// fixed header; an empty one must still point inside the message.
fn read_fields<'a>(
    msg: &'a [u8],
    fixed: usize,
    positions: &[(&'static str, usize)],
) -> Result<Fields<'a>, MessageError> {
    let mut data = Vec::with_capacity(positions.len());
    let mut payload_start = msg.len();
    for &(field, at) in positions {
        let len = usize::from(u16::from_le_bytes([msg[at], msg[at + 1]]));
        let offset = u32_at(msg, at + 4) as usize;
        let end = offset
            .checked_add(len)
            .ok_or(MessageError::FieldOutOfBounds { field })?;
        if end > msg.len() {
            return Err(MessageError::FieldOutOfBounds { field });
        }
        if len > 0 {
            if offset < fixed {
                return Err(MessageError::FieldOverlapsHeader { field });
            }
            payload_start = payload_start.min(offset);
        }
        data.push(&msg[offset..end]);
    }
    Ok(Fields {
        data,
        payload_start,
    })
}

/// Reads an optional trailing header slot of `len` bytes at `at`: absent when the payload
/// starts right at `at`, present when it starts at or after its end, and an error when the
/// payload would begin inside it.
fn optional_slot<'a>(
    msg: &'a [u8],
    payload_start: usize,
    at: usize,
    len: usize,
    field: &'static str,
) -> Result<Option<&'a [u8]>, MessageError> {
    if payload_start <= at {
        Ok(None)
    } else if payload_start >= at + len {
        Ok(Some(&msg[at..at + len]))
    } else {
        Err(MessageError::FieldOverlapsHeader { field })
    }
}

fn decode_string(bytes: &[u8], unicode: bool, field: &'static str) -> Result<String, MessageError> {
    let s = if unicode {
        from_utf16le(bytes)
    } else {
        from_oem(bytes)
    };
    s.ok_or(MessageError::BadString { field })
}

fn encode_string(s: &str, unicode: bool, field: &'static str) -> Result<Vec<u8>, MessageError> {
    if unicode {
        Ok(utf16le(s))
    } else {
        to_oem(s).ok_or(MessageError::BadString { field })
    }
}

/// Builds a message: a fixed header with descriptors filled in as payload fields are
/// appended in order.
struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn new(message_type: u32, header_len: usize) -> Writer {
        let mut out = vec![0u8; header_len];
        out[..8].copy_from_slice(SIGNATURE);
        out[8..12].copy_from_slice(&message_type.to_le_bytes());
        Writer { out }
    }

    fn put(&mut self, at: usize, bytes: &[u8]) {
        self.out[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn field(&mut self, at: usize, data: &[u8], field: &'static str) -> Result<(), MessageError> {
        let len = u16::try_from(data.len()).map_err(|_| MessageError::FieldTooLong { field })?;
        let offset = self.out.len() as u32;
        let [l0, l1] = len.to_le_bytes();
        self.put(at, &[l0, l1, l0, l1]);
        self.put(at + 4, &offset.to_le_bytes());
        self.out.extend_from_slice(data);
        Ok(())
    }

    fn finish(self) -> Result<Vec<u8>, MessageError> {
        if self.out.len() > MAX_MESSAGE_LEN {
            return Err(MessageError::TooLong(self.out.len()));
        }
        Ok(self.out)
    }
}

impl NegotiateMessage {
    const FIXED: usize = 32;

    pub fn decode(msg: &[u8]) -> Result<NegotiateMessage, MessageError> {
        check_header(msg, TYPE_NEGOTIATE, Self::FIXED)?;
        let flags = NegotiateFlags::from_bits(u32_at(msg, 12));
        let f = read_fields(msg, Self::FIXED, &[("DomainName", 16), ("Workstation", 24)])?;
        let version = optional_slot(msg, f.payload_start, Self::FIXED, 8, "Version")?;
        Ok(NegotiateMessage {
            flags,
            domain: decode_string(f.data[0], false, "DomainName")?,
            workstation: decode_string(f.data[1], false, "Workstation")?,
            version: version.map(Version::decode),
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, MessageError> {
        let header = Self::FIXED + if self.version.is_some() { 8 } else { 0 };
        let mut w = Writer::new(TYPE_NEGOTIATE, header);
        w.put(12, &self.flags.bits().to_le_bytes());
        if let Some(v) = self.version {
            w.put(Self::FIXED, &v.encode());
        }
        w.field(
            16,
            &encode_string(&self.domain, false, "DomainName")?,
            "DomainName",
        )?;
        w.field(
            24,
            &encode_string(&self.workstation, false, "Workstation")?,
            "Workstation",
        )?;
        w.finish()
    }
}

impl ChallengeMessage {
    const FIXED: usize = 48;

    pub fn decode(msg: &[u8]) -> Result<ChallengeMessage, MessageError> {
        check_header(msg, TYPE_CHALLENGE, Self::FIXED)?;
        let flags = NegotiateFlags::from_bits(u32_at(msg, 20));
        let f = read_fields(msg, Self::FIXED, &[("TargetName", 12), ("TargetInfo", 40)])?;
        let version = optional_slot(msg, f.payload_start, Self::FIXED, 8, "Version")?;
        let unicode = flags.contains(NegotiateFlags::UNICODE);
        let target_info = match f.data[1] {
            [] => None,
            info => Some(AvPairs::decode(info)?),
        };
        Ok(ChallengeMessage {
            flags,
            server_challenge: msg[24..32].try_into().expect("8 bytes"),
            target_name: decode_string(f.data[0], unicode, "TargetName")?,
            target_info,
            version: version.map(Version::decode),
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, MessageError> {
        let header = Self::FIXED + if self.version.is_some() { 8 } else { 0 };
        let unicode = self.flags.contains(NegotiateFlags::UNICODE);
        let mut w = Writer::new(TYPE_CHALLENGE, header);
        w.put(20, &self.flags.bits().to_le_bytes());
        w.put(24, &self.server_challenge);
        if let Some(v) = self.version {
            w.put(Self::FIXED, &v.encode());
        }
        w.field(
            12,
            &encode_string(&self.target_name, unicode, "TargetName")?,
            "TargetName",
        )?;
        let info = self
            .target_info
            .as_ref()
            .map(AvPairs::encode)
            .unwrap_or_default();
        w.field(40, &info, "TargetInfo")?;
        w.finish()
    }
}

impl AuthenticateMessage {
    const FIXED: usize = 64;

    pub fn decode(msg: &[u8]) -> Result<AuthenticateMessage, MessageError> {
        check_header(msg, TYPE_AUTHENTICATE, Self::FIXED)?;
        let flags = NegotiateFlags::from_bits(u32_at(msg, 60));
        let f = read_fields(
            msg,
            Self::FIXED,
            &[
                ("LmChallengeResponse", 12),
                ("NtChallengeResponse", 20),
                ("DomainName", 28),
                ("UserName", 36),
                ("Workstation", 44),
                ("EncryptedRandomSessionKey", 52),
            ],
        )?;
        let version = optional_slot(msg, f.payload_start, Self::FIXED, 8, "Version")?;
        let mic = if f.payload_start >= Self::MIC_OFFSET + 16 {
            Some(
                msg[Self::MIC_OFFSET..Self::MIC_OFFSET + 16]
                    .try_into()
                    .expect("16 bytes"),
            )
        } else {
            None
        };
        let unicode = flags.contains(NegotiateFlags::UNICODE);
        Ok(AuthenticateMessage {
            flags,
            lm_response: f.data[0].to_vec(),
            nt_response: f.data[1].to_vec(),
            domain: decode_string(f.data[2], unicode, "DomainName")?,
            user: decode_string(f.data[3], unicode, "UserName")?,
            workstation: decode_string(f.data[4], unicode, "Workstation")?,
            encrypted_random_session_key: f.data[5].to_vec(),
            version: version.map(Version::decode),
            mic,
        })
    }

    /// Encodes the payload in the order sipe and Office Communicator use (domain, user,
    /// workstation, LM, NT, session key), so that their messages re-encode byte for byte.
    pub fn encode(&self) -> Result<Vec<u8>, MessageError> {
        let header = match (self.version, self.mic) {
            (None, None) => Self::FIXED,
            (Some(_), None) => Self::FIXED + 8,
            (Some(_), Some(_)) => Self::MIC_OFFSET + 16,
            (None, Some(_)) => return Err(MessageError::MicWithoutVersion),
        };
        let unicode = self.flags.contains(NegotiateFlags::UNICODE);
        let mut w = Writer::new(TYPE_AUTHENTICATE, header);
        w.put(60, &self.flags.bits().to_le_bytes());
        if let Some(v) = self.version {
            w.put(Self::FIXED, &v.encode());
        }
        if let Some(mic) = self.mic {
            w.put(Self::MIC_OFFSET, &mic);
        }
        w.field(
            28,
            &encode_string(&self.domain, unicode, "DomainName")?,
            "DomainName",
        )?;
        w.field(
            36,
            &encode_string(&self.user, unicode, "UserName")?,
            "UserName",
        )?;
        w.field(
            44,
            &encode_string(&self.workstation, unicode, "Workstation")?,
            "Workstation",
        )?;
        w.field(12, &self.lm_response, "LmChallengeResponse")?;
        w.field(20, &self.nt_response, "NtChallengeResponse")?;
        w.field(
            52,
            &self.encrypted_random_session_key,
            "EncryptedRandomSessionKey",
        )?;
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge() -> ChallengeMessage {
        let mut info = AvPairs::new();
        info.push_str(AvPairs::NB_DOMAIN_NAME, "D").unwrap();
        ChallengeMessage {
            flags: NegotiateFlags::SERVER_CHALLENGE,
            server_challenge: [1, 2, 3, 4, 5, 6, 7, 8],
            target_name: String::new(),
            target_info: Some(info),
            version: Some(Version::WINDOWS_7_SP1),
        }
    }

    #[test]
    fn header_checks() {
        let good = challenge().encode().unwrap();
        assert_eq!(
            ChallengeMessage::decode(&good[..11]),
            Err(MessageError::Truncated)
        );
        assert_eq!(
            ChallengeMessage::decode(&good[..40]),
            Err(MessageError::Truncated)
        );
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(
            ChallengeMessage::decode(&bad),
            Err(MessageError::BadSignature)
        );
        assert_eq!(
            AuthenticateMessage::decode(&good),
            Err(MessageError::WrongType {
                expected: 3,
                found: 2
            })
        );
        let mut long = good;
        long.resize(MAX_MESSAGE_LEN + 1, 0);
        assert_eq!(
            ChallengeMessage::decode(&long),
            Err(MessageError::TooLong(MAX_MESSAGE_LEN + 1))
        );
    }

    #[test]
    fn descriptor_checks() {
        let good = challenge().encode().unwrap();
        // TargetInfo length one byte past the end.
        let mut bad = good.clone();
        let len = u16::from_le_bytes([bad[40], bad[41]]) + 1;
        bad[40..42].copy_from_slice(&len.to_le_bytes());
        assert_eq!(
            ChallengeMessage::decode(&bad),
            Err(MessageError::FieldOutOfBounds {
                field: "TargetInfo"
            })
        );
        // Offset so large that offset + length overflows on 32-bit targets.
        let mut bad = good.clone();
        bad[44..48].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            ChallengeMessage::decode(&bad),
            Err(MessageError::FieldOutOfBounds {
                field: "TargetInfo"
            })
        );
        // TargetInfo pointing into the fixed header.
        let mut bad = good.clone();
        bad[44..48].copy_from_slice(&20u32.to_le_bytes());
        assert_eq!(
            ChallengeMessage::decode(&bad),
            Err(MessageError::FieldOverlapsHeader {
                field: "TargetInfo"
            })
        );
        // Payload starting inside the Version slot.
        let mut bad = good.clone();
        bad[44..48].copy_from_slice(&52u32.to_le_bytes());
        assert_eq!(
            ChallengeMessage::decode(&bad),
            Err(MessageError::FieldOverlapsHeader { field: "Version" })
        );
        // An empty field pointing past the end.
        let mut bad = good;
        bad[16..20].copy_from_slice(&10_000u32.to_le_bytes());
        assert_eq!(
            ChallengeMessage::decode(&bad),
            Err(MessageError::FieldOutOfBounds {
                field: "TargetName"
            })
        );
    }

    #[test]
    fn strings_follow_the_unicode_flag() {
        let mut c = challenge();
        c.target_name = "Sérver".into();
        assert_eq!(ChallengeMessage::decode(&c.encode().unwrap()).unwrap(), c);
        c.flags = c.flags.without(NegotiateFlags::UNICODE);
        assert_eq!(
            c.encode(),
            Err(MessageError::BadString {
                field: "TargetName"
            })
        );
        c.target_name = "SERVER".into();
        let bytes = c.encode().unwrap();
        assert_eq!(&bytes[56..62], b"SERVER");
        assert_eq!(ChallengeMessage::decode(&bytes).unwrap(), c);
    }

    #[test]
    fn odd_utf16_is_rejected() {
        let mut m = AuthenticateMessage {
            flags: NegotiateFlags::CLIENT_AUTHENTICATE,
            lm_response: vec![],
            nt_response: vec![],
            domain: String::new(),
            user: "ab".into(),
            workstation: String::new(),
            encrypted_random_session_key: vec![],
            version: None,
            mic: None,
        };
        let mut bytes = m.encode().unwrap();
        bytes[36] = 3;
        assert_eq!(
            AuthenticateMessage::decode(&bytes),
            Err(MessageError::BadString { field: "UserName" })
        );
        m.mic = Some([7; 16]);
        assert_eq!(m.encode(), Err(MessageError::MicWithoutVersion));
        m.version = Some(Version::default());
        assert_eq!(
            AuthenticateMessage::decode(&m.encode().unwrap()).unwrap(),
            m
        );
    }

    #[test]
    fn negotiate_round_trip() {
        let m = NegotiateMessage {
            flags: NegotiateFlags::UNICODE | NegotiateFlags::OEM_DOMAIN_SUPPLIED,
            domain: "DOMAIN".into(),
            workstation: "WS".into(),
            version: Some(Version::WINDOWS_7_SP1),
        };
        let bytes = m.encode().unwrap();
        assert_eq!(&bytes[40..46], b"DOMAIN");
        assert_eq!(NegotiateMessage::decode(&bytes).unwrap(), m);
    }
}
