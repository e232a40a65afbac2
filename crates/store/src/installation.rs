//! The installation's identity, as every engine stores it: the domain it serves and a check
//! value of its server key, recorded at the first start. Starting with another domain or
//! another key is refused by the server before anything else runs.

/// The recorded identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub domain: String,
    /// [`ServerKey::check_value`](crate::ServerKey::check_value) of the key the secrets are
    /// sealed under.
    pub key_check: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A complete file as the file store names it: `<room GUID>/<repository name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLocation {
    pub room_guid: String,
    pub name: String,
}
