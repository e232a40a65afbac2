//! The OPTIONS that asks the server whether it is still there (`session::liveness`): out of
//! any dialog, to the domain itself, which every registrar answers without forwarding it.

use sip_proto::{Method, Request, Uri};

use super::local::Local;

pub(crate) fn options(local: &Local) -> Result<Request, sip_proto::UriError> {
    let domain = format!("sip:{}", local.identity.domain);
    let uri = Uri::parse(&domain)?;
    Ok(local.request(
        Method::Options,
        uri,
        &super::random_hex(5),
        &format!("<{domain}>"),
        &super::random_hex(12),
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Identity;

    #[test]
    fn asks_the_domain() {
        let local = Local::new(
            Identity::parse("alice@example.test").unwrap(),
            "e1".into(),
            "<urn:uuid:1>".into(),
            "TCP",
            "127.0.0.1:4000".parse().unwrap(),
        );
        let text = String::from_utf8(options(&local).unwrap().to_bytes()).unwrap();
        assert!(
            text.starts_with("OPTIONS sip:example.test SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nTo: <sip:example.test>\r\n"), "{text}");
        assert!(text.contains("\r\nCSeq: 1 OPTIONS\r\n"), "{text}");
    }
}
