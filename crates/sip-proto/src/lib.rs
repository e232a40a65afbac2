//! Sans-IO SIP for Parlance.
//!
//! Bytes in, typed values out, and back: a streaming [`Decoder`] that frames SIP over
//! TCP/TLS under hard [`Limits`], [`Request`]/[`Response`] values with typed views of the
//! headers a registrar and proxy need, a serialiser that always writes full header names,
//! and Digest authentication math. Nothing here touches a socket or a clock.
//!
//! Errors say what SIP answer they deserve: [`ParseError::status`] for a message that was
//! framed but is unacceptable (the connection carries on), [`FramingError`] when the
//! stream cannot be split any more (the connection must close).

pub mod auth;
mod decoder;
mod error;
pub mod headers;
mod matching;
mod message;
mod method;
mod syntax;
mod typed;
mod uri;

pub use decoder::{Decoder, Item, Limits};
pub use error::{FramingError, ParseError, reason_phrase};
pub use headers::{Header, Headers, name};
pub use matching::ResponseMatch;
pub use message::{HeadLimits, Message, Rejected, Request, Response, parse};
pub use method::Method;
pub use syntax::{quote, unquote};
pub use typed::{BRANCH_COOKIE, CSeq, Via};
pub use uri::{NameAddr, Params, Scheme, SipUri, Uri, UriError, unescape};
