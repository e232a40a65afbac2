//! Authentication headers (`WWW-Authenticate`, `Authorization`, `Authentication-Info`):
//! a scheme followed by comma-separated `name=value` parameters. Digest (RFC 7616 / 8760)
//! and, later, NTLM per MS-SIPAE share this syntax.

use std::fmt;

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::syntax::{quote, split_outside_quotes, unquote};

/// A parsed authentication header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub scheme: String,
    /// Parameter names lower-cased, values unquoted.
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("authentication header has no scheme")]
    NoScheme,
    #[error("malformed authentication parameter {0:?}")]
    BadParam(String),
}

impl AuthHeader {
    pub fn parse(s: &str) -> Result<AuthHeader, AuthError> {
        let s = s.trim();
        let (scheme, rest) = s
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((s, ""));
        if !crate::syntax::is_token(scheme) {
            return Err(AuthError::NoScheme);
        }
        let mut params = Vec::new();
        for part in split_outside_quotes(rest, b',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (n, v) = part
                .split_once('=')
                .ok_or_else(|| AuthError::BadParam(part.into()))?;
            let n = n.trim();
            if !crate::syntax::is_token(n) {
                return Err(AuthError::BadParam(part.into()));
            }
            let v = unquote(v).ok_or_else(|| AuthError::BadParam(part.into()))?;
            params.push((n.to_ascii_lowercase(), v));
        }
        Ok(AuthHeader {
            scheme: scheme.to_owned(),
            params,
        })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_scheme(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }
}

/// A Digest algorithm (RFC 7616 §3.2, RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    pub fn parse(s: &str) -> Option<Algorithm> {
        [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ]
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// The base algorithm whose HA1 (`H(user:realm:password)`) a `-sess` variant builds on.
    pub fn base(self) -> Algorithm {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Algorithm::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => Algorithm::Sha256,
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// Lower-case hex of the hash of `data`.
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self.base() {
            Algorithm::Md5 => hex::encode(Md5::digest(data)),
            _ => hex::encode(Sha256::digest(data)),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lower-case hex of `bytes`.
/// `H(username:realm:password)` — the password-equivalent value a server stores.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm
        .base()
        .hash_hex(format!("{username}:{realm}:{password}").as_bytes())
}

/// The inputs of one Digest `response` computation (qop=auth).
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    pub algorithm: Algorithm,
    /// HA1 of the base algorithm, as from [`ha1`].
    pub ha1: &'a str,
    pub nonce: &'a str,
    pub nc: &'a str,
    pub cnonce: &'a str,
    pub qop: Option<&'a str>,
    pub method: &'a str,
    pub uri: &'a str,
}

/// The expected `response` value (RFC 7616 §3.4.1; RFC 2617 form without qop).
pub fn response(input: DigestInput<'_>) -> String {
    let a = input.algorithm;
    let ha1 = if a.is_sess() {
        a.hash_hex(format!("{}:{}:{}", input.ha1, input.nonce, input.cnonce).as_bytes())
    } else {
        input.ha1.to_owned()
    };
    let ha2 = a.hash_hex(format!("{}:{}", input.method, input.uri).as_bytes());
    match input.qop {
        Some(qop) => a.hash_hex(
            format!(
                "{ha1}:{}:{}:{}:{qop}:{ha2}",
                input.nonce, input.nc, input.cnonce
            )
            .as_bytes(),
        ),
        None => a.hash_hex(format!("{ha1}:{}:{ha2}", input.nonce).as_bytes()),
    }
}

/// A Digest challenge for `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    pub stale: bool,
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest realm={}, nonce={}, algorithm={}, qop=\"auth\"",
            quote(&self.realm),
            quote(&self.nonce),
            self.algorithm
        )?;
        if let Some(o) = &self.opaque {
            write!(f, ", opaque={}", quote(o))?;
        }
        if self.stale {
            f.write_str(", stale=true")?;
        }
        Ok(())
    }
}

/// The parameters of a Digest `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("not a Digest authorization")]
    NotDigest,
    #[error("missing Digest parameter {0}")]
    Missing(&'static str),
    #[error("unsupported Digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("qop=auth needs nc and cnonce")]
    IncompleteQop,
}

impl Credentials {
    pub fn from_header(h: &AuthHeader) -> Result<Credentials, CredentialsError> {
        if !h.is_scheme("Digest") {
            return Err(CredentialsError::NotDigest);
        }
        let req = |n: &'static str| {
            h.param(n)
                .map(str::to_owned)
                .ok_or(CredentialsError::Missing(n))
        };
        let algorithm = match h.param("algorithm") {
            None => Algorithm::Md5,
            Some(a) => Algorithm::parse(a)
                .ok_or_else(|| CredentialsError::UnsupportedAlgorithm(a.into()))?,
        };
        let qop = h.param("qop").map(str::to_owned);
        let (nc, cnonce) = (
            h.param("nc").map(str::to_owned),
            h.param("cnonce").map(str::to_owned),
        );
        if qop.is_some() && (nc.is_none() || cnonce.is_none()) {
            return Err(CredentialsError::IncompleteQop);
        }
        Ok(Credentials {
            username: req("username")?,
            realm: req("realm")?,
            nonce: req("nonce")?,
            uri: req("uri")?,
            response: req("response")?,
            algorithm,
            qop,
            nc,
            cnonce,
            opaque: h.param("opaque").map(str::to_owned),
        })
    }

    /// The `response` these credentials should carry, given the stored HA1.
    pub fn expected_response(&self, ha1: &str, method: &str) -> String {
        response(DigestInput {
            algorithm: self.algorithm,
            ha1,
            nonce: &self.nonce,
            nc: self.nc.as_deref().unwrap_or(""),
            cnonce: self.cnonce.as_deref().unwrap_or(""),
            qop: self.qop.as_deref(),
            method,
            uri: &self.uri,
        })
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest username={}, realm={}, nonce={}, uri={}, response={}, algorithm={}",
            quote(&self.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(&self.uri),
            quote(&self.response),
            self.algorithm
        )?;
        if let (Some(qop), Some(nc), Some(cnonce)) = (&self.qop, &self.nc, &self.cnonce) {
            write!(f, ", qop={qop}, nc={nc}, cnonce={}", quote(cnonce))?;
        }
        if let Some(o) = &self.opaque {
            write!(f, ", opaque={}", quote(o))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1 example (MD5 and SHA-256, qop=auth).
    #[test]
    fn rfc7616_vectors() {
        for (alg, expected) in [
            (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
            (
                Algorithm::Sha256,
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let ha1 = ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life");
            let r = response(DigestInput {
                algorithm: alg,
                ha1: &ha1,
                nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                nc: "00000001",
                cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                qop: Some("auth"),
                method: "GET",
                uri: "/dir/index.html",
            });
            assert_eq!(r, expected, "{alg}");
        }
    }

    /// RFC 2617 §3.5 example (MD5, qop=auth).
    #[test]
    fn rfc2617_vector() {
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let r = response(DigestInput {
            algorithm: Algorithm::Md5,
            ha1: &ha1,
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            nc: "00000001",
            cnonce: "0a4f113b",
            qop: Some("auth"),
            method: "GET",
            uri: "/dir/index.html",
        });
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn parses_digest_and_ntlm_headers() {
        let h = AuthHeader::parse(
            r#"Digest username="alice", realm="example.com", nonce="n1", uri="sip:example.com", response="abc", qop=auth, nc=00000001, cnonce="c, 1", algorithm=SHA-256"#,
        )
        .unwrap();
        let c = Credentials::from_header(&h).unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256);
        assert_eq!(c.cnonce.as_deref(), Some("c, 1"));
        assert_eq!(
            Credentials::from_header(&AuthHeader::parse(&c.to_string()).unwrap()).unwrap(),
            c
        );

        let ntlm = AuthHeader::parse(
            r#"NTLM qop="auth", realm="SIP Communications Service", targetname="localhost", gssapi-data="", version=4"#,
        )
        .unwrap();
        assert!(ntlm.is_scheme("ntlm"));
        assert_eq!(ntlm.param("gssapi-data"), Some(""));
        assert_eq!(
            Credentials::from_header(&ntlm),
            Err(CredentialsError::NotDigest)
        );
    }

    #[test]
    fn challenge_serialises() {
        let c = Challenge {
            realm: "example.com".into(),
            nonce: "abc".into(),
            opaque: None,
            algorithm: Algorithm::Sha256,
            stale: true,
        };
        let h = AuthHeader::parse(&c.to_string()).unwrap();
        assert_eq!(h.param("algorithm"), Some("SHA-256"));
        assert_eq!(h.param("stale"), Some("true"));
        assert_eq!(h.param("qop"), Some("auth"));
    }
}
