//! The MS-SIPAE parameter sets of `WWW-Authenticate`, `Authorization` (or the `Proxy-`
//! forms) and `Authentication-Info` for the NTLM scheme (docs/protocol.md, "MS-SIPAE").
//!
//! Values are written quoted (sipe finds `rand="`, `num="`, `realm="`, `targetname="` by
//! substring search), `version` unquoted, and in the parameter order of Lync 2013.

use std::fmt::{self, Write as _};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sip_proto::auth::{AuthError, AuthHeader};

use crate::messages::MAX_MESSAGE_LEN;
use crate::signature::{BadSignatureHex, Signature};

pub const SCHEME: &str = "NTLM";

/// The protection space every Microsoft server uses.
pub const DEFAULT_REALM: &str = "SIP Communications Service";

/// Identifies a security association: eight hex digits, written upper-case like every
/// Microsoft capture.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Opaque(u32);

impl Opaque {
    pub const fn new(value: u32) -> Opaque {
        Opaque(value)
    }

    /// Parses exactly eight hex digits of either case.
    pub fn parse(s: &str) -> Option<Opaque> {
        (s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(s, 16).ok())
            .flatten()
            .map(Opaque)
    }
}

impl fmt::Display for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08X}", self.0)
    }
}

impl fmt::Debug for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Opaque({self})")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error(transparent)]
    Syntax(#[from] AuthError),
    #[error("scheme {0:?} is not NTLM")]
    NotNtlm(String),
    #[error("version {0:?} is not a number")]
    BadVersion(String),
    #[error("gssapi-data is not valid Base64")]
    BadBase64,
    #[error("gssapi-data of {0} characters is longer than any NTLM message")]
    TokenTooLong(usize),
    #[error("parameter {0} is missing")]
    Missing(&'static str),
    #[error(transparent)]
    BadSignature(#[from] BadSignatureHex),
}

/// `gssapi-data`: absent, present but empty (the client picks NTLM and asks for a
/// CHALLENGE), or a decoded token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GssapiData {
    #[default]
    Absent,
    Empty,
    Token(Vec<u8>),
}

/// The first 401's challenge: `NTLM realm="…", targetname="…", version=4`. Below version 3
/// the `version` parameter is left out, which is how a legacy server announces version 2.
pub fn offer(realm: &str, targetname: &str, version: u32) -> String {
    let mut s = format!(r#"{SCHEME} realm="{realm}", targetname="{targetname}""#);
    push_version(&mut s, version);
    s
}

/// The 401 that carries the CHALLENGE: `NTLM opaque="…", gssapi-data="…", targetname="…",
/// realm="…", version=4`.
pub fn challenge(
    opaque: Opaque,
    token: &[u8],
    targetname: &str,
    realm: &str,
    version: u32,
) -> String {
    let data = BASE64.encode(token);
    let mut s = format!(
        r#"{SCHEME} opaque="{opaque}", gssapi-data="{data}", targetname="{targetname}", realm="{realm}""#
    );
    push_version(&mut s, version);
    s
}

fn push_version(s: &mut String, version: u32) {
    if version >= 3 {
        write!(s, ", version={version}").expect("writing to a String");
    }
}

fn parse_version(h: &AuthHeader) -> Result<Option<u32>, HeaderError> {
    h.param("version")
        .map(|v| v.parse().map_err(|_| HeaderError::BadVersion(v.to_owned())))
        .transpose()
}

fn parse_ntlm(value: &str) -> Result<AuthHeader, HeaderError> {
    let h = AuthHeader::parse(value)?;
    if !h.is_scheme(SCHEME) {
        return Err(HeaderError::NotNtlm(h.scheme));
    }
    Ok(h)
}

fn owned(h: &AuthHeader, name: &str) -> Option<String> {
    h.param(name).map(str::to_owned)
}

/// A client's `Authorization` / `Proxy-Authorization` NTLM parameters, values verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// As written (it goes into the signature buffer verbatim).
    pub scheme: String,
    pub realm: Option<String>,
    pub targetname: Option<String>,
    pub opaque: Option<String>,
    pub gssapi_data: GssapiData,
    pub version: Option<u32>,
    pub qop: Option<String>,
    pub crand: Option<String>,
    pub cnum: Option<String>,
    pub response: Option<String>,
}

impl Credentials {
    /// Parses a header value. Parameter names are case-insensitive and may come in any
    /// order; numbers may be quoted or not.
    pub fn parse(value: &str) -> Result<Credentials, HeaderError> {
        let h = parse_ntlm(value)?;
        let gssapi_data = match h.param("gssapi-data") {
            None => GssapiData::Absent,
            Some("") => GssapiData::Empty,
            Some(b64) => GssapiData::Token(decode_token(b64)?),
        };
        Ok(Credentials {
            realm: owned(&h, "realm"),
            targetname: owned(&h, "targetname"),
            opaque: owned(&h, "opaque"),
            version: parse_version(&h)?,
            qop: owned(&h, "qop"),
            crand: owned(&h, "crand"),
            cnum: owned(&h, "cnum"),
            response: owned(&h, "response"),
            gssapi_data,
            scheme: h.scheme,
        })
    }

    /// The protocol version the client speaks: absent means 2.
    pub fn protocol_version(&self) -> u32 {
        self.version.unwrap_or(2)
    }

    /// Whether this header is meant for a server with this realm and targetname.
    pub fn is_for(&self, realm: &str, targetname: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(SCHEME)
            && self.realm.as_deref() == Some(realm)
            && self.targetname.as_deref() == Some(targetname)
    }

    /// Writes the header value in Office Communicator 2007 R2's parameter order.
    pub fn to_header_value(&self) -> String {
        let quoted = |name: &str, value: Option<&str>| value.map(|v| format!(r#"{name}="{v}""#));
        let data = match &self.gssapi_data {
            GssapiData::Absent => None,
            GssapiData::Empty => Some(String::new()),
            GssapiData::Token(t) => Some(BASE64.encode(t)),
        };
        let params: Vec<String> = [
            quoted("qop", self.qop.as_deref()),
            quoted("realm", self.realm.as_deref()),
            quoted("opaque", self.opaque.as_deref()),
            quoted("targetname", self.targetname.as_deref()),
            self.version.map(|v| format!("version={v}")),
            quoted("gssapi-data", data.as_deref()),
            quoted("crand", self.crand.as_deref()),
            quoted("cnum", self.cnum.as_deref()),
            quoted("response", self.response.as_deref()),
        ]
        .into_iter()
        .flatten()
        .collect();
        format!("{} {}", self.scheme, params.join(", "))
    }
}

fn decode_token(b64: &str) -> Result<Vec<u8>, HeaderError> {
    if b64.len() > MAX_MESSAGE_LEN.div_ceil(3) * 4 {
        return Err(HeaderError::TokenTooLong(b64.len()));
    }
    BASE64.decode(b64).map_err(|_| HeaderError::BadBase64)
}

/// The server's signature header (`Authentication-Info`), values verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationInfo {
    pub opaque: String,
    pub srand: String,
    pub snum: String,
    pub rspauth: Signature,
    pub targetname: String,
    pub realm: String,
    /// Written only for versions 3 and 4, as Lync and SfB do.
    pub version: Option<u32>,
}

impl AuthenticationInfo {
    /// `NTLM qop="auth", opaque="…", srand="…", snum="…", rspauth="…", targetname="…",
    /// realm="…", version=4`: Lync 2013's field set and order, which keeps `srand` ahead of
    /// any other `…rand="` and `snum` ahead of any other `…num="` for sipe's substring search.
    pub fn to_header_value(&self) -> String {
        let mut s = format!(
            r#"{SCHEME} qop="auth", opaque="{}", srand="{}", snum="{}", rspauth="{}", targetname="{}", realm="{}""#,
            self.opaque, self.srand, self.snum, self.rspauth, self.targetname, self.realm
        );
        if let Some(v) = self.version {
            push_version(&mut s, v);
        }
        s
    }

    pub fn parse(value: &str) -> Result<AuthenticationInfo, HeaderError> {
        let h = parse_ntlm(value)?;
        let req = |name: &'static str| owned(&h, name).ok_or(HeaderError::Missing(name));
        Ok(AuthenticationInfo {
            opaque: req("opaque")?,
            srand: req("srand")?,
            snum: req("snum")?,
            rspauth: Signature::from_hex(&req("rspauth")?)?,
            targetname: req("targetname")?,
            realm: req("realm")?,
            version: parse_version(&h)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_format() {
        let o = Opaque::new(0xD063_CAA2);
        assert_eq!(o.to_string(), "D063CAA2");
        assert_eq!(Opaque::parse("d063caa2"), Some(o));
        assert_eq!(Opaque::parse("D063CAA"), None);
        assert_eq!(Opaque::parse("+063CAA2"), None);
        assert_eq!(Opaque::parse("0000000g"), None);
    }

    #[test]
    fn offers() {
        assert_eq!(
            offer(DEFAULT_REALM, "LYNC2013-SERVER.lync.loc", 4),
            r#"NTLM realm="SIP Communications Service", targetname="LYNC2013-SERVER.lync.loc", version=4"#
        );
        assert_eq!(offer("r", "t", 2), r#"NTLM realm="r", targetname="t""#);
        assert_eq!(
            challenge(Opaque::new(0x78D2_9AC8), b"NTLMSSP\0", "t", "r", 3),
            r#"NTLM opaque="78D29AC8", gssapi-data="TlRMTVNTUAA=", targetname="t", realm="r", version=3"#
        );
    }

    #[test]
    fn credentials_from_sipe_and_oc() {
        let c = Credentials::parse(
            r#"NTLM qop="auth", realm="SIP Communications Service", targetname="localhost", gssapi-data="", version=4"#,
        )
        .unwrap();
        assert_eq!(c.gssapi_data, GssapiData::Empty);
        assert_eq!(c.version, Some(4));
        assert!(c.is_for(DEFAULT_REALM, "localhost"));
        assert!(!c.is_for(DEFAULT_REALM, "LOCALHOST"));
        let c = Credentials::parse(r#"ntlm realm="x", targetname="y", version="3", crand="5558370d", cnum=1, response="01""#)
            .unwrap();
        assert_eq!(c.scheme, "ntlm");
        assert_eq!(c.protocol_version(), 3);
        assert_eq!(c.cnum.as_deref(), Some("1"));
        assert_eq!(c.gssapi_data, GssapiData::Absent);
        assert_eq!(
            Credentials::parse(r#"NTLM realm="x""#)
                .unwrap()
                .protocol_version(),
            2
        );
    }

    #[test]
    fn credential_errors() {
        assert!(
            matches!(Credentials::parse(r#"Digest realm="x""#), Err(HeaderError::NotNtlm(s)) if s == "Digest")
        );
        assert!(matches!(
            Credentials::parse(""),
            Err(HeaderError::Syntax(_))
        ));
        assert_eq!(
            Credentials::parse("NTLM version=four"),
            Err(HeaderError::BadVersion("four".into()))
        );
        assert_eq!(
            Credentials::parse(r#"NTLM gssapi-data="@@@@""#),
            Err(HeaderError::BadBase64)
        );
        let huge = format!(r#"NTLM gssapi-data="{}""#, "A".repeat(30_000));
        assert_eq!(
            Credentials::parse(&huge),
            Err(HeaderError::TokenTooLong(30_000))
        );
    }

    #[test]
    fn authentication_info_round_trip() {
        let info = AuthenticationInfo {
            opaque: "D063CAA2".into(),
            srand: "D36BAB01".into(),
            snum: "1".into(),
            rspauth: Signature::from_hex("010000005BFC98F216CD444864000000").unwrap(),
            targetname: "localhost".into(),
            realm: DEFAULT_REALM.into(),
            version: Some(4),
        };
        let value = info.to_header_value();
        assert_eq!(
            value,
            r#"NTLM qop="auth", opaque="D063CAA2", srand="D36BAB01", snum="1", rspauth="010000005BFC98F216CD444864000000", targetname="localhost", realm="SIP Communications Service", version=4"#
        );
        assert_eq!(AuthenticationInfo::parse(&value), Ok(info));
        assert_eq!(
            AuthenticationInfo::parse(r#"NTLM opaque="1""#),
            Err(HeaderError::Missing("srand"))
        );
    }

    #[test]
    fn real_ocs_authentication_info_parses() {
        let info = AuthenticationInfo::parse(
            r#"NTLM rspauth="01000000E615438A917661BE64000000", srand="9616454F", snum="1", opaque="2BDBAC9D", qop="auth", targetname="cosmo-ocs-r2.cosmo.local", realm="SIP Communications Service""#,
        )
        .unwrap();
        assert_eq!(info.snum, "1");
        assert_eq!(info.version, None);
    }
}
