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
}

/// Normalises `alice@example.com` or `sip:alice@example.com` to `sip:alice@example.com`.
pub fn normalize_user_uri(input: &str) -> Result<String> {
    let invalid = |why: &str| StoreError::Invalid { what: "user URI", why: why.to_owned() };
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
    let user = uri.user.as_deref().ok_or_else(|| invalid("expected user@domain"))?;
    if uri.port.is_some() || !uri.params.is_empty() || uri.headers.is_some() || uri.password.is_some() {
        return Err(invalid("only user@domain, without port or parameters"));
    }
    Ok(SipUri::new(Some(&user.to_ascii_lowercase()), &uri.host.to_ascii_lowercase()).to_string())
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
) -> Result<PasswordSecrets> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    if password.is_empty() {
        return Err(StoreError::Invalid { what: "password", why: "empty".into() });
    }
    let salt = SaltString::generate(&mut OsRng);
    let phc = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| StoreError::PasswordHash(e.to_string()))?
        .to_string();
    let mut digest = Vec::new();
    for algorithm in DIGEST_ALGORITHMS {
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
    Ok(PasswordSecrets { phc, digest })
}

/// Checks a password against a stored argon2 PHC string.
pub fn verify_password(phc: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc)
        .is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_uris_are_normalised() {
        assert_eq!(normalize_user_uri("Alice@Example.COM").unwrap(), "sip:alice@example.com");
        assert_eq!(normalize_user_uri("sip:bob@example.com").unwrap(), "sip:bob@example.com");
        assert!(normalize_user_uri("example.com").is_err());
        assert!(normalize_user_uri("bob@example.com:5060").is_err());
        assert!(normalize_user_uri("").is_err());
    }

    #[test]
    fn secrets_cover_both_username_forms_and_algorithms() {
        let key = ServerKey::from_bytes(&[1u8; 32]).unwrap();
        let s = derive_password_secrets("sip:alice@example.com", "pw", "example.com", &key).unwrap();
        assert!(verify_password(&s.phc, "pw"));
        assert!(!verify_password(&s.phc, "wrong"));
        assert_eq!(s.digest.len(), 4);
        let row = s.digest.iter().find(|d| d.username == "alice" && d.algorithm == Algorithm::Md5).unwrap();
        let ctx = digest_context("sip:alice@example.com", Algorithm::Md5, "alice", "example.com");
        let opened = key.open(&ctx, &row.sealed_ha1).unwrap();
        assert_eq!(opened, ha1(Algorithm::Md5, "alice", "example.com", "pw").as_bytes());
    }
}
