//! The six operations of MGCWebService.asmx and their shapes: the operation element, its
//! parameters in order with their XML Schema types, the response element and its result.
//! Parsing, writing and the WSDL all read this one table, so each name of docs/protocol.md
//! ("MGCWebService.asmx") is spelled once.

use std::fmt;
use std::str::FromStr;

use crate::NAMESPACE;
use crate::error::{SoapError, quoted};

/// The XML Schema types the service uses (prefix `s:` in the WSDL, as ASP.NET writes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XsdType {
    String,
    Int,
    Long,
    Base64Binary,
}

impl XsdType {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::Long => "long",
            Self::Base64Binary => "base64Binary",
        }
    }
}

/// A child element that carries one value: a parameter, a result, or a part of a fault.
#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) xsd: XsdType,
}

/// Everything named after one operation.
#[derive(Debug)]
pub(crate) struct Shape {
    name: &'static str,
    parameters: &'static [Field],
    response: &'static str,
    result: Field,
}

/// The .asmx convention derives the response and result names from the operation's.
macro_rules! shape {
    ($name:literal, [$($parameter:literal: $xsd:ident),*], $result:ident) => {{
        const SHAPE: Shape = Shape {
            name: $name,
            parameters: &[$(Field { name: $parameter, xsd: XsdType::$xsd }),*],
            response: concat!($name, "Response"),
            result: Field { name: concat!($name, "Result"), xsd: XsdType::$result },
        };
        &SHAPE
    }};
}

/// One operation of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationName {
    RequestUniqueFilenameWithExtension,
    GetMaxFileSizeInKB,
    GetMaxRequestContentInKB,
    AppendChunk,
    GetFileSize,
    DownloadChunk,
}

impl OperationName {
    pub const ALL: [OperationName; 6] = [
        Self::RequestUniqueFilenameWithExtension,
        Self::GetMaxFileSizeInKB,
        Self::GetMaxRequestContentInKB,
        Self::AppendChunk,
        Self::GetFileSize,
        Self::DownloadChunk,
    ];

    fn shape(self) -> &'static Shape {
        match self {
            Self::RequestUniqueFilenameWithExtension => shape!(
                "RequestUniqueFilenameWithExtension",
                ["token": String, "channelId": String, "extension": String],
                String
            ),
            Self::GetMaxFileSizeInKB => {
                shape!("GetMaxFileSizeInKB", ["token": String, "channelId": String], Long)
            }
            Self::GetMaxRequestContentInKB => {
                shape!("GetMaxRequestContentInKB", ["token": String, "channelId": String], Int)
            }
            Self::AppendChunk => shape!(
                "AppendChunk",
                [
                    "token": String,
                    "channelId": String,
                    "uniqueFilename": String,
                    "fileChunk": Base64Binary,
                    "offset": Long,
                    "fileLength": Long
                ],
                Long
            ),
            Self::GetFileSize => shape!(
                "GetFileSize",
                ["token": String, "channelId": String, "reposFileName": String],
                Long
            ),
            Self::DownloadChunk => shape!(
                "DownloadChunk",
                [
                    "token": String,
                    "channelId": String,
                    "reposFileName": String,
                    "offset": Long,
                    "bufferSize": Long
                ],
                Base64Binary
            ),
        }
    }

    /// The operation element's local name, which is also the last segment of its SOAPAction.
    pub fn as_str(self) -> &'static str {
        self.shape().name
    }

    /// `http://www.microsoft.com/<operation>`, as the WSDL declares and clients send it.
    pub fn soap_action(self) -> String {
        format!("{NAMESPACE}/{}", self.as_str())
    }

    /// The operation a `SOAPAction` header value names, compared as the reference's
    /// attachment handler compares it (docs/protocol.md): surrounding quotes and a leading
    /// `http://` or `https://` stripped, then the part after the last `/`. `None` for an empty value,
    /// which SOAP 1.1 defines as "the request URI says it", so the body's element decides.
    pub fn from_soap_action(value: &str) -> Result<Option<Self>, SoapError> {
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if value.is_empty() {
            return Ok(None);
        }
        let value = ["http://", "https://"]
            .iter()
            .find_map(|scheme| strip_prefix_ignore_case(value, scheme))
            .unwrap_or(value);
        let name = value.rsplit('/').next().unwrap_or(value);
        name.parse().map(Some)
    }

    pub(crate) fn parameters(self) -> &'static [Field] {
        self.shape().parameters
    }

    /// `<operation>Response`, the element a response's Body carries.
    pub(crate) fn response(self) -> &'static str {
        self.shape().response
    }

    /// `<operation>Result`, the one child of the response element.
    pub(crate) fn result(self) -> &'static Field {
        &self.shape().result
    }
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

impl FromStr for OperationName {
    type Err = SoapError;

    /// The operation with this exact element name (names are case-sensitive in XML).
    fn from_str(name: &str) -> Result<Self, SoapError> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str() == name)
            .ok_or_else(|| SoapError::UnknownOperation(quoted(name)))
    }
}

impl fmt::Display for OperationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soap_action_forms() {
        for value in [
            "\"http://www.microsoft.com/AppendChunk\"",
            "http://www.microsoft.com/AppendChunk",
            "HTTPS://www.microsoft.com/AppendChunk",
            "\"www.microsoft.com/AppendChunk\"",
            " AppendChunk ",
            "urn:x/AppendChunk",
        ] {
            assert_eq!(
                OperationName::from_soap_action(value),
                Ok(Some(OperationName::AppendChunk)),
                "{value}"
            );
        }
        assert_eq!(OperationName::from_soap_action("\"\""), Ok(None));
        assert_eq!(OperationName::from_soap_action(""), Ok(None));
        assert_eq!(
            OperationName::from_soap_action("http://www.microsoft.com/appendchunk"),
            Err(SoapError::UnknownOperation("appendchunk".into()))
        );
        assert_eq!(
            OperationName::from_soap_action("\"http://www.microsoft.com/\""),
            Err(SoapError::UnknownOperation(String::new()))
        );
    }

    #[test]
    fn every_operation_round_trips_through_its_soap_action() {
        for op in OperationName::ALL {
            assert_eq!(
                OperationName::from_soap_action(&op.soap_action()),
                Ok(Some(op))
            );
            assert_eq!(op.response(), format!("{op}Response"));
            assert_eq!(op.result().name, format!("{op}Result"));
        }
    }
}
