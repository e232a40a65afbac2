//! The text an MS-SIPAE signature is computed over: selected header fields, each wrapped
//! in `<…>` (docs/protocol.md, "MS-SIPAE"). Values are taken with the message's own spelling, so
//! both ends build the same bytes from the same headers.

/// The header values of a SIP message that enter the buffer, as they appear in the
/// message (already unfolded and trimmed, like `sip_proto` stores them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageFields<'a> {
    pub call_id: &'a str,
    /// The whole CSeq value, e.g. `3 REGISTER`.
    pub cseq: &'a str,
    /// The whole From value, display name and parameters included.
    pub from: &'a str,
    /// The whole To value.
    pub to: &'a str,
    /// P-Asserted-Identity, or P-Preferred-Identity when the message has no PAI.
    pub asserted_identity: Option<&'a str>,
    pub expires: Option<&'a str>,
    /// The status code of a response; `None` for a request.
    pub status: Option<u16>,
}

impl<'a> MessageFields<'a> {
    /// The CSeq number as written (the digits before the space).
    pub fn cseq_number(&self) -> &'a str {
        self.cseq.split_whitespace().next().unwrap_or_default()
    }

    /// The CSeq method: the request's method, also for a response.
    pub fn method(&self) -> &'a str {
        self.cseq.split_whitespace().nth(1).unwrap_or_default()
    }

    pub fn is_request(&self) -> bool {
        self.status.is_none()
    }
}

/// The authentication parameters that enter the buffer, taken from the sender's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFields<'a> {
    /// `NTLM`, as written in the header.
    pub scheme: &'a str,
    /// `crand` or `srand`, verbatim.
    pub rand: &'a str,
    /// `cnum` or `snum`, verbatim.
    pub num: &'a str,
    pub realm: &'a str,
    pub targetname: &'a str,
}

/// The URI of a From/To value: the addr-spec inside `<…>`, or, without `<`, everything up to
/// the first `;` (sipe fix #350 for bare URIs).
pub fn address_uri(value: &str) -> &str {
    match value.find('<') {
        Some(open) => {
            let rest = &value[open + 1..];
            rest.find('>').map_or("", |close| &rest[..close])
        }
        None => value.split(';').next().unwrap_or_default().trim(),
    }
}

/// The `tag` parameter of a From/To value, found as the literal `;tag=` after the URI and
/// ending at the next `;`, the way sipe reads it; empty when there is none.
pub fn tag(value: &str) -> &str {
    let params = match value.find('<') {
        Some(open) => value[open..]
            .find('>')
            .map_or("", |close| &value[open + close..]),
        None => value,
    };
    params
        .find(";tag=")
        .map(|at| {
            let rest = &params[at + 5..];
            rest.split(';').next().unwrap_or_default().trim()
        })
        .unwrap_or_default()
}

/// The `sip:` and `tel:` URIs of a P-Asserted-Identity value (empty when absent). A value
/// starting with `tel:` is a tel URI as a whole; otherwise each comma-separated part may
/// carry one URI in `<…>`, and the first of each kind counts. Prefixes match
/// case-insensitively and the URIs keep their case.
pub fn identity_uris(value: &str) -> (&str, &str) {
    if starts_with_ignore_case(value, "tel:") {
        return ("", value);
    }
    let (mut sip, mut tel) = ("", "");
    for part in value.split(',') {
        let Some(open) = part.find('<') else { continue };
        let Some(len) = part[open + 1..].find('>') else {
            continue;
        };
        let uri = &part[open + 1..open + 1 + len];
        if starts_with_ignore_case(uri, "sip:") && sip.is_empty() {
            sip = uri;
        } else if starts_with_ignore_case(uri, "tel:") && tel.is_empty() {
            tel = uri;
        }
    }
    (sip, tel)
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Builds the buffer for protocol `version`: the 14-field form (plus the status code of a
/// response) for versions 3 and 4, the 11-field legacy form (no To URI, no identity) below 3.
pub fn signature_buffer(version: u32, auth: &AuthFields<'_>, msg: &MessageFields<'_>) -> String {
    let mut fields: Vec<&str> = vec![
        auth.scheme,
        auth.rand,
        auth.num,
        auth.realm,
        auth.targetname,
        msg.call_id,
        msg.cseq_number(),
        msg.method(),
        address_uri(msg.from),
        tag(msg.from),
    ];
    if version >= 3 {
        let (sip, tel) = msg.asserted_identity.map_or(("", ""), identity_uris);
        fields.extend([address_uri(msg.to), tag(msg.to), sip, tel]);
    } else {
        fields.push(tag(msg.to));
    }
    fields.push(msg.expires.unwrap_or_default());
    let status = msg.status.map(|s| s.to_string());
    fields.extend(status.as_deref());

    let mut out = String::with_capacity(fields.iter().map(|f| f.len() + 2).sum());
    for f in fields {
        out.push('<');
        out.push_str(f);
        out.push('>');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_forms() {
        assert_eq!(
            address_uri(r#""User"<sip:user@cosmo.local>;tag=3e;epid=c8"#),
            "sip:user@cosmo.local"
        );
        assert_eq!(
            address_uri("sip:sender@company.com;tag=24;epid=54"),
            "sip:sender@company.com"
        );
        assert_eq!(address_uri("<sip:broken"), "");
        assert_eq!(address_uri(""), "");
    }

    #[test]
    fn tags() {
        assert_eq!(
            tag("<sip:a@b>;tag=3e49177a52;epid=c8ca638a15"),
            "3e49177a52"
        );
        assert_eq!(tag("<sip:a@b>;epid=1;tag=x"), "x");
        assert_eq!(tag("<sip:a@b>"), "");
        assert_eq!(tag("sip:a@b;tag=7aee15546a;epid=3102EB8BD1"), "7aee15546a");
        assert_eq!(tag("<sip:a@b;tag=inside>"), "");
    }

    #[test]
    fn identities_from_the_reference() {
        assert_eq!(
            identity_uris(r#""Cullen Jennings" <sip:fluffy@cisco.com>"#),
            ("sip:fluffy@cisco.com", "")
        );
        assert_eq!(identity_uris("tel:+14085264000"), ("", "tel:+14085264000"));
        assert_eq!(
            identity_uris(r#""Lunch, Lucas" <sip:llucas@cisco.com>,<tel:+420123456;ext=88463>"#),
            ("sip:llucas@cisco.com", "tel:+420123456;ext=88463")
        );
        assert_eq!(
            identity_uris(r#""recipient"<SIP:recipient@company.com>"#),
            ("SIP:recipient@company.com", "")
        );
        assert_eq!(identity_uris("<sip:a@b>, <sip:c@d>"), ("sip:a@b", ""));
        assert_eq!(identity_uris("<mailto:x@y>"), ("", ""));
    }

    #[test]
    fn cseq_parts() {
        let m = MessageFields {
            cseq: "3 REGISTER",
            ..Default::default()
        };
        assert_eq!((m.cseq_number(), m.method()), ("3", "REGISTER"));
        let m = MessageFields {
            cseq: "",
            ..Default::default()
        };
        assert_eq!((m.cseq_number(), m.method()), ("", ""));
    }
}
