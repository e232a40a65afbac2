//! Random identifiers the server makes up: tags, branches, transaction ids.

use rand::RngCore;

/// `bytes` random bytes in lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}
