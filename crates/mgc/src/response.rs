//! Responses: what the server answers when a request succeeds, and how a client reads an
//! answer, which may be a fault instead.

use std::slice;

use crate::error::{SoapError, quoted};
use crate::fault::{FAULT_FIELDS, read_fault};
use crate::limits::Limits;
use crate::operation::OperationName;
use crate::read::{Children, read_body};
use crate::write::{Value, body_element};
use crate::{NAMESPACE, SOAP_ENV};

/// The result of each operation, in the units of docs/protocol.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `RequestUniqueFilenameWithExtension`: the repository name.
    UniqueFilename(String),
    /// `GetMaxFileSizeInKB`: KiB.
    MaxFileSizeInKB(i64),
    /// `GetMaxRequestContentInKB`: KiB of decoded chunk.
    MaxRequestContentInKB(i32),
    /// `AppendChunk`: bytes stored so far.
    AppendChunk(i64),
    /// `GetFileSize`: bytes.
    FileSize(i64),
    /// `DownloadChunk`: the bytes; empty at the end of the file.
    DownloadChunk(Vec<u8>),
}

impl Response {
    pub fn operation(&self) -> OperationName {
        match self {
            Self::UniqueFilename(_) => OperationName::RequestUniqueFilenameWithExtension,
            Self::MaxFileSizeInKB(_) => OperationName::GetMaxFileSizeInKB,
            Self::MaxRequestContentInKB(_) => OperationName::GetMaxRequestContentInKB,
            Self::AppendChunk(_) => OperationName::AppendChunk,
            Self::FileSize(_) => OperationName::GetFileSize,
            Self::DownloadChunk(_) => OperationName::DownloadChunk,
        }
    }

    fn value(&self) -> Value<'_> {
        match self {
            Self::UniqueFilename(name) => Value::Text(name),
            Self::MaxFileSizeInKB(n) | Self::AppendChunk(n) | Self::FileSize(n) => {
                Value::Signed(*n)
            }
            Self::MaxRequestContentInKB(n) => Value::Signed(i64::from(*n)),
            Self::DownloadChunk(bytes) => Value::Bytes(bytes),
        }
    }
}

/// Server side: the body of a successful answer, in the ASP.NET `.asmx` shape
/// `<XResponse xmlns="http://www.microsoft.com"><XResult>…</XResult></XResponse>`.
pub fn write_response(response: &Response) -> Vec<u8> {
    let operation = response.operation();
    body_element(
        operation.response(),
        Some(NAMESPACE),
        slice::from_ref(operation.result()),
        &[response.value()],
    )
}

/// Client side: reads the answer to a request for `operation`; a fault comes back as
/// [`SoapError::Fault`].
pub fn parse_response(
    operation: OperationName,
    body: &[u8],
    limits: &Limits,
) -> Result<Response, SoapError> {
    let (fault, mut values) = read_body(body, limits, |namespace, local| match namespace {
        Some(SOAP_ENV) if local == "Fault" => Ok((
            true,
            Children {
                namespace: None,
                fields: FAULT_FIELDS,
            },
        )),
        Some(NAMESPACE) if local == operation.response() => Ok((
            false,
            Children {
                namespace: Some(NAMESPACE),
                fields: slice::from_ref(operation.result()),
            },
        )),
        _ => Err(SoapError::UnexpectedResponse {
            expected: operation,
            element: quoted(local),
        }),
    })?;
    if fault {
        let (code, reason) = read_fault(&mut values)?;
        return Err(SoapError::Fault { code, reason });
    }
    let v = &mut values;
    Ok(match operation {
        OperationName::RequestUniqueFilenameWithExtension => Response::UniqueFilename(v.string()?),
        OperationName::GetMaxFileSizeInKB => Response::MaxFileSizeInKB(v.long()?),
        OperationName::GetMaxRequestContentInKB => Response::MaxRequestContentInKB(v.int()?),
        OperationName::AppendChunk => Response::AppendChunk(v.long()?),
        OperationName::GetFileSize => Response::FileSize(v.long()?),
        OperationName::DownloadChunk => Response::DownloadChunk(v.bytes()?),
    })
}
