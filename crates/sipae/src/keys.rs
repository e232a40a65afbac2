//! Signing and sealing keys ([MS-NLMP] 3.4.5.2, 3.4.5.3).

use std::fmt;

use crate::crypto::md5;
use crate::flags::NegotiateFlags;

const CLIENT_SIGNING: &[u8] = b"session key to client-to-server signing key magic constant\0";
const SERVER_SIGNING: &[u8] = b"session key to server-to-client signing key magic constant\0";
const CLIENT_SEALING: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const SERVER_SEALING: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// The key pair one side signs with (and the other side verifies with).
#[derive(Clone, PartialEq, Eq)]
pub struct DirectionKeys {
    pub signing: [u8; 16],
    pub sealing: [u8; 16],
}

impl fmt::Debug for DirectionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DirectionKeys(..)")
    }
}

/// All four keys of a security association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// Client → server: the server verifies the client's signatures with these.
    pub client: DirectionKeys,
    /// Server → client: the server signs with these.
    pub server: DirectionKeys,
}

impl SessionKeys {
    /// Derives the keys from the ExportedSessionKey.
    ///
    /// With extended session security: the [MS-NLMP] magic-constant MD5s, the sealing key
    /// input cut to 16, 7 or 5 bytes by the 128/56 flags. Without it (legacy): the
    /// ExportedSessionKey itself for every key, in both directions, which is what the real
    /// OCS 2007 signature in the test vectors needs; [MS-NLMP]'s 40/56-bit weakening would
    /// not reproduce it.
    pub fn derive(exported_session_key: &[u8; 16], flags: NegotiateFlags) -> SessionKeys {
        if !flags.contains(NegotiateFlags::EXTENDED_SESSION_SECURITY) {
            let same = DirectionKeys {
                signing: *exported_session_key,
                sealing: *exported_session_key,
            };
            return SessionKeys {
                client: same.clone(),
                server: same,
            };
        }
        let seal_input: &[u8] = if flags.contains(NegotiateFlags::NEGOTIATE_128) {
            exported_session_key
        } else if flags.contains(NegotiateFlags::NEGOTIATE_56) {
            &exported_session_key[..7]
        } else {
            &exported_session_key[..5]
        };
        SessionKeys {
            client: DirectionKeys {
                signing: md5(&[exported_session_key, CLIENT_SIGNING]),
                sealing: md5(&[seal_input, CLIENT_SEALING]),
            },
            server: DirectionKeys {
                signing: md5(&[exported_session_key, SERVER_SIGNING]),
                sealing: md5(&[seal_input, SERVER_SEALING]),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_strength_follows_the_flags() {
        let k = [0x55; 16];
        let ess = NegotiateFlags::EXTENDED_SESSION_SECURITY;
        let full = SessionKeys::derive(&k, ess | NegotiateFlags::NEGOTIATE_128);
        let k56 = SessionKeys::derive(&k, ess | NegotiateFlags::NEGOTIATE_56);
        let k40 = SessionKeys::derive(&k, ess);
        assert_eq!(full.client.signing, k40.client.signing);
        assert_ne!(full.client.sealing, k56.client.sealing);
        assert_ne!(k56.client.sealing, k40.client.sealing);
        assert_eq!(k40.server.sealing, md5(&[&k[..5], SERVER_SEALING]));
    }

    #[test]
    fn legacy_uses_the_session_key_everywhere() {
        let k = [7; 16];
        let keys = SessionKeys::derive(&k, NegotiateFlags::DATAGRAM);
        assert_eq!(keys.client, keys.server);
        assert_eq!(keys.server.signing, k);
        assert_eq!(keys.server.sealing, k);
    }
}
