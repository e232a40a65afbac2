//! Typed failures. The server answers every [`SoapError`] of [`crate::parse_request`] with a
//! `soap:Client` fault whose reason is the error's `Display`: it only ever describes the
//! request itself, never the server or its rooms, so it is safe to show any client.

use thiserror::Error;

use crate::NAMESPACE;
use crate::fault::FaultCode;
use crate::operation::OperationName;

/// Text from the body (a name, a parser message) as an error quotes it: cut short, so that a
/// fault or log line stays a line however long a name a sender makes up.
pub(crate) fn quoted(text: &str) -> String {
    const MAX_CHARS: usize = 100;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Why a body could not be read as a request or response of the service.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SoapError {
    #[error("body of {size} bytes exceeds the limit of {limit} bytes")]
    BodyTooLarge { size: usize, limit: usize },
    #[error("body is not UTF-8")]
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
    #[error("content outside the root element")]
    OutsideRoot,
    #[error("the body ends before its root element is complete")]
    UnexpectedEof,
    #[error("not a SOAP 1.1 envelope")]
    NotSoap11,
    #[error("SOAP 1.2 is not supported; send a SOAP 1.1 envelope")]
    Soap12,
    #[error("the envelope has no Body")]
    MissingBody,
    #[error("the envelope has more than one Body")]
    DuplicateBody,
    #[error("the Body carries no element")]
    EmptyBody,
    #[error("the Body carries more than one element")]
    SeveralBodyElements,
    #[error("header `{0}` must be understood and is not")]
    MustUnderstand(String),
    #[error("element `{0}` is not in namespace {NAMESPACE}")]
    WrongNamespace(String),
    #[error("unknown operation `{0}`")]
    UnknownOperation(String),
    #[error("SOAPAction names {action} but the body carries {element}")]
    ActionMismatch {
        action: OperationName,
        element: OperationName,
    },
    #[error("`{0}` is missing")]
    MissingElement(&'static str),
    #[error("`{0}` appears more than once")]
    DuplicateElement(&'static str),
    #[error("`{0}` holds an element where text is expected")]
    UnexpectedElement(&'static str),
    #[error("`{element}` is longer than {limit} characters")]
    StringTooLong { element: &'static str, limit: usize },
    #[error("`{0}` is not a number")]
    InvalidNumber(&'static str),
    #[error("`{0}` is negative")]
    NegativeNumber(&'static str),
    #[error("`{0}` is not valid base64")]
    InvalidBase64(&'static str),
    #[error("`{element}` decodes to more than {limit} bytes")]
    ChunkTooLarge { element: &'static str, limit: usize },
    #[error("expected {expected}Response, got `{element}`")]
    UnexpectedResponse {
        expected: OperationName,
        element: String,
    },
    /// The body was a SOAP fault: the service refused the request (client side only).
    #[error("{code} fault: {reason}")]
    Fault { code: FaultCode, reason: String },
}
