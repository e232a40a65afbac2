//! SOAP 1.1 faults: how the service refuses a request. The web layer sends them with HTTP
//! 500, because the Lync client gives up on a transfer at any 4xx (docs/protocol.md).

use std::fmt;

use crate::error::SoapError;
use crate::operation::{Field, XsdType};
use crate::read::Values;
use crate::write::{Value, body_element};

/// Whose fault a refusal is, as SOAP 1.1 divides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    /// The request was wrong or is not allowed: bad body, bad token, refused permission.
    Client,
    /// The service failed; the same request may succeed later.
    Server,
}

impl FaultCode {
    /// The `faultcode` text, with the prefix [`crate::write_response`] and
    /// [`write_fault`] bind to the envelope namespace.
    fn qualified_name(self) -> &'static str {
        match self {
            Self::Client => "soap:Client",
            Self::Server => "soap:Server",
        }
    }

    /// Reads a `faultcode` QName by its local part. SOAP 1.1 refines codes with dots
    /// (`Server.Database`); its other two codes, `VersionMismatch` and `MustUnderstand`,
    /// blame the message as `Client` does.
    pub(crate) fn from_qualified_name(text: &str) -> Self {
        let local = text.rsplit(':').next().unwrap_or(text);
        match local.split('.').next() {
            Some("Server") => Self::Server,
            _ => Self::Client,
        }
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.qualified_name())
    }
}

/// The children of `soap:Fault` that matter, unqualified as SOAP 1.1 defines them;
/// `faultactor` and `detail` are ignored.
pub(crate) const FAULT_FIELDS: &[Field] = &[
    Field {
        name: "faultcode",
        xsd: XsdType::String,
    },
    Field {
        name: "faultstring",
        xsd: XsdType::String,
    },
];

/// A complete fault body: `<soap:Fault><faultcode>soap:Client</faultcode><faultstring>…`.
pub fn write_fault(code: FaultCode, reason: &str) -> Vec<u8> {
    body_element(
        "soap:Fault",
        None,
        FAULT_FIELDS,
        &[Value::Text(code.qualified_name()), Value::Text(reason)],
    )
}

/// The code and reason of a fault whose fields were kept as [`FAULT_FIELDS`].
pub(crate) fn read_fault(values: &mut Values<'_>) -> Result<(FaultCode, String), SoapError> {
    let code = values.string()?;
    let reason = values.string()?;
    Ok((FaultCode::from_qualified_name(code.trim()), reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_codes_by_local_part() {
        for (text, code) in [
            ("soap:Client", FaultCode::Client),
            ("s:Server", FaultCode::Server),
            ("Server.Database", FaultCode::Server),
            ("soap:Client.Auth", FaultCode::Client),
            ("s:VersionMismatch", FaultCode::Client),
        ] {
            assert_eq!(FaultCode::from_qualified_name(text), code, "{text}");
        }
    }
}
