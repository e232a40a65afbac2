//! Typed views of the headers a registrar and proxy act on: Via and CSeq. From, To, Contact,
//! Route and Record-Route are [`NameAddr`](crate::NameAddr) values.

use std::fmt;

use crate::method::Method;
use crate::syntax::{is_token, parse_port};
use crate::uri::{Params, UriError};

/// The RFC 3261 magic cookie that starts a compliant branch parameter.
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// One Via entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// The transport as received (`TCP`, `TLS`, sipe's lower-case `tcp`, …).
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViaError {
    #[error("Via does not start with SIP/2.0/<transport>")]
    BadProtocol,
    #[error("Via has no sent-by host")]
    NoHost,
    #[error("Via has an invalid port")]
    BadPort,
    #[error("Via has an invalid parameter: {0}")]
    BadParam(#[from] UriError),
}

impl Via {
    pub fn parse(s: &str) -> Result<Via, ViaError> {
        let s = s.trim();
        let (proto, rest) = s
            .split_once(|c: char| c.is_ascii_whitespace())
            .ok_or(ViaError::NoHost)?;
        // LWS may surround the slashes ("SIP / 2.0 / UDP"); fold it away first.
        let mut proto = proto.to_owned();
        let mut rest = rest.trim_start();
        while !rest.is_empty() && (proto.ends_with('/') || rest.starts_with('/')) {
            let (more, tail) = rest
                .split_once(|c: char| c.is_ascii_whitespace())
                .unwrap_or((rest, ""));
            proto.push_str(more);
            rest = tail.trim_start();
        }
        let mut parts = proto.split('/');
        let (Some(name), Some(version), Some(transport), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ViaError::BadProtocol);
        };
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" || !is_token(transport) {
            return Err(ViaError::BadProtocol);
        }
        let (sent_by, params) = match rest.split_once(';') {
            Some((sb, p)) => (sb.trim(), Params::parse(p)?),
            None => (rest.trim(), Params::default()),
        };
        let (host, port) = if sent_by.starts_with('[') {
            let end = sent_by.find(']').ok_or(ViaError::NoHost)?;
            let port = sent_by[end + 1..].trim().strip_prefix(':').map(str::trim);
            (&sent_by[..=end], port)
        } else {
            match sent_by.split_once(':') {
                Some((h, p)) => (h.trim(), Some(p.trim())),
                None => (sent_by, None),
            }
        };
        if host.is_empty() || host.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(ViaError::NoHost);
        }
        let port = match port {
            Some(p) => Some(parse_port(p).ok_or(ViaError::BadPort)?),
            None => None,
        };
        Ok(Via {
            transport: transport.to_owned(),
            host: host.to_owned(),
            port,
            params,
        })
    }

    /// The branch parameter, if any.
    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// The branch when it carries the RFC 3261 magic cookie and so identifies a transaction.
    /// A bare cookie identifies nothing (RFC 4475 §3.2.1): matching falls back to RFC 2543.
    pub fn rfc3261_branch(&self) -> Option<&str> {
        self.branch()
            .filter(|b| b.len() > BRANCH_COOKIE.len() && b.starts_with(BRANCH_COOKIE))
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// The CSeq header: a sequence number and the method it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CSeq")]
pub struct CSeqError;

impl CSeq {
    pub fn parse(s: &str) -> Result<CSeq, CSeqError> {
        let mut it = s.split_ascii_whitespace();
        let (Some(seq), Some(method), None) = (it.next(), it.next(), it.next()) else {
            return Err(CSeqError);
        };
        // RFC 3261 §8.1.1.5: the sequence number must be below 2**31.
        let seq: u32 = seq.parse().map_err(|_| CSeqError)?;
        if seq >= 1 << 31 {
            return Err(CSeqError);
        }
        Ok(CSeq {
            seq,
            method: Method::parse(method).ok_or(CSeqError)?,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_forms() {
        let v = Via::parse("SIP/2.0/tcp 127.0.0.1:42884").unwrap();
        assert_eq!(
            (v.transport.as_str(), v.host.as_str(), v.port),
            ("tcp", "127.0.0.1", Some(42884))
        );
        assert_eq!(v.branch(), None);
        let v = Via::parse(
            "SIP / 2.0 / UDP first.example.com: 4000;ttl=16 ;branch=z9hG4bKa7c6a8dlze.1",
        )
        .unwrap();
        assert_eq!(v.port, Some(4000));
        assert_eq!(v.rfc3261_branch(), Some("z9hG4bKa7c6a8dlze.1"));
        let v = Via::parse("SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bKx;rport").unwrap();
        assert_eq!(v.host, "[2001:db8::9]");
        assert_eq!(
            v.to_string(),
            "SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bKx;rport"
        );
        assert!(Via::parse("SIP/3.0/TCP host").is_err());
        assert!(Via::parse("SIP/2.0/TCP").is_err());
        assert!(Via::parse("SIP/2.0/TCP host:port").is_err());
        assert!(Via::parse("SIP/2.0/TCP host:+5060").is_err());
        assert!(Via::parse("SIP/2.0/T;C host").is_err());
        assert_eq!(
            Via::parse("SIP/2.0/TCP h;branch=z9hG4bK")
                .unwrap()
                .rfc3261_branch(),
            None
        );
    }

    /// Fuzz finding (sip_roundtrip, as a timeout): a protocol ending in `/` with nothing after
    /// it looped forever while folding LWS.
    #[test]
    fn dangling_slash_terminates() {
        assert_eq!(Via::parse("SIP/2.0/ /"), Err(ViaError::BadProtocol));
        assert_eq!(Via::parse("SIP / "), Err(ViaError::BadProtocol));
    }

    #[test]
    fn cseq_forms() {
        assert_eq!(
            CSeq::parse("1 REGISTER").unwrap(),
            CSeq {
                seq: 1,
                method: Method::Register
            }
        );
        assert_eq!(CSeq::parse("  7   INFO ").unwrap().to_string(), "7 INFO");
        assert!(CSeq::parse("x INVITE").is_err());
        assert!(CSeq::parse("4294967296 INVITE").is_err());
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
        assert!(CSeq::parse("1 INVITE extra").is_err());
    }
}
