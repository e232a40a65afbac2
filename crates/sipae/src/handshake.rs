//! The server side of the connectionless NTLM handshake (docs/protocol.md, "MS-SIPAE"): the
//! offer, the CHALLENGE, and the check of the AUTHENTICATE that yields an association.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::CryptoRng;

use crate::association::{Association, AssociationParams, Identity, MAX_LIFETIME, VerifyError};
use crate::av_pairs::AvPairs;
use crate::buffer::{MessageFields, address_uri};
use crate::crypto::ct_eq;
use crate::flags::NegotiateFlags;
use crate::header::{self, Credentials, DEFAULT_REALM, GssapiData, Opaque};
use crate::keys::SessionKeys;
use crate::messages::{AuthenticateMessage, ChallengeMessage, MessageError, Version};
use crate::ntlmv2::{self, NtHash, NtlmV2Error, NtlmV2Response};

/// The names the CHALLENGE's TargetInfo announces. Clients echo them in their NTLMv2 blob;
/// they do not enter the key, so they only need to be plausible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetNames {
    pub nb_domain: String,
    pub nb_computer: String,
    pub dns_domain: String,
    pub dns_computer: String,
    pub dns_tree: String,
}

impl TargetNames {
    /// Derives the NetBIOS names from DNS names the way Windows does by default: the first
    /// label, upper-cased, cut to 15 characters.
    pub fn from_dns(fqdn: &str, dns_domain: &str) -> TargetNames {
        let netbios = |name: &str| {
            name.split('.')
                .next()
                .unwrap_or_default()
                .to_uppercase()
                .chars()
                .take(15)
                .collect()
        };
        TargetNames {
            nb_domain: netbios(dns_domain),
            nb_computer: netbios(fqdn),
            dns_domain: dns_domain.to_owned(),
            dns_computer: fqdn.to_owned(),
            dns_tree: dns_domain.to_owned(),
        }
    }
}

/// What the server announces and accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `realm`; [`DEFAULT_REALM`] unless there is a reason.
    pub realm: String,
    /// `targetname`: the server's FQDN.
    pub targetname: String,
    /// The protocol version offered: 2, 3 or 4. The client must echo it.
    pub version: u32,
    pub target_names: TargetNames,
    /// Accept clients that negotiate NTLM without extended session security (legacy
    /// signatures). Off by default: only one real vector supports that path.
    pub allow_without_extended_session_security: bool,
    /// Check the MIC when a client announces one. Verified only against this crate's own
    /// client; turn it off if a Windows client computes it differently.
    pub verify_mic: bool,
    /// How long a CHALLENGE can be answered.
    pub challenge_lifetime: Duration,
    /// How long an association lives, at most [`MAX_LIFETIME`].
    pub association_lifetime: Duration,
}

impl ServerConfig {
    /// Version 4, the default realm, names derived from `targetname` and `dns_domain`.
    pub fn new(targetname: &str, dns_domain: &str) -> ServerConfig {
        ServerConfig {
            realm: DEFAULT_REALM.to_owned(),
            targetname: targetname.to_owned(),
            version: 4,
            target_names: TargetNames::from_dns(targetname, dns_domain),
            allow_without_extended_session_security: false,
            verify_mic: true,
            challenge_lifetime: Duration::from_secs(60),
            association_lifetime: MAX_LIFETIME,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must be non-empty and contain no quote, backslash or control character")]
    BadValue(&'static str),
    #[error("protocol version {0} is not 2, 3 or 4")]
    BadVersion(u32),
    #[error("association lifetime {0:?} exceeds eight hours")]
    LifetimeTooLong(Duration),
    #[error("{0}")]
    TargetInfo(#[from] MessageError),
}

/// Why an AUTHENTICATE was refused. Answer 401 with a fresh offer (or 403), whatever the
/// variant: telling them apart is for the log, not for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no pending challenge for this opaque")]
    UnknownOpaque,
    #[error("the challenge has expired")]
    ChallengeExpired,
    #[error("protocol version {found}, but {offered} was offered")]
    VersionMismatch { offered: u32, found: u32 },
    #[error("no AUTHENTICATE token in gssapi-data")]
    MissingToken,
    #[error("AUTHENTICATE: {0}")]
    Message(#[from] MessageError),
    #[error("AUTHENTICATE sets reserved flags {0:#X}")]
    ReservedFlags(u32),
    #[error("AUTHENTICATE without UNICODE")]
    NotUnicode,
    #[error("AUTHENTICATE without extended session security")]
    NoExtendedSessionSecurity,
    #[error("AUTHENTICATE lacks required flags {0:?}")]
    MissingFlags(NegotiateFlags),
    #[error("EncryptedRandomSessionKey of {0} bytes, expected 16")]
    BadSessionKeyLength(usize),
    #[error("no account for this user and domain")]
    UnknownAccount,
    #[error("{0}")]
    Ntlm(#[from] NtlmV2Error),
    #[error("the client announced a MIC but sent none")]
    MissingMic,
    #[error("MIC does not match")]
    BadMic,
    #[error("signature on the AUTHENTICATE request: {0}")]
    Signature(#[from] VerifyError),
}

/// A CHALLENGE sent and not yet answered, kept per connection until the AUTHENTICATE
/// arrives. It can be used once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChallenge {
    opaque: Opaque,
    challenge: Vec<u8>,
    server_challenge: [u8; 8],
    expires_at: SystemTime,
}

impl PendingChallenge {
    /// Rebuilds a pending challenge from the CHALLENGE bytes that were sent (for a server
    /// that keeps pending state outside the process, and for tests with recorded traffic).
    pub fn from_parts(
        opaque: Opaque,
        challenge: Vec<u8>,
        expires_at: SystemTime,
    ) -> Result<Self, MessageError> {
        let server_challenge = ChallengeMessage::decode(&challenge)?.server_challenge;
        Ok(PendingChallenge {
            opaque,
            challenge,
            server_challenge,
            expires_at,
        })
    }

    pub fn opaque(&self) -> Opaque {
        self.opaque
    }

    /// The exact CHALLENGE bytes sent (the MIC covers them).
    pub fn challenge_bytes(&self) -> &[u8] {
        &self.challenge
    }

    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }
}

/// Windows FILETIME: 100 ns ticks since 1601-01-01.
pub fn filetime(t: SystemTime) -> u64 {
    const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH_AS_FILETIME.saturating_add((d.as_nanos() / 100) as u64),
        Err(e) => UNIX_EPOCH_AS_FILETIME.saturating_sub((e.duration().as_nanos() / 100) as u64),
    }
}

/// The server half of the handshake, shared by all connections.
#[derive(Debug, Clone)]
pub struct Server {
    config: ServerConfig,
}

fn header_safe(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c == '"' || c == '\\' || c.is_control())
}

impl Server {
    pub fn new(config: ServerConfig) -> Result<Server, ConfigError> {
        if !header_safe(&config.realm) {
            return Err(ConfigError::BadValue("realm"));
        }
        if !header_safe(&config.targetname) {
            return Err(ConfigError::BadValue("targetname"));
        }
        if !(2..=4).contains(&config.version) {
            return Err(ConfigError::BadVersion(config.version));
        }
        if config.association_lifetime > MAX_LIFETIME {
            return Err(ConfigError::LifetimeTooLong(config.association_lifetime));
        }
        let server = Server { config };
        server.challenge_message([0; 8], 0)?;
        Ok(server)
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Step A: the `WWW-Authenticate` value of the first, unsigned 401.
    pub fn offer(&self) -> String {
        header::offer(
            &self.config.realm,
            &self.config.targetname,
            self.config.version,
        )
    }

    /// Picks this server's NTLM credentials among a message's `Authorization` and
    /// `Proxy-Authorization` values (a message may carry one per association). Values that
    /// do not parse, or are for another scheme, realm or targetname, are skipped.
    pub fn find_credentials<'a>(
        &self,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Option<Credentials> {
        values
            .into_iter()
            .filter_map(|v| Credentials::parse(v).ok())
            .find(|c| c.is_for(&self.config.realm, &self.config.targetname))
    }

    fn target_info(&self, timestamp: u64) -> Result<AvPairs, MessageError> {
        let n = &self.config.target_names;
        let mut info = AvPairs::new();
        info.push_str(AvPairs::NB_DOMAIN_NAME, &n.nb_domain)?;
        info.push_str(AvPairs::NB_COMPUTER_NAME, &n.nb_computer)?;
        info.push_str(AvPairs::DNS_DOMAIN_NAME, &n.dns_domain)?;
        info.push_str(AvPairs::DNS_COMPUTER_NAME, &n.dns_computer)?;
        info.push_str(AvPairs::DNS_TREE_NAME, &n.dns_tree)?;
        info.push(AvPairs::TIMESTAMP, timestamp.to_le_bytes().to_vec())?;
        Ok(info)
    }

    /// The CHALLENGE this server sends: Lync 2013's flags, an empty TargetName, the
    /// TargetInfo names and the timestamp, Version 6.1.7601.
    fn challenge_message(
        &self,
        server_challenge: [u8; 8],
        timestamp: u64,
    ) -> Result<Vec<u8>, MessageError> {
        ChallengeMessage {
            flags: NegotiateFlags::SERVER_CHALLENGE,
            server_challenge,
            target_name: String::new(),
            target_info: Some(self.target_info(timestamp)?),
            version: Some(Version::WINDOWS_7_SP1),
        }
        .encode()
    }

    /// Step B: a fresh CHALLENGE (random ServerChallenge and `opaque`, the time as
    /// MsvAvTimestamp) and the `WWW-Authenticate` value of the 401 that carries it.
    pub fn challenge<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        now: SystemTime,
    ) -> (PendingChallenge, String) {
        let mut server_challenge = [0u8; 8];
        rng.fill_bytes(&mut server_challenge);
        let opaque = Opaque::new(rng.next_u32());
        // Only the challenge and the timestamp differ from the message Server::new built.
        let challenge = self
            .challenge_message(server_challenge, filetime(now))
            .expect("checked in Server::new");
        let header = header::challenge(
            opaque,
            &challenge,
            &self.config.targetname,
            &self.config.realm,
            self.config.version,
        );
        let expires_at = now + self.config.challenge_lifetime;
        (
            PendingChallenge {
                opaque,
                challenge,
                server_challenge,
                expires_at,
            },
            header,
        )
    }

    /// Step C: checks the AUTHENTICATE in `creds` against `pending` and the account's NT
    /// hash (found by `lookup` from the names the client sent), and establishes the
    /// association. When the request also carries a signature (version 4), it is checked
    /// with the new keys and its `cnum` recorded.
    pub fn authenticate(
        &self,
        pending: PendingChallenge,
        creds: &Credentials,
        msg: &MessageFields<'_>,
        now: SystemTime,
        lookup: impl FnOnce(&Identity) -> Option<NtHash>,
    ) -> Result<Association, AuthError> {
        if pending.is_expired(now) {
            return Err(AuthError::ChallengeExpired);
        }
        if creds.opaque.as_deref().and_then(Opaque::parse) != Some(pending.opaque) {
            return Err(AuthError::UnknownOpaque);
        }
        let found = creds.protocol_version();
        if found != self.config.version {
            return Err(AuthError::VersionMismatch {
                offered: self.config.version,
                found,
            });
        }
        let GssapiData::Token(token) = &creds.gssapi_data else {
            return Err(AuthError::MissingToken);
        };
        let message = AuthenticateMessage::decode(token)?;
        self.check_flags(&message)?;
        let encrypted_key: [u8; 16] = message
            .encrypted_random_session_key
            .as_slice()
            .try_into()
            .map_err(|_| {
                AuthError::BadSessionKeyLength(message.encrypted_random_session_key.len())
            })?;
        let identity = Identity {
            user: message.user.clone(),
            domain: message.domain.clone(),
            workstation: message.workstation.clone(),
        };
        let nt_hash = lookup(&identity).ok_or(AuthError::UnknownAccount)?;
        let session_base_key = ntlmv2::verify(&nt_hash, &message, &pending.server_challenge)?;
        let exported = ntlmv2::rc4_session_key(&session_base_key, &encrypted_key);
        self.check_mic(&message, token, &pending, &exported)?;

        let params = AssociationParams {
            opaque: pending.opaque,
            version: self.config.version,
            flags: message.flags,
            identity,
            aor: address_uri(msg.from).to_owned(),
            realm: self.config.realm.clone(),
            targetname: self.config.targetname.clone(),
            established_at: now,
            lifetime: self.config.association_lifetime,
        };
        let mut association =
            Association::new(params, SessionKeys::derive(&exported, message.flags));
        if creds.response.is_some() {
            association.verify(creds, msg, now)?;
        }
        Ok(association)
    }

    fn check_flags(&self, m: &AuthenticateMessage) -> Result<(), AuthError> {
        let reserved = m.flags.bits() & NegotiateFlags::RESERVED.bits();
        if reserved != 0 {
            return Err(AuthError::ReservedFlags(reserved));
        }
        if !m.flags.contains(NegotiateFlags::UNICODE) {
            return Err(AuthError::NotUnicode);
        }
        if !m.flags.contains(NegotiateFlags::EXTENDED_SESSION_SECURITY)
            && !self.config.allow_without_extended_session_security
        {
            return Err(AuthError::NoExtendedSessionSecurity);
        }
        let required = NegotiateFlags::SIGN | NegotiateFlags::DATAGRAM | NegotiateFlags::KEY_EXCH;
        if !m.flags.contains(required) {
            return Err(AuthError::MissingFlags(required.without(m.flags)));
        }
        Ok(())
    }

    fn check_mic(
        &self,
        m: &AuthenticateMessage,
        token: &[u8],
        pending: &PendingChallenge,
        exported: &[u8; 16],
    ) -> Result<(), AuthError> {
        let announced = NtlmV2Response::parse(&m.nt_response)?
            .av_pairs
            .flags()
            .is_some_and(|f| f & AvPairs::FLAG_MIC_PRESENT != 0);
        if !announced {
            return Ok(());
        }
        let Some(mic) = m.mic else {
            return Err(AuthError::MissingMic);
        };
        if !self.config.verify_mic {
            return Ok(());
        }
        let mut zeroed = token.to_vec();
        let at = AuthenticateMessage::MIC_OFFSET;
        zeroed[at..at + 16].fill(0);
        if ct_eq(&ntlmv2::mic(exported, &pending.challenge, &zeroed), &mic) {
            Ok(())
        } else {
            Err(AuthError::BadMic)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_conversion() {
        assert_eq!(filetime(UNIX_EPOCH), 116_444_736_000_000_000);
        // The Lync 2013 CHALLENGE's timestamp 0x01D25136FFEE48DD is 2016-12-08 09:39:41 UTC.
        let t = UNIX_EPOCH + Duration::from_secs(1_481_189_981);
        assert_eq!(filetime(t) / 10_000_000, 0x01D2_5136_FFEE_48DD / 10_000_000);
        assert_eq!(
            filetime(UNIX_EPOCH - Duration::from_secs(1)),
            116_444_735_990_000_000
        );
    }

    #[test]
    fn target_names_from_dns() {
        let n = TargetNames::from_dns("fe01.example.test", "example.test");
        assert_eq!(
            (n.nb_computer.as_str(), n.nb_domain.as_str()),
            ("FE01", "EXAMPLE")
        );
        let n = TargetNames::from_dns("averyveryverylongname.x", "x");
        assert_eq!(n.nb_computer, "AVERYVERYVERYLO");
    }

    #[test]
    fn config_validation() {
        let ok = ServerConfig::new("fe.example.test", "example.test");
        assert!(Server::new(ok.clone()).is_ok());
        let bad = ServerConfig {
            targetname: "a\"b".into(),
            ..ok.clone()
        };
        assert_eq!(
            Server::new(bad).unwrap_err(),
            ConfigError::BadValue("targetname")
        );
        let bad = ServerConfig {
            realm: String::new(),
            ..ok.clone()
        };
        assert_eq!(
            Server::new(bad).unwrap_err(),
            ConfigError::BadValue("realm")
        );
        let bad = ServerConfig {
            version: 5,
            ..ok.clone()
        };
        assert_eq!(Server::new(bad).unwrap_err(), ConfigError::BadVersion(5));
        let long = MAX_LIFETIME + Duration::from_secs(1);
        let bad = ServerConfig {
            association_lifetime: long,
            ..ok.clone()
        };
        assert_eq!(
            Server::new(bad).unwrap_err(),
            ConfigError::LifetimeTooLong(long)
        );
        let mut bad = ok;
        bad.target_names.dns_tree = "x".repeat(40_000);
        assert!(matches!(Server::new(bad), Err(ConfigError::TargetInfo(_))));
    }
}
