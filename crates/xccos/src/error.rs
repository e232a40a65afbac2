//! Typed failures. Every [`ParseError`] means the body is unusable as XCCOS, so a server
//! answers the carrying SIP INFO with `400 Bad Request`; a well-formed command that the
//! server does not implement is not an error but [`crate::CommandKind::Unknown`].

use thiserror::Error;

/// Why a body could not be read as an XCCOS envelope.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("body of {size} bytes exceeds the limit of {limit} bytes")]
    BodyTooLarge { size: usize, limit: usize },
    #[error("body is not valid UTF-8")]
    NotUtf8,
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("document type declarations are refused")]
    Doctype,
    #[error("processing instruction `{0}` is refused")]
    ProcessingInstruction(String),
    #[error("the XML declaration is only allowed at the start of the body")]
    MisplacedDeclaration,
    #[error("entity `&{0};` is not one of the predefined XML entities")]
    UnknownEntity(String),
    #[error("character U+{0:04X} is not allowed in XML")]
    InvalidCharacter(u32),
    #[error("elements are nested deeper than {limit}")]
    TooDeep { limit: usize },
    #[error("element `{element}` has more than {limit} attributes")]
    TooManyAttributes { element: String, limit: usize },
    #[error("element `{element}` has more than {limit} child elements")]
    TooManyItems { element: String, limit: usize },
    #[error("content after the root element")]
    TrailingContent,
    #[error("the body ends before its root element is complete")]
    UnexpectedEof,
    #[error("root element is `{0}`, not `xccos`")]
    NotXccos(String),
    #[error("unsupported XCCOS version `{0}`")]
    UnsupportedVersion(String),
    #[error("the envelope carries no cmd, rpl, ntc or grpchat")]
    EmptyEnvelope,
    #[error("`{element}` lacks attribute `{attribute}`")]
    MissingAttribute {
        element: String,
        attribute: &'static str,
    },
    #[error("`{element}` has an invalid `{attribute}` attribute")]
    InvalidAttribute {
        element: String,
        attribute: &'static str,
    },
    #[error("`{element}` has invalid text content")]
    InvalidText { element: String },
    #[error("`{parent}` lacks child element `{child}`")]
    MissingElement { parent: String, child: &'static str },
    #[error("`bcq` carries no supported query form")]
    UnsupportedQuery,
}

/// A chat text over the server's `messageSizeLimit` or `storySizeLimit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{} of {size} bytes exceeds the limit of {limit} bytes", if *.story { "story" } else { "chat message" })]
pub struct ChatTooLarge {
    pub size: usize,
    pub limit: usize,
    pub story: bool,
}

/// A time stamp that is not `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, or is outside the
/// range of [`i64`] nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TimeError {
    #[error("malformed time stamp")]
    Malformed,
    #[error("time stamp out of range")]
    OutOfRange,
}
