//! User accounts: what is kept for each user and how it is derived from a password.
//! Engine-independent; the engines only store and fetch the rows built here.

use sip_proto::auth::{Algorithm, ha1};
use sip_proto::{SipUri, Uri};

use crate::error::{Result, StoreError};
use crate::secrets::ServerKey;

/// A user principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    /// `sip:alice@example.com`, lower-case.
    pub uri: String,
    pub display_name: String,
    pub created_at: i64,
    pub mechanisms: Mechanisms,
    /// Signs in nowhere until enabled again.
    pub disabled: bool,
    /// Sees and manages every category and room in the room-management application.
    pub admin: bool,
    /// May use persistent chat (provisioned as `EnablePersistentChat`); on by default.
    pub persistent_chat: bool,
}

/// The SIP authentication mechanisms an account may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mechanisms {
    pub digest: bool,
    pub ntlm: bool,
}

impl Mechanisms {
    pub const ALL: Mechanisms = Mechanisms {
        digest: true,
        ntlm: true,
    };

    /// Parses `digest`, `ntlm` or `digest,ntlm`.
    pub fn parse(s: &str) -> Result<Mechanisms> {
        let mut m = Mechanisms {
            digest: false,
            ntlm: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.to_ascii_lowercase().as_str() {
                "digest" => m.digest = true,
                "ntlm" => m.ntlm = true,
                other => {
                    return Err(StoreError::Invalid {
                        what: "mechanism",
                        why: format!("{other:?} is not digest or ntlm"),
                    });
                }
            }
        }
        if !m.digest && !m.ntlm {
            return Err(StoreError::Invalid {
                what: "mechanisms",
                why: "at least one of digest, ntlm".into(),
            });
        }
        Ok(m)
    }
}

impl std::fmt::Display for Mechanisms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = [(self.digest, "digest"), (self.ntlm, "ntlm")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        f.write_str(&names.join(","))
    }
}

/// The Digest algorithms every account gets HA1 values for.
pub const DIGEST_ALGORITHMS: [Algorithm; 2] = [Algorithm::Md5, Algorithm::Sha256];

/// One sealed Digest HA1 row.
#[derive(Debug, Clone)]
pub struct DigestSecret {
    pub algorithm: Algorithm,
    pub username: String,
    pub realm: String,
    pub sealed_ha1: Vec<u8>,
}

/// Everything stored for a password.
#[derive(Debug, Clone)]
pub struct PasswordSecrets {
    pub phc: String,
    pub digest: Vec<DigestSecret>,
    /// The sealed NT hash, for accounts that allow NTLM.
    pub sealed_nt_hash: Option<Vec<u8>>,
}

impl PasswordSecrets {
    /// The mechanisms these secrets let the account sign in with.
    pub fn mechanisms(&self) -> Mechanisms {
        Mechanisms {
            digest: !self.digest.is_empty(),
            ntlm: self.sealed_nt_hash.is_some(),
        }
    }
}

/// The associated data that binds a sealed NT hash to its account.
pub fn ntlm_context(uri: &str) -> String {
    format!("ntlm-nt-hash\0{uri}")
}

/// Normalises `alice@example.com` or `sip:alice@example.com` to `sip:alice@example.com`.
pub fn normalize_user_uri(input: &str) -> Result<String> {
    let invalid = |why: &str| StoreError::Invalid {
        what: "user URI",
        why: why.to_owned(),
    };
    let input = input.trim();
    let with_scheme = if input.to_ascii_lowercase().starts_with("sip:") {
        input.to_owned()
    } else {
        format!("sip:{input}")
    };
    let uri = match Uri::parse(&with_scheme) {
        Ok(Uri::Sip(u)) => u,
        _ => return Err(invalid("expected user@domain")),
    };
    let user = uri
        .user
        .as_deref()
        .ok_or_else(|| invalid("expected user@domain"))?;
    if uri.port.is_some()
        || !uri.params.is_empty()
        || uri.headers.is_some()
        || uri.password.is_some()
    {
        return Err(invalid("only user@domain, without port or parameters"));
    }
    Ok(SipUri::new(
        Some(&user.to_ascii_lowercase()),
        &uri.host.to_ascii_lowercase(),
    )
    .to_string())
}

/// The `user` and `user@domain` forms a client may send as the Digest username.
pub fn digest_usernames(uri: &str) -> Vec<String> {
    let aor = uri.strip_prefix("sip:").unwrap_or(uri);
    let user = aor.split('@').next().unwrap_or(aor);
    vec![user.to_owned(), aor.to_owned()]
}

/// The associated data that binds a sealed HA1 to its row.
pub fn digest_context(uri: &str, algorithm: Algorithm, username: &str, realm: &str) -> String {
    format!("digest-ha1\0{uri}\0{algorithm}\0{username}\0{realm}")
}

/// Derives what is stored for `password`. Argon2 is deliberately slow: call this off the
/// async executor (`spawn_blocking`).
pub fn derive_password_secrets(
    uri: &str,
    password: &str,
    realm: &str,
    key: &ServerKey,
    mechanisms: Mechanisms,
) -> Result<PasswordSecrets> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    if password.is_empty() {
        return Err(StoreError::Invalid {
            what: "password",
            why: "empty".into(),
        });
    }
    let salt = SaltString::generate(&mut OsRng);
    let phc = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| StoreError::PasswordHash(e.to_string()))?
        .to_string();
    let mut digest = Vec::new();
    let algorithms = if mechanisms.digest {
        &DIGEST_ALGORITHMS[..]
    } else {
        &[]
    };
    for &algorithm in algorithms {
        for username in digest_usernames(uri) {
            let value = ha1(algorithm, &username, realm, password);
            let context = digest_context(uri, algorithm, &username, realm);
            digest.push(DigestSecret {
                algorithm,
                sealed_ha1: key.seal(&context, value.as_bytes()),
                username,
                realm: realm.to_owned(),
            });
        }
    }
    let sealed_nt_hash = mechanisms.ntlm.then(|| {
        key.seal(
            &ntlm_context(uri),
            sipae::NtHash::from_password(password).as_bytes(),
        )
    });
    Ok(PasswordSecrets {
        phc,
        digest,
        sealed_nt_hash,
    })
}

/// Checks a password against a stored argon2 PHC string.
pub fn verify_password(phc: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_uris_are_normalised() {
        assert_eq!(
            normalize_user_uri("Alice@Example.COM").unwrap(),
            "sip:alice@example.com"
        );
        assert_eq!(
            normalize_user_uri("sip:bob@example.com").unwrap(),
            "sip:bob@example.com"
        );
        assert!(normalize_user_uri("example.com").is_err());
        assert!(normalize_user_uri("bob@example.com:5060").is_err());
        assert!(normalize_user_uri("").is_err());
    }

    #[test]
    fn secrets_cover_both_username_forms_and_algorithms() {
        let key = ServerKey::from_bytes(&[1u8; 32]).unwrap();
        let s = derive_password_secrets(
            "sip:alice@example.com",
            "pw",
            "example.com",
            &key,
            Mechanisms::ALL,
        )
        .unwrap();
        assert!(verify_password(&s.phc, "pw"));
        assert!(!verify_password(&s.phc, "wrong"));
        assert_eq!(s.digest.len(), 4);
        let row = s
            .digest
            .iter()
            .find(|d| d.username == "alice" && d.algorithm == Algorithm::Md5)
            .unwrap();
        let ctx = digest_context(
            "sip:alice@example.com",
            Algorithm::Md5,
            "alice",
            "example.com",
        );
        let opened = key.open(&ctx, &row.sealed_ha1).unwrap();
        assert_eq!(
            opened,
            ha1(Algorithm::Md5, "alice", "example.com", "pw").as_bytes()
        );
        let nt = key
            .open(
                &ntlm_context("sip:alice@example.com"),
                s.sealed_nt_hash.as_ref().unwrap(),
            )
            .unwrap();
        assert_eq!(nt, sipae::NtHash::from_password("pw").as_bytes());
        let digest_only = Mechanisms {
            digest: true,
            ntlm: false,
        };
        let s = derive_password_secrets(
            "sip:alice@example.com",
            "pw",
            "example.com",
            &key,
            digest_only,
        )
        .unwrap();
        assert!(s.sealed_nt_hash.is_none());
    }

    #[test]
    fn mechanisms_parse_and_print() {
        assert_eq!(Mechanisms::parse("ntlm, Digest").unwrap(), Mechanisms::ALL);
        assert_eq!(Mechanisms::parse("ntlm").unwrap().to_string(), "ntlm");
        assert!(Mechanisms::parse("").is_err());
        assert!(Mechanisms::parse("kerberos").is_err());
    }
}
