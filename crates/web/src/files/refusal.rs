//! Why a file request was refused, in one type for both APIs: the SOAP service answers it
//! as a fault (HTTP 500), the plain API as an HTTP status with a JSON reason. Whatever the
//! cause, what the client is shown is short and safe to show anyone; what the log gets may
//! say more.

use axum::http::StatusCode;
use mgc::{FaultCode, SoapError};
use parlance_chat::files::FileRefusal;
use parlance_files::FileError;

use crate::body::BodyError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// The token, the room or the principal's rights; the chat core's verdict.
    #[error(transparent)]
    Transfer(#[from] FileRefusal),
    #[error(transparent)]
    Soap(#[from] SoapError),
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error(transparent)]
    Store(#[from] FileError),
    #[error("offset mismatch: {stored} bytes stored")]
    OffsetMismatch { stored: u64 },
    #[error("fileLength changed")]
    LengthChanged,
    #[error("chunk passes fileLength")]
    BeyondLength,
    #[error("not the token's file")]
    WrongFile,
    #[error("too many uploads in progress")]
    TooManyUploads,
    #[error("this token's upload is in progress")]
    InProgress,
    #[error("no upload in progress")]
    NoUpload,
    #[error("Content-Length required")]
    LengthRequired,
    /// The request's task ended without an answer (it panicked).
    #[error("server error")]
    Failed,
    /// A `Range` that is malformed, one of several, or not within the file's `size`.
    #[error("range not satisfiable")]
    Range { size: u64 },
}

impl Refusal {
    /// The reason a client is told.
    pub(crate) fn reason(&self) -> String {
        match self {
            // Paths and I/O errors are the server's business.
            Refusal::Store(FileError::Io { .. }) => "file store failure".into(),
            other => other.to_string(),
        }
    }

    /// Whether the service failed, rather than the request being wrong or not allowed.
    pub(crate) fn is_failure(&self) -> bool {
        matches!(
            self,
            Refusal::Transfer(FileRefusal::Store(_))
                | Refusal::Failed
                | Refusal::Store(FileError::Io { .. } | FileError::Corrupt | FileError::Exists)
        )
    }

    pub(crate) fn fault_code(&self) -> FaultCode {
        match self.is_failure() {
            true => FaultCode::Server,
            false => FaultCode::Client,
        }
    }

    /// The plain API's status for it.
    pub(crate) fn status(&self) -> StatusCode {
        if self.is_failure() {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        match self {
            Refusal::Transfer(refusal) => match refusal {
                FileRefusal::NoSuchFile => StatusCode::NOT_FOUND,
                FileRefusal::BadName => StatusCode::BAD_REQUEST,
                FileRefusal::TooLarge | FileRefusal::QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::FORBIDDEN,
            },
            Refusal::Store(FileError::NotFound) => StatusCode::NOT_FOUND,
            Refusal::Body(BodyError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Body(BodyError::TooSlow) => StatusCode::REQUEST_TIMEOUT,
            Refusal::LengthRequired => StatusCode::LENGTH_REQUIRED,
            Refusal::Range { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Refusal::TooManyUploads => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}
