//! Sans-IO NTLM authentication and message signing for SIP, per [MS-SIPAE] and [MS-NLMP]
//! with the choices of docs/protocol.md ("MS-SIPAE"): what a registrar needs to authenticate
//! Lync/SfB-family clients and pidgin-sipe, and to sign and check every later message.
//!
//! No sockets, no clock, no global randomness: time comes in as `now`, randomness as an
//! `rng` argument, stored secrets through a lookup closure.
//!
//! # Integration, per client connection
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use rand::SeedableRng;
//! use sipae::{Inbound, MessageFields, NtHash, Server, ServerConfig, Session, Verdict};
//!
//! let server = Server::new(ServerConfig::new("fe.example.test", "example.test")).unwrap();
//! let mut session = Session::new(); // one per client connection
//! let mut rng = rand::rngs::StdRng::from_os_rng();
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let request = sip_proto::Headers::new(); // the headers of an incoming REGISTER
//!
//! // Every incoming request or response (Inbound::of_request / of_response for
//! // sip_proto messages):
//! let verdict = session.handle(&server, &Inbound::from_headers(&request, None), now, &mut rng, |id| {
//!     // Map (id.user, id.domain) to an account and return its stored NT hash.
//!     Some(NtHash::from_password("secret"))
//! });
//! match verdict {
//!     Verdict::Authentic | Verdict::Established => {} // process, then sign the answer
//!     Verdict::Offer(www_authenticate) | Verdict::Challenge(www_authenticate) => {
//!         assert!(www_authenticate.starts_with("NTLM ")); // 401 with Date + WWW-Authenticate
//!     }
//!     Verdict::Rejected(_reason) => {} // log the reason; 401 with server.offer()
//!     Verdict::Discard(_) => {}        // drop
//!     Verdict::Close => {}             // close the connection
//! }
//!
//! // Every message sent to that client, once the headers that enter the buffer are final:
//! let response = sip_proto::Headers::new();
//! if let Ok(info) = session.sign(&MessageFields::from_headers(&response, Some(200)), now, &mut rng) {
//!     let _authentication_info: String = info.to_header_value();
//! }
//! ```
//!
//! The layers below [`Session`] are public for servers that keep state differently and
//! for tests: [`Server`] (offer, CHALLENGE, AUTHENTICATE check), [`Association`] (sign,
//! verify), the buffer builder, the MAC, key derivation, NTLMv2 and the message codec.

mod association;
mod av_pairs;
mod buffer;
pub mod client;
mod crypto;
mod flags;
mod handshake;
mod header;
mod keys;
mod messages;
mod ntlmv2;
mod replay;
mod session;
pub mod signature;
mod sip;
mod text;

pub use association::{
    Association, AssociationParams, Identity, MAX_LIFETIME, SignError, VerifyError,
};
pub use av_pairs::{AvPair, AvPairs};
pub use buffer::{AuthFields, MessageFields, address_uri, identity_uris, signature_buffer, tag};
pub use flags::NegotiateFlags;
pub use handshake::{
    AuthError, ConfigError, PendingChallenge, Server, ServerConfig, TargetNames, filetime,
};
pub use header::{
    AuthenticationInfo, Credentials, DEFAULT_REALM, GssapiData, HeaderError, Opaque, SCHEME,
    challenge, offer,
};
pub use keys::{DirectionKeys, SessionKeys};
pub use messages::{
    AuthenticateMessage, ChallengeMessage, MAX_MESSAGE_LEN, MessageError, NegotiateMessage, Version,
};
pub use ntlmv2::{
    NtHash, NtlmV2Error, NtlmV2Response, Uppercase, lmv2_response, mic, nt_proof_str, ntowfv2,
    rc4_session_key, session_base_key, verify as verify_ntlmv2,
};
pub use replay::{Rejection, ReplayWindow};
pub use session::{Discard, Inbound, Session, Verdict};
pub use signature::{SIPAE_SEQUENCE_NUMBER, Signature};
