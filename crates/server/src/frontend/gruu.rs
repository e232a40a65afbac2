//! Globally routable user-agent URIs (RFC 5627) in the shape Lync gives them:
//! `sip:alice@example.com;opaque=user:epid:<id>;gruu`. A GRUU names one device of a user,
//! so a request to it reaches that device's binding only, not every device of the user.
//!
//! The `<id>` is derived from the device's `+sip.instance`, so the same device gets the
//! same GRUU after a reconnect (a client that put its GRUU in a dialog's Contact is still
//! reached), and the instance text itself (chosen by the client) never reaches a URI.

use sha2::{Digest, Sha256};
use sip_proto::{Request, SipUri, name};

/// The option tag a client lists in Supported when it wants a GRUU.
const OPTION_TAG: &str = "gruu-10";
/// What precedes the device id in the `opaque` parameter.
const EPID_PREFIX: &str = "user:epid:";

/// The device id of a `+sip.instance` value (quotes already removed).
pub fn epid(instance: &str) -> String {
    let digest = Sha256::digest(instance.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The GRUU of `aor` (`sip:user@domain`) for the device with `epid`.
pub fn uri(aor: &str, epid: &str) -> String {
    format!("{aor};opaque={EPID_PREFIX}{epid};gruu")
}

/// Whether the REGISTER's Supported lines list `gruu-10`.
pub fn wanted(req: &Request) -> bool {
    req.headers
        .get_all(name::SUPPORTED)
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim().eq_ignore_ascii_case(OPTION_TAG))
}

/// The device id a request-URI names, when it is a GRUU.
pub fn target(uri: &SipUri) -> Option<&str> {
    if !uri.params.contains("gruu") {
        return None;
    }
    uri.params.value("opaque")?.strip_prefix(EPID_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_proto::Uri;

    #[test]
    fn a_gruu_names_its_device_and_nothing_else_does() {
        let id = epid("<urn:uuid:34D859DB-6585-5F91-A3B4-DE853C15347D>");
        assert_eq!(id.len(), 32);
        assert_eq!(id, epid("<urn:uuid:34D859DB-6585-5F91-A3B4-DE853C15347D>"));
        assert_ne!(id, epid("<urn:uuid:34D859DB-6585-5F91-A3B4-DE853C15347E>"));
        let gruu = Uri::parse(&uri("sip:alice@example.test", &id)).unwrap();
        assert_eq!(target(gruu.as_sip().unwrap()), Some(id.as_str()));
        for plain in [
            "sip:alice@example.test",
            "sip:alice@example.test;opaque=user:epid:abc",
            "sip:alice@example.test;gruu",
            "sip:alice@example.test;opaque=other;gruu",
        ] {
            let u = Uri::parse(plain).unwrap();
            assert_eq!(target(u.as_sip().unwrap()), None, "{plain}");
        }
    }
}
