//! Requests: what a client sends, and how the server reads it.

use crate::NAMESPACE;
use crate::error::{SoapError, quoted};
use crate::limits::Limits;
use crate::operation::OperationName;
use crate::read::{Children, Values, read_body};
use crate::write::{Value, body_element};

/// One call of the service, with its parameters (docs/protocol.md, "MGCWebService.asmx").
/// Byte counts are `xs:long` on the wire; the parser refuses negative ones, so they are
/// unsigned here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Upload: the repository name for the token's file, `<GUID>.<extension>`.
    RequestUniqueFilenameWithExtension {
        token: String,
        channel_id: String,
        extension: String,
    },
    /// Upload: the largest file the room can take now, in KiB.
    GetMaxFileSizeInKB { token: String, channel_id: String },
    /// Upload: the largest decoded chunk, in KiB.
    GetMaxRequestContentInKB { token: String, channel_id: String },
    /// Upload: `file_chunk` stored at `offset` of a file of `file_length` bytes.
    AppendChunk {
        token: String,
        channel_id: String,
        unique_filename: String,
        file_chunk: Vec<u8>,
        offset: u64,
        file_length: u64,
    },
    /// Download: the file's size in bytes.
    GetFileSize {
        token: String,
        channel_id: String,
        repos_file_name: String,
    },
    /// Download: up to `buffer_size` bytes from `offset`.
    DownloadChunk {
        token: String,
        channel_id: String,
        repos_file_name: String,
        offset: u64,
        buffer_size: u64,
    },
}

impl Request {
    pub fn operation(&self) -> OperationName {
        match self {
            Self::RequestUniqueFilenameWithExtension { .. } => {
                OperationName::RequestUniqueFilenameWithExtension
            }
            Self::GetMaxFileSizeInKB { .. } => OperationName::GetMaxFileSizeInKB,
            Self::GetMaxRequestContentInKB { .. } => OperationName::GetMaxRequestContentInKB,
            Self::AppendChunk { .. } => OperationName::AppendChunk,
            Self::GetFileSize { .. } => OperationName::GetFileSize,
            Self::DownloadChunk { .. } => OperationName::DownloadChunk,
        }
    }

    /// The `SOAPAction` header value to send with it, quotes not included.
    pub fn soap_action(&self) -> String {
        self.operation().soap_action()
    }

    /// The parameters, in the order of [`OperationName::parameters`] (struct fields are
    /// evaluated in the order written).
    fn from_values(operation: OperationName, v: &mut Values<'_>) -> Result<Self, SoapError> {
        Ok(match operation {
            OperationName::RequestUniqueFilenameWithExtension => {
                Self::RequestUniqueFilenameWithExtension {
                    token: v.string()?,
                    channel_id: v.string()?,
                    extension: v.string()?,
                }
            }
            OperationName::GetMaxFileSizeInKB => Self::GetMaxFileSizeInKB {
                token: v.string()?,
                channel_id: v.string()?,
            },
            OperationName::GetMaxRequestContentInKB => Self::GetMaxRequestContentInKB {
                token: v.string()?,
                channel_id: v.string()?,
            },
            OperationName::AppendChunk => Self::AppendChunk {
                token: v.string()?,
                channel_id: v.string()?,
                unique_filename: v.string()?,
                file_chunk: v.bytes()?,
                offset: v.count()?,
                file_length: v.count()?,
            },
            OperationName::GetFileSize => Self::GetFileSize {
                token: v.string()?,
                channel_id: v.string()?,
                repos_file_name: v.string()?,
            },
            OperationName::DownloadChunk => Self::DownloadChunk {
                token: v.string()?,
                channel_id: v.string()?,
                repos_file_name: v.string()?,
                offset: v.count()?,
                buffer_size: v.count()?,
            },
        })
    }

    /// The parameters, in the order of [`OperationName::parameters`].
    fn arguments(&self) -> Vec<Value<'_>> {
        match self {
            Self::RequestUniqueFilenameWithExtension {
                token,
                channel_id,
                extension,
            } => vec![
                Value::Text(token),
                Value::Text(channel_id),
                Value::Text(extension),
            ],
            Self::GetMaxFileSizeInKB { token, channel_id }
            | Self::GetMaxRequestContentInKB { token, channel_id } => {
                vec![Value::Text(token), Value::Text(channel_id)]
            }
            Self::AppendChunk {
                token,
                channel_id,
                unique_filename,
                file_chunk,
                offset,
                file_length,
            } => vec![
                Value::Text(token),
                Value::Text(channel_id),
                Value::Text(unique_filename),
                Value::Bytes(file_chunk),
                Value::Unsigned(*offset),
                Value::Unsigned(*file_length),
            ],
            Self::GetFileSize {
                token,
                channel_id,
                repos_file_name,
            } => vec![
                Value::Text(token),
                Value::Text(channel_id),
                Value::Text(repos_file_name),
            ],
            Self::DownloadChunk {
                token,
                channel_id,
                repos_file_name,
                offset,
                buffer_size,
            } => vec![
                Value::Text(token),
                Value::Text(channel_id),
                Value::Text(repos_file_name),
                Value::Unsigned(*offset),
                Value::Unsigned(*buffer_size),
            ],
        }
    }
}

/// Server side: reads a request. The operation is the one `soap_action` (the `SOAPAction`
/// header's value, if the request had one) names, or else the Body's element; when both
/// name one, they must agree. Parameters may come in any order; unknown children of the
/// operation element are ignored.
pub fn parse_request(
    soap_action: Option<&str>,
    body: &[u8],
    limits: &Limits,
) -> Result<Request, SoapError> {
    let action = soap_action
        .map(OperationName::from_soap_action)
        .transpose()?
        .flatten();
    let (operation, mut values) = read_body(body, limits, |namespace, local| {
        if namespace != Some(NAMESPACE) {
            return Err(SoapError::WrongNamespace(quoted(local)));
        }
        let element: OperationName = local.parse()?;
        if let Some(action) = action
            && action != element
        {
            return Err(SoapError::ActionMismatch { action, element });
        }
        let children = Children {
            namespace: Some(NAMESPACE),
            fields: element.parameters(),
        };
        Ok((element, children))
    })?;
    Request::from_values(operation, &mut values)
}

/// Client side: the body of a request; send it with [`Request::soap_action`].
pub fn write_request(request: &Request) -> Vec<u8> {
    let operation = request.operation();
    body_element(
        operation.as_str(),
        Some(NAMESPACE),
        operation.parameters(),
        &request.arguments(),
    )
}
