//! An established security association: signing what the server sends and checking what
//! the client sends (docs/protocol.md, "MS-SIPAE").

use std::time::{Duration, SystemTime};

use rand::CryptoRng;

use crate::buffer::{AuthFields, MessageFields, address_uri, signature_buffer};
use crate::flags::NegotiateFlags;
use crate::header::{AuthenticationInfo, Credentials, Opaque, SCHEME};
use crate::keys::SessionKeys;
use crate::replay::{Rejection, ReplayWindow};
use crate::signature::{SIPAE_SEQUENCE_NUMBER, Signature, sign, verify};

/// [MS-SIPAE] 3.2.2: a security association never lives longer than eight hours.
pub const MAX_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// Who authenticated: the names exactly as the client sent them in the AUTHENTICATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub domain: String,
    pub workstation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the security association has expired")]
    Expired,
    #[error("the credentials are for another scheme, realm or targetname")]
    WrongTarget,
    #[error("opaque does not name this security association")]
    WrongOpaque,
    #[error("protocol version {found} on an association of version {expected}")]
    VersionMismatch { expected: u32, found: u32 },
    #[error("parameter {0} is missing")]
    Missing(&'static str),
    #[error("cnum {0:?} is not a 32-bit decimal number")]
    BadCnum(String),
    #[error("response is not 32 hex digits")]
    BadResponseHex,
    #[error("signature does not match")]
    BadSignature,
    #[error("cnum {0} was already used")]
    Replayed(u32),
    #[error("cnum {0} is too old")]
    TooOld(u32),
    #[error("message address {found:?} is not the association's {expected:?}")]
    WrongAddress { expected: String, found: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("no security association")]
    NoAssociation,
    #[error("the security association has expired")]
    Expired,
    #[error("snum exhausted")]
    SnumExhausted,
}

/// One client's security association: keys, counters and limits.
#[derive(Debug, Clone)]
pub struct Association {
    opaque: Opaque,
    version: u32,
    flags: NegotiateFlags,
    keys: SessionKeys,
    identity: Identity,
    aor: String,
    realm: String,
    targetname: String,
    established_at: SystemTime,
    expires_at: SystemTime,
    last_snum: u32,
    cnums: ReplayWindow,
}

/// What [`Association::new`] needs besides the keys.
#[derive(Debug, Clone)]
pub struct AssociationParams {
    pub opaque: Opaque,
    pub version: u32,
    pub flags: NegotiateFlags,
    pub identity: Identity,
    /// The address of record the association was established for (the From URI of the
    /// REGISTER that carried the AUTHENTICATE).
    pub aor: String,
    pub realm: String,
    pub targetname: String,
    pub established_at: SystemTime,
    /// Capped at [`MAX_LIFETIME`].
    pub lifetime: Duration,
}

impl Association {
    pub fn new(params: AssociationParams, keys: SessionKeys) -> Association {
        let lifetime = params.lifetime.min(MAX_LIFETIME);
        Association {
            opaque: params.opaque,
            version: params.version,
            flags: params.flags,
            keys,
            identity: params.identity,
            aor: params.aor,
            realm: params.realm,
            targetname: params.targetname,
            established_at: params.established_at,
            expires_at: params.established_at + lifetime,
            last_snum: 0,
            cnums: ReplayWindow::default(),
        }
    }

    pub fn opaque(&self) -> Opaque {
        self.opaque
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// The NegotiateFlags of the client's AUTHENTICATE.
    pub fn flags(&self) -> NegotiateFlags {
        self.flags
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn aor(&self) -> &str {
        &self.aor
    }

    pub fn established_at(&self) -> SystemTime {
        self.established_at
    }

    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }

    /// The `snum` of the last signed message (0 before the first).
    pub fn last_snum(&self) -> u32 {
        self.last_snum
    }

    /// Checks a message the client signed: its `Authorization`/`Proxy-Authorization`
    /// parameters and the message's buffer fields. On success the `cnum` is recorded, so
    /// the same message is refused the second time.
    pub fn verify(
        &mut self,
        creds: &Credentials,
        msg: &MessageFields<'_>,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        if self.is_expired(now) {
            return Err(VerifyError::Expired);
        }
        if !creds.is_for(&self.realm, &self.targetname) {
            return Err(VerifyError::WrongTarget);
        }
        if creds.opaque.as_deref().and_then(Opaque::parse) != Some(self.opaque) {
            return Err(VerifyError::WrongOpaque);
        }
        // sipe leaves `version` out of the Authorization of every signed message after
        // the handshake, so an absent version means the association's own.
        if let Some(found) = creds.version.filter(|v| *v != self.version) {
            return Err(VerifyError::VersionMismatch {
                expected: self.version,
                found,
            });
        }
        let crand = creds
            .crand
            .as_deref()
            .ok_or(VerifyError::Missing("crand"))?;
        let cnum_text = creds.cnum.as_deref().ok_or(VerifyError::Missing("cnum"))?;
        let response = creds
            .response
            .as_deref()
            .ok_or(VerifyError::Missing("response"))?;
        let cnum =
            parse_decimal(cnum_text).ok_or_else(|| VerifyError::BadCnum(cnum_text.to_owned()))?;
        let received = Signature::from_hex(response).map_err(|_| VerifyError::BadResponseHex)?;
        self.cnums.check(cnum).map_err(|r| match r {
            Rejection::Replayed => VerifyError::Replayed(cnum),
            Rejection::TooOld => VerifyError::TooOld(cnum),
        })?;
        let auth = AuthFields {
            scheme: &creds.scheme,
            rand: crand,
            num: cnum_text,
            realm: &self.realm,
            targetname: &self.targetname,
        };
        let buffer = signature_buffer(self.version, &auth, msg);
        if !verify(
            &self.keys.client,
            self.flags,
            SIPAE_SEQUENCE_NUMBER,
            buffer.as_bytes(),
            &received,
        ) {
            return Err(VerifyError::BadSignature);
        }
        // The client is the From of its requests and the To of its responses.
        let address = address_uri(if msg.is_request() { msg.from } else { msg.to });
        if !address.eq_ignore_ascii_case(&self.aor) {
            return Err(VerifyError::WrongAddress {
                expected: self.aor.clone(),
                found: address.to_owned(),
            });
        }
        self.cnums.accept(cnum);
        Ok(())
    }

    /// Signs a message the server sends on this association, drawing `srand` (and the
    /// legacy random pad) from `rng`. Call it last, once every header that enters the
    /// buffer is final, and add the result as `Authentication-Info`.
    pub fn sign<R: CryptoRng + ?Sized>(
        &mut self,
        msg: &MessageFields<'_>,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<AuthenticationInfo, SignError> {
        let srand = rng.next_u32();
        let pad = rng.next_u32();
        self.sign_with(msg, now, srand, pad)
    }

    /// [`sign`](Self::sign) with the random values given.
    pub fn sign_with(
        &mut self,
        msg: &MessageFields<'_>,
        now: SystemTime,
        srand: u32,
        random_pad: u32,
    ) -> Result<AuthenticationInfo, SignError> {
        if self.is_expired(now) {
            return Err(SignError::Expired);
        }
        let snum = self
            .last_snum
            .checked_add(1)
            .ok_or(SignError::SnumExhausted)?;
        let srand = format!("{srand:08X}");
        let snum_text = snum.to_string();
        let auth = AuthFields {
            scheme: SCHEME,
            rand: &srand,
            num: &snum_text,
            realm: &self.realm,
            targetname: &self.targetname,
        };
        let buffer = signature_buffer(self.version, &auth, msg);
        let rspauth = sign(
            &self.keys.server,
            self.flags,
            SIPAE_SEQUENCE_NUMBER,
            buffer.as_bytes(),
            random_pad,
        );
        self.last_snum = snum;
        Ok(AuthenticationInfo {
            opaque: self.opaque.to_string(),
            srand,
            snum: snum_text,
            rspauth,
            targetname: self.targetname.clone(),
            realm: self.realm.clone(),
            version: (self.version >= 3).then_some(self.version),
        })
    }
}

/// `cnum` is plain decimal; a sign or spaces would let two spellings share one number.
fn parse_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_only() {
        assert_eq!(parse_decimal("42"), Some(42));
        assert_eq!(parse_decimal("+42"), None);
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal("4294967296"), None);
    }
}
