//! User accounts: what is kept for each user and how it is derived from a password.
//! Engine-independent; the engines only store and fetch the rows built here, through the
//! [`Store`] methods at the end.

use sip_proto::auth::{Algorithm, ha1};
use sip_proto::{SipUri, Uri};

use crate::Store;
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

impl Store {
    /// Creates a user with a password. `realm` is the Digest realm the HA1 values are for.
    pub async fn add_user(
        &self,
        uri: &str,
        display_name: &str,
        password: &str,
        realm: &str,
        key: &ServerKey,
    ) -> Result<User> {
        self.create_user(uri, display_name, password, realm, key, false)
            .await
    }

    /// Creates an account at the address of a removed one, which [`Store::add_user`]
    /// refuses ([`StoreError::Removed`]): the administrator asks for the re-use knowingly.
    pub async fn reuse_user(
        &self,
        uri: &str,
        display_name: &str,
        password: &str,
        realm: &str,
        key: &ServerKey,
    ) -> Result<User> {
        self.create_user(uri, display_name, password, realm, key, true)
            .await
    }

    /// A new account with a password, every mechanism allowed; with `revive`, at the
    /// address of a removed one.
    async fn create_user(
        &self,
        uri: &str,
        display_name: &str,
        password: &str,
        realm: &str,
        key: &ServerKey,
        revive: bool,
    ) -> Result<User> {
        let uri = normalize_user_uri(uri)?;
        let secrets = derive(&uri, password, realm, key, Mechanisms::ALL).await?;
        engine!(self, s => s.create_user(&uri, display_name, &secrets, revive).await)
    }

    /// Creates accounts without any password or secret, in one transaction: they can sign
    /// in only from `auth.trusted_networks`. For load generation (`parlance bench`), where
    /// one argon2 hash per account would take minutes for thousands of accounts.
    pub async fn add_users_without_password(&self, uris: &[&str]) -> Result<Vec<User>> {
        let uris = uris
            .iter()
            .map(|u| normalize_user_uri(u))
            .collect::<Result<Vec<_>>>()?;
        engine!(self, s => s.add_users_without_password(&uris).await)
    }

    /// Replaces a user's password: the argon2 hash and the secrets of every mechanism the
    /// account allows. The user's sessions end.
    pub async fn set_password(
        &self,
        uri: &str,
        password: &str,
        realm: &str,
        key: &ServerKey,
    ) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        let user = self
            .user(&uri)
            .await?
            .ok_or_else(|| StoreError::NotFound(uri.clone()))?;
        let secrets = derive(&uri, password, realm, key, user.mechanisms).await?;
        engine!(self, s => s.set_password(&uri, &secrets).await)
    }

    /// Removes an account; its sessions end. A tombstone keeps the author of its messages,
    /// and its address is not given to a new account unless asked ([`Store::reuse_user`]).
    pub async fn remove_user(&self, uri: &str) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.remove_user(&uri).await)
    }

    /// Disables an account (its sessions end, sign-in is refused) or enables it again.
    pub async fn set_disabled(&self, uri: &str, disabled: bool) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.set_disabled(&uri, disabled).await)
    }

    /// Asks the running server to forget the failed sign-ins of an account.
    pub async fn request_unlock(&self, uri: &str) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.request_unlock(&uri).await)
    }

    /// Asks the running server to end every session of an account (`reason` is for its log);
    /// [`StoreError::NotFound`] when there is no such account.
    pub async fn request_sign_out(&self, uri: &str, reason: &str) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.request_sign_out(&uri, reason).await)
    }

    /// Makes an account an administrator of the room-management application, or not.
    pub async fn set_admin(&self, uri: &str, admin: bool) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.set_admin(&uri, admin).await)
    }

    /// Lets an account use persistent chat (the default) or not; turned off, its sessions end.
    pub async fn set_persistent_chat(&self, uri: &str, enabled: bool) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.set_persistent_chat(&uri, enabled).await)
    }

    /// Active (not removed, not disabled) accounts whose address or display name contains
    /// `query`, case-insensitively, at most `limit`. Every character of the query is taken
    /// literally (`%`, `_`, `*`, `\` too); an empty query finds nobody.
    pub async fn search_users(&self, query: &str, limit: u32) -> Result<Vec<User>> {
        engine!(self, s => s.search_users(query, limit).await)
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        engine!(self, s => s.users().await)
    }

    pub async fn user(&self, uri: &str) -> Result<Option<User>> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.user(&uri).await)
    }

    /// An account by principal id; `None` once removed.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        engine!(self, s => s.user_by_id(id).await)
    }

    /// Checks a password against the stored argon2 hash (web login).
    pub async fn verify_password(&self, uri: &str, password: &str) -> Result<bool> {
        let uri = normalize_user_uri(uri)?;
        let phc = engine!(self, s => s.password_phc(&uri).await?);
        let Some(phc) = phc else { return Ok(false) };
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || verify_password(&phc, &password))
            .await
            .map_err(|e| StoreError::PasswordHash(e.to_string()))
    }

    /// The HA1 of `uri` for a Digest `username` and algorithm, opened with the server key.
    /// `None` when the account does not exist or has no secret for that form or realm.
    pub async fn digest_ha1(
        &self,
        uri: &str,
        algorithm: Algorithm,
        username: &str,
        realm: &str,
        key: &ServerKey,
    ) -> Result<Option<String>> {
        let uri = normalize_user_uri(uri)?;
        let secret: Option<DigestSecret> =
            engine!(self, s => s.digest_secret(&uri, algorithm.base(), username).await?);
        let Some(secret) = secret.filter(|s| s.realm == realm) else {
            return Ok(None);
        };
        let context = digest_context(&uri, secret.algorithm, username, realm);
        let plain = key.open(&context, &secret.sealed_ha1)?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| StoreError::Unseal)
    }

    /// The NT hash of an account that allows NTLM, opened with the server key.
    pub async fn nt_hash(&self, uri: &str, key: &ServerKey) -> Result<Option<[u8; 16]>> {
        let uri = normalize_user_uri(uri)?;
        let Some(sealed) = engine!(self, s => s.ntlm_secret(&uri).await)? else {
            return Ok(None);
        };
        let plain = key.open(&ntlm_context(&uri), &sealed)?;
        plain.try_into().map(Some).map_err(|_| StoreError::Unseal)
    }

    /// Sets the mechanisms an account may use. Secrets of mechanisms dropped are deleted;
    /// a mechanism added works once the password is set again (its secret needs it). The
    /// user's sessions end.
    pub async fn set_mechanisms(&self, uri: &str, mechanisms: Mechanisms) -> Result<()> {
        let uri = normalize_user_uri(uri)?;
        engine!(self, s => s.set_mechanisms(&uri, mechanisms).await)
    }
}

async fn derive(
    uri: &str,
    password: &str,
    realm: &str,
    key: &ServerKey,
    mechanisms: Mechanisms,
) -> Result<PasswordSecrets> {
    // Argon2 takes tens of milliseconds of CPU on purpose; keep it off the async workers.
    let (uri, password, realm) = (uri.to_owned(), password.to_owned(), realm.to_owned());
    let key = key.clone();
    tokio::task::spawn_blocking(move || {
        derive_password_secrets(&uri, &password, &realm, &key, mechanisms)
    })
    .await
    .map_err(|e| StoreError::PasswordHash(e.to_string()))?
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
