//! The client's SIP protocol state, without I/O: who we are on a connection, registration
//! with Digest, provisioning, dialogs with the chat service and the transactions waiting
//! for answers. Everything here builds or reads [`sip_proto`] values; the session sends
//! and receives them.

pub(crate) mod dialog;
pub(crate) mod digest;
pub(crate) mod local;
pub(crate) mod ping;
pub(crate) mod provisioning;
pub(crate) mod register;
pub(crate) mod transactions;

use rand::RngCore;

/// `n` random bytes as lower-case hex: tags, Call-IDs, branches, cnonces.
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A fresh RFC 3261 branch for a new client transaction.
pub(crate) fn branch() -> String {
    format!("{}{}", sip_proto::BRANCH_COOKIE, random_hex(8))
}

/// A random (version 4) UUID as a `+sip.instance` value, `<urn:uuid:…>`.
pub(crate) fn instance_id() -> String {
    format!("<{}>", uuid::Uuid::new_v4().urn())
}

#[cfg(test)]
mod tests {
    #[test]
    fn instance_ids_are_v4_uuids() {
        let id = super::instance_id();
        assert_eq!(id.len(), "<urn:uuid:>".len() + 36, "{id}");
        assert_eq!(&id[10 + 14..10 + 15], "4", "{id}");
        assert_ne!(id, super::instance_id());
    }
}
