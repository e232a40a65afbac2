//! Errors of the decoder and the message parser, each mapped to the SIP answer it deserves.

use crate::uri::UriError;

/// The stream can no longer be split into messages: the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("message head exceeds {limit} bytes without an end")]
    HeadTooLarge { limit: usize },
    #[error("Content-Length is missing a valid value: {0:?}")]
    BadContentLength(String),
    #[error("several Content-Length headers disagree")]
    ConflictingContentLength,
}

impl FramingError {
    /// The answer worth attempting before closing, when the head could still be read.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            FramingError::HeadTooLarge { .. } => (513, "Message Too Large"),
            FramingError::BadContentLength(_) => (400, "Malformed Content-Length"),
            FramingError::ConflictingContentLength => (400, "Conflicting Content-Length"),
        }
    }
}

/// One message was framed correctly but is not acceptable. The connection carries on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("malformed start line")]
    BadStartLine,
    #[error("request line is longer than {limit} bytes")]
    RequestLineTooLong { limit: usize },
    #[error("SIP version {0:?} is not supported")]
    UnsupportedVersion(String),
    #[error("malformed Request-URI: {0}")]
    BadRequestUri(UriError),
    #[error("Request-URI scheme is not sip or sips")]
    UnsupportedUriScheme,
    #[error("Request-URI carries headers")]
    RequestUriHeaders,
    #[error("malformed header line {0:?}")]
    BadHeaderLine(String),
    #[error("message head is not valid UTF-8")]
    NotUtf8,
    #[error("more than {limit} header lines")]
    TooManyHeaders { limit: usize },
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed {0} header")]
    BadHeader(&'static str),
    #[error("more than one {0} header")]
    DuplicateHeader(&'static str),
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    #[error("body of {len} bytes exceeds the limit of {limit}")]
    BodyTooLarge { len: usize, limit: usize },
}

impl ParseError {
    /// The status code and a reason phrase naming the precise problem.
    pub fn status(&self) -> (u16, String) {
        match self {
            ParseError::BadStartLine => (400, "Malformed Start Line".into()),
            ParseError::RequestLineTooLong { .. } => (414, "Request-URI Too Long".into()),
            ParseError::UnsupportedVersion(_) => (505, "Version Not Supported".into()),
            ParseError::BadRequestUri(_) => (400, "Malformed Request-URI".into()),
            ParseError::UnsupportedUriScheme => (416, "Unsupported URI Scheme".into()),
            ParseError::RequestUriHeaders => (400, "Headers Not Allowed In Request-URI".into()),
            ParseError::BadHeaderLine(_) => (400, "Malformed Header Line".into()),
            ParseError::NotUtf8 => (400, "Invalid UTF-8 In Message Head".into()),
            ParseError::TooManyHeaders { .. } => (400, "Too Many Headers".into()),
            ParseError::MissingHeader(name) => (400, format!("Missing {name} Header")),
            ParseError::BadHeader(name) => (400, format!("Malformed {name} Header")),
            ParseError::DuplicateHeader(name) => (400, format!("Duplicate {name} Header")),
            ParseError::CSeqMethodMismatch => (400, "CSeq Method Mismatch".into()),
            ParseError::BodyTooLarge { .. } => (413, "Request Entity Too Large".into()),
        }
    }
}

/// The usual reason phrase of a status code.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        429 => "Too Many Requests",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        603 => "Decline",
        _ => match code / 100 {
            1 => "Provisional",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}
