//! The server key and the sealing of password-equivalent secrets (Digest HA1, later the NT
//! hash). The key lives in a file beside the database, never in it, so a copy of the
//! database alone reveals no usable credential. Other parts of the server (the file store)
//! get keys of their own derived from it ([`ServerKey::derive_key`]), never the key itself.

use std::path::Path;

use rand::RngCore;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, KeyType, Salt};

use crate::error::{Result, StoreError};

const KEY_LEN: usize = 32;
/// The purpose of [`ServerKey::check_value`]'s derivation; never to change, or every
/// installation's recorded check would stop matching.
const CHECK_PURPOSE: &str = "parlance key check v1";

/// A ChaCha20-Poly1305 key. Sealed values are `nonce || ciphertext || tag`, and the
/// associated data binds each value to the row it belongs to, so values cannot be swapped.
#[derive(Clone)]
pub struct ServerKey {
    bytes: [u8; KEY_LEN],
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

impl ServerKey {
    /// Loads the key file, creating it (mode 0600) with a fresh random key when absent.
    pub fn load_or_create(path: &Path) -> Result<ServerKey> {
        let io = |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut fresh = [0u8; KEY_LEN];
                rand::rng().fill_bytes(&mut fresh);
                write_private(path, &fresh).map_err(io)?;
                fresh.to_vec()
            }
            Err(e) => return Err(io(e)),
        };
        Self::from_bytes(&bytes)
    }

    /// Loads the key file, which must exist.
    pub fn load(path: &Path) -> Result<ServerKey> {
        let bytes = std::fs::read(path).map_err(|source| StoreError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// A value that identifies this key without revealing it or any key derived from it for
    /// another purpose: recorded with the installation, it tells a wrong key file from the
    /// right one before any secret fails to open.
    pub fn check_value(&self) -> [u8; KEY_LEN] {
        self.derive_key(CHECK_PURPOSE)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<ServerKey> {
        if bytes.len() != KEY_LEN {
            return Err(StoreError::Key(format!(
                "expected {KEY_LEN} bytes, found {}",
                bytes.len()
            )));
        }
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(bytes);
        Ok(ServerKey { bytes: key })
    }

    /// A 256-bit key for one purpose (e.g. `"parlance files v1"`), derived with HKDF-SHA256
    /// (RFC 5869: no salt, the purpose as `info`). Keys of different purposes are
    /// independent, so a part of the server that holds one learns nothing of the others or
    /// of the sealed secrets. The derivation must never change for a purpose: data sealed
    /// under a derived key (files at rest) would no longer open. A new scheme takes a new
    /// purpose string.
    pub fn derive_key(&self, purpose: &str) -> [u8; KEY_LEN] {
        /// HKDF's output length, as ring asks for it.
        struct Len;
        impl KeyType for Len {
            fn len(&self) -> usize {
                KEY_LEN
            }
        }
        let mut key = [0u8; KEY_LEN];
        Salt::new(HKDF_SHA256, &[])
            .extract(&self.bytes)
            .expand(&[purpose.as_bytes()], Len)
            .and_then(|okm| okm.fill(&mut key))
            .expect("32 bytes is within HKDF-SHA256's output limit");
        key
    }

    fn cipher(&self) -> LessSafeKey {
        let key =
            UnboundKey::new(&CHACHA20_POLY1305, &self.bytes).expect("key length checked on load");
        LessSafeKey::new(key)
    }

    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buf = plaintext.to_vec();
        self.cipher()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("ChaCha20-Poly1305 seals any input below 256 GiB");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        out
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return Err(StoreError::Unseal);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StoreError::Unseal)?;
        let mut buf = ciphertext.to_vec();
        let cipher = self.cipher();
        let plain = cipher
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| StoreError::Unseal)?;
        Ok(plain.to_vec())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_bind_the_context() {
        let key = ServerKey::from_bytes(&[7u8; KEY_LEN]).unwrap();
        let sealed = key.seal("row-1", b"secret");
        assert_eq!(key.open("row-1", &sealed).unwrap(), b"secret");
        assert!(matches!(
            key.open("row-2", &sealed),
            Err(StoreError::Unseal)
        ));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.open("row-1", &tampered).is_err());
        let other = ServerKey::from_bytes(&[8u8; KEY_LEN]).unwrap();
        assert!(other.open("row-1", &sealed).is_err());
    }

    #[test]
    fn derived_keys_are_hkdf_sha256_and_differ_by_purpose() {
        let key = ServerKey::from_bytes(&[7u8; KEY_LEN]).unwrap();
        // HKDF-SHA256(IKM = 32 × 0x07, no salt, info = purpose, L = 32), computed with
        // Python's hmac module: a derivation that changed would lose every file at rest.
        let expected = "26f435ead02f26a5379f8f33204c42d0e95f47d41367060105ec443b457224d3";
        let hex: String = key
            .derive_key("parlance files v1")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, expected);
        assert_ne!(
            key.derive_key("parlance files v1"),
            key.derive_key("parlance files v2")
        );
        let other = ServerKey::from_bytes(&[8u8; KEY_LEN]).unwrap();
        assert_ne!(
            key.derive_key("parlance files v1"),
            other.derive_key("parlance files v1")
        );
        assert_ne!(key.derive_key("parlance files v1"), [7u8; KEY_LEN]);
    }

    #[test]
    fn key_file_is_created_once() {
        let dir = std::env::temp_dir().join(format!("parlance-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("server.key");
        let _ = std::fs::remove_file(&path);
        let a = ServerKey::load_or_create(&path).unwrap();
        let sealed = a.seal("c", b"x");
        let b = ServerKey::load_or_create(&path).unwrap();
        assert_eq!(b.open("c", &sealed).unwrap(), b"x");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
