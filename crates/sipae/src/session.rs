//! The per-connection state machine (docs/protocol.md, "MS-SIPAE"): which answer each incoming
//! message gets, from the first 401 through the handshake to signed traffic, expiry and
//! re-authentication. Every client has one connection, so the association is bound to it.

use std::time::SystemTime;

use rand::CryptoRng;

use crate::association::{Association, Identity, SignError, VerifyError};
use crate::buffer::MessageFields;
use crate::handshake::{AuthError, PendingChallenge, Server};
use crate::header::{AuthenticationInfo, GssapiData, Opaque};
use crate::ntlmv2::NtHash;

/// An incoming message as the state machine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound<'a> {
    pub fields: MessageFields<'a>,
    /// Every `Authorization` and `Proxy-Authorization` value, in message order.
    pub credentials: Vec<&'a str>,
}

/// What to do with an incoming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Process it: its signature verified with the association's keys.
    Authentic,
    /// The REGISTER completed the handshake and is authentic: process it and answer with a
    /// signed 200 ([`Session::sign`]).
    Established,
    /// Answer 401 (unsigned, with `Date`) carrying this `WWW-Authenticate` value.
    Offer(String),
    /// Answer 401 carrying this `WWW-Authenticate` value with the CHALLENGE.
    Challenge(String),
    /// The AUTHENTICATE was refused: answer 401 with [`Server::offer`] (or 403); log the
    /// reason, and do not tell the client which check failed.
    Rejected(AuthError),
    /// Drop it without an answer.
    Discard(Discard),
    /// Close the connection: the client has no usable association and already had a 401 for
    /// a non-REGISTER request; sipe would resend at once forever.
    Close,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discard {
    /// An ACK, CANCEL or response without usable credentials.
    Unauthenticated,
    /// Handshake data on something other than a REGISTER request.
    HandshakeOutsideRegister,
    /// An unsigned request while the client re-authenticates: it has dropped its keys, and
    /// accepting it would let anyone on the path speak for the client until the new
    /// association exists.
    UnsignedDuringReauthentication,
    /// A signature that does not verify, is replayed, or belongs to an expired association.
    Invalid(VerifyError),
}

/// The authentication state of one client connection.
#[derive(Debug, Default)]
pub struct Session {
    pending: Option<PendingChallenge>,
    association: Option<Association>,
    /// While the client re-authenticates it has no keys and sends unsigned requests; until
    /// this instant they are dropped quietly instead of answered with a 401 (sipe would
    /// start over), if the old association is still alive.
    reauth_until: Option<SystemTime>,
    /// A 401 already went to a non-REGISTER request without an association since.
    offered_non_register: bool,
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    pub fn association(&self) -> Option<&Association> {
        self.association.as_ref()
    }

    /// The authenticated client, if there is a live association.
    pub fn identity(&self) -> Option<&Identity> {
        self.association.as_ref().map(Association::identity)
    }

    /// Forgets the association and any pending challenge: the connection is back to
    /// unauthenticated (used when an association was established for the wrong principal).
    pub fn abandon(&mut self) {
        self.association = None;
        self.pending = None;
        self.reauth_until = None;
    }

    /// Forgets an expired association and an expired pending challenge.
    pub fn expire(&mut self, now: SystemTime) {
        if self.association.as_ref().is_some_and(|a| a.is_expired(now)) {
            self.association = None;
            self.reauth_until = None;
        }
        if self.pending.as_ref().is_some_and(|p| p.is_expired(now)) {
            self.pending = None;
        }
    }

    /// Decides what to do with an incoming message (handshake, signed traffic,
    /// re-authentication and expiry).
    ///
    /// Re-authentication: a client whose association is alive may start a new handshake
    /// with a REGISTER (sipe does so five minutes before the eight hours are up, after
    /// dropping its keys). Nothing unsigned is ever processed once a connection is signed:
    /// for one challenge lifetime its unsigned requests are dropped, and the new association
    /// replaces the old one once the AUTHENTICATE is verified. The caller checks that the
    /// new association is for the same principal ([`Session::abandon`] otherwise).
    pub fn handle<R: CryptoRng + ?Sized>(
        &mut self,
        server: &Server,
        msg: &Inbound<'_>,
        now: SystemTime,
        rng: &mut R,
        lookup: impl FnOnce(&Identity) -> Option<NtHash>,
    ) -> Verdict {
        self.expire(now);
        let fields = &msg.fields;
        let is_register = fields.is_request() && fields.method() == "REGISTER";
        let Some(creds) = server.find_credentials(msg.credentials.iter().copied()) else {
            return self.unauthenticated(server, fields, now, msg.credentials.is_empty());
        };
        match &creds.gssapi_data {
            GssapiData::Empty if is_register => {
                let (pending, header) = server.challenge(rng, now);
                self.start_reauth(now, pending.expires_at());
                self.pending = Some(pending);
                Verdict::Challenge(header)
            }
            GssapiData::Token(_) if is_register => {
                let Some(pending) = self.pending.take() else {
                    return Verdict::Rejected(AuthError::UnknownOpaque);
                };
                match server.authenticate(pending, &creds, fields, now, lookup) {
                    Ok(association) => {
                        self.association = Some(association);
                        self.reauth_until = None;
                        self.offered_non_register = false;
                        Verdict::Established
                    }
                    Err(e) => {
                        self.reauth_until = None;
                        Verdict::Rejected(e)
                    }
                }
            }
            GssapiData::Empty | GssapiData::Token(_) => {
                Verdict::Discard(Discard::HandshakeOutsideRegister)
            }
            GssapiData::Absent => {
                let opaque = creds.opaque.as_deref().and_then(Opaque::parse);
                match self
                    .association
                    .as_mut()
                    .filter(|a| Some(a.opaque()) == opaque)
                {
                    Some(a) => match a.verify(&creds, fields, now) {
                        Ok(()) => Verdict::Authentic,
                        Err(e) => Verdict::Discard(Discard::Invalid(e)),
                    },
                    None => self.unauthenticated(server, fields, now, false),
                }
            }
        }
    }

    /// Signs a message the server sends to this client (its `Authentication-Info`); add the result as
    /// `Authentication-Info`.
    pub fn sign<R: CryptoRng + ?Sized>(
        &mut self,
        msg: &MessageFields<'_>,
        now: SystemTime,
        rng: &mut R,
    ) -> Result<AuthenticationInfo, SignError> {
        self.association
            .as_mut()
            .ok_or(SignError::NoAssociation)?
            .sign(msg, now, rng)
    }

    fn start_reauth(&mut self, now: SystemTime, until: SystemTime) {
        if self
            .association
            .as_ref()
            .is_some_and(|a| !a.is_expired(now))
        {
            self.reauth_until = Some(until);
        }
    }

    /// A message without usable credentials: no header for us, or one naming an unknown
    /// or expired association.
    fn unauthenticated(
        &mut self,
        server: &Server,
        fields: &MessageFields<'_>,
        now: SystemTime,
        unsigned: bool,
    ) -> Verdict {
        let method = fields.method();
        if !fields.is_request() || method == "ACK" || method == "CANCEL" {
            return Verdict::Discard(Discard::Unauthenticated);
        }
        if method == "REGISTER" {
            let until = now + server.config().challenge_lifetime;
            self.start_reauth(now, until);
            return Verdict::Offer(server.offer());
        }
        if unsigned && self.association.is_some() && self.reauth_until.is_some_and(|t| now < t) {
            return Verdict::Discard(Discard::UnsignedDuringReauthentication);
        }
        if self.offered_non_register {
            return Verdict::Close;
        }
        self.offered_non_register = true;
        Verdict::Offer(server.offer())
    }
}
