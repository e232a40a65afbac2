//! Answering a Digest challenge (RFC 7616 / 8760, qop=auth) with the math of `sip_proto`.

use sip_proto::auth::{Algorithm, AuthHeader, Credentials, DigestInput, ha1, response};
use sip_proto::{Response, name};

/// One Digest challenge from a 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DigestChallenge {
    realm: String,
    nonce: String,
    opaque: Option<String>,
    algorithm: Algorithm,
    /// The server offers `qop="auth"`; without it the RFC 2617 form is answered.
    qop_auth: bool,
    /// The nonce was merely out of date: the password was not refused.
    pub stale: bool,
}

impl DigestChallenge {
    /// The topmost Digest challenge of `resp` with an algorithm we support (RFC 8760 §2.4).
    pub fn from_response(resp: &Response) -> Option<DigestChallenge> {
        resp.headers
            .get_all(name::WWW_AUTHENTICATE)
            .filter_map(|v| AuthHeader::parse(v).ok())
            .filter(|h| h.is_scheme("Digest"))
            .find_map(|h| {
                let algorithm = match h.param("algorithm") {
                    None => Algorithm::Md5,
                    Some(a) => Algorithm::parse(a)?,
                };
                Some(DigestChallenge {
                    realm: h.param("realm")?.to_owned(),
                    nonce: h.param("nonce")?.to_owned(),
                    opaque: h.param("opaque").map(str::to_owned),
                    algorithm,
                    qop_auth: h.param("qop").is_some_and(|q| {
                        q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth"))
                    }),
                    stale: h
                        .param("stale")
                        .is_some_and(|s| s.eq_ignore_ascii_case("true")),
                })
            })
    }

    /// The `Authorization` value for a request with `method` and Digest `uri`; `nc` counts
    /// the uses of this nonce, from 1.
    pub fn authorization(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        nc: u32,
    ) -> String {
        let cnonce = super::random_hex(8);
        let nc = format!("{nc:08x}");
        let ha1 = ha1(self.algorithm, username, &self.realm, password);
        let qop = self.qop_auth.then_some("auth");
        let response = response(DigestInput {
            algorithm: self.algorithm,
            ha1: &ha1,
            nonce: &self.nonce,
            nc: &nc,
            cnonce: &cnonce,
            qop,
            method,
            uri,
        });
        Credentials {
            username: username.to_owned(),
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
            uri: uri.to_owned(),
            response,
            algorithm: self.algorithm,
            qop: qop.map(str::to_owned),
            nc: qop.map(|_| nc),
            cnonce: qop.map(|_| cnonce),
            opaque: self.opaque.clone(),
        }
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(values: &[&str]) -> Response {
        let mut r = Response {
            status: 401,
            reason: "Unauthorized".into(),
            headers: Default::default(),
            body: Default::default(),
        };
        for v in values {
            r.headers.push(name::WWW_AUTHENTICATE, *v);
        }
        r
    }

    #[test]
    fn picks_the_topmost_supported_challenge() {
        let r = challenge(&[
            "NTLM realm=\"x\"",
            "Digest realm=\"example.test\", nonce=\"n1\", algorithm=SHA-512-256, qop=\"auth\"",
            "Digest realm=\"example.test\", nonce=\"n2\", algorithm=MD5, qop=\"auth\"",
            "Digest realm=\"example.test\", nonce=\"n3\", algorithm=SHA-256, qop=\"auth\", stale=true",
        ]);
        let c = DigestChallenge::from_response(&r).unwrap();
        assert_eq!(
            (c.nonce.as_str(), c.algorithm, c.stale),
            ("n2", Algorithm::Md5, false)
        );
        assert!(DigestChallenge::from_response(&challenge(&["NTLM realm=\"x\""])).is_none());
    }

    #[test]
    fn the_answer_verifies_with_the_stored_ha1() {
        let r = challenge(&[
            "Digest realm=\"example.test\", nonce=\"abc\", algorithm=SHA-256, qop=\"auth\", opaque=\"o\"",
        ]);
        let c = DigestChallenge::from_response(&r).unwrap();
        let value = c.authorization("alice", "secret", "REGISTER", "sip:example.test", 1);
        let creds = Credentials::from_header(&AuthHeader::parse(&value).unwrap()).unwrap();
        assert_eq!(
            (
                creds.nc.as_deref(),
                creds.opaque.as_deref(),
                creds.algorithm
            ),
            (Some("00000001"), Some("o"), Algorithm::Sha256)
        );
        let stored = ha1(Algorithm::Sha256, "alice", "example.test", "secret");
        assert_eq!(creds.expected_response(&stored, "REGISTER"), creds.response);
        let wrong = ha1(Algorithm::Sha256, "alice", "example.test", "guess");
        assert_ne!(creds.expected_response(&wrong, "REGISTER"), creds.response);
    }
}
