//! The header list of a message: names canonicalised on input (compact forms expanded,
//! known names in their usual spelling), full names on output, order preserved.

/// Header names Parlance reads or writes, in their canonical spelling.
pub mod name {
    pub const ACCEPT: &str = "Accept";
    pub const ALLOW: &str = "Allow";
    pub const ALLOW_EVENTS: &str = "Allow-Events";
    pub const AUTHENTICATION_INFO: &str = "Authentication-Info";
    pub const AUTHORIZATION: &str = "Authorization";
    pub const CALL_ID: &str = "Call-ID";
    pub const CONTACT: &str = "Contact";
    pub const CONTENT_LENGTH: &str = "Content-Length";
    pub const CONTENT_TYPE: &str = "Content-Type";
    pub const CSEQ: &str = "CSeq";
    pub const EVENT: &str = "Event";
    pub const EXPIRES: &str = "Expires";
    pub const FROM: &str = "From";
    pub const MAX_FORWARDS: &str = "Max-Forwards";
    pub const MIN_EXPIRES: &str = "Min-Expires";
    pub const P_ASSERTED_IDENTITY: &str = "P-Asserted-Identity";
    pub const P_PREFERRED_IDENTITY: &str = "P-Preferred-Identity";
    pub const PROXY_AUTHORIZATION: &str = "Proxy-Authorization";
    pub const PROXY_REQUIRE: &str = "Proxy-Require";
    pub const RECORD_ROUTE: &str = "Record-Route";
    pub const REQUIRE: &str = "Require";
    pub const RETRY_AFTER: &str = "Retry-After";
    pub const ROUTE: &str = "Route";
    pub const SERVER: &str = "Server";
    pub const SESSION_EXPIRES: &str = "Session-Expires";
    pub const SUBSCRIPTION_STATE: &str = "Subscription-State";
    pub const SUPPORTED: &str = "Supported";
    pub const TO: &str = "To";
    pub const UNSUPPORTED: &str = "Unsupported";
    pub const USER_AGENT: &str = "User-Agent";
    pub const VIA: &str = "Via";
    pub const WARNING: &str = "Warning";
    pub const WWW_AUTHENTICATE: &str = "WWW-Authenticate";
}

/// Compact forms (RFC 3261 §7.3.3 and the RFCs that added more) and the full names they
/// stand for.
const COMPACT: &[(u8, &str)] = &[
    (b'a', "Accept-Contact"),
    (b'b', "Referred-By"),
    (b'c', name::CONTENT_TYPE),
    (b'd', "Request-Disposition"),
    (b'e', "Content-Encoding"),
    (b'f', name::FROM),
    (b'i', name::CALL_ID),
    (b'j', "Reject-Contact"),
    (b'k', name::SUPPORTED),
    (b'l', name::CONTENT_LENGTH),
    (b'm', name::CONTACT),
    (b'o', name::EVENT),
    (b'r', "Refer-To"),
    (b's', "Subject"),
    (b't', name::TO),
    (b'u', name::ALLOW_EVENTS),
    (b'v', name::VIA),
    (b'x', name::SESSION_EXPIRES),
    (b'y', "Identity"),
];

/// Full names whose canonical spelling is restored whatever case they arrive in.
const KNOWN: &[&str] = &[
    name::ACCEPT,
    name::ALLOW,
    name::ALLOW_EVENTS,
    name::AUTHENTICATION_INFO,
    name::AUTHORIZATION,
    name::CALL_ID,
    name::CONTACT,
    name::CONTENT_LENGTH,
    name::CONTENT_TYPE,
    name::CSEQ,
    name::EVENT,
    name::EXPIRES,
    name::FROM,
    name::MAX_FORWARDS,
    name::MIN_EXPIRES,
    name::P_ASSERTED_IDENTITY,
    name::P_PREFERRED_IDENTITY,
    name::PROXY_AUTHORIZATION,
    name::PROXY_REQUIRE,
    name::RECORD_ROUTE,
    name::REQUIRE,
    name::RETRY_AFTER,
    name::ROUTE,
    name::SERVER,
    name::SESSION_EXPIRES,
    name::SUBSCRIPTION_STATE,
    name::SUPPORTED,
    name::TO,
    name::UNSUPPORTED,
    name::USER_AGENT,
    name::VIA,
    name::WARNING,
    name::WWW_AUTHENTICATE,
];

/// Returns the canonical spelling of a header name as received.
pub fn canonical_name(received: &str) -> String {
    if let [c] = received.as_bytes() {
        let c = c.to_ascii_lowercase();
        if let Some((_, full)) = COMPACT.iter().find(|(k, _)| *k == c) {
            return (*full).to_owned();
        }
    }
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(received))
        .map_or_else(|| received.to_owned(), |k| (*k).to_owned())
}

/// One header line: a name and its raw value (several comma-separated values stay together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// The ordered header list of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    /// The first value of `name` (matched case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// Every comma-separated element of every `name` header, trimmed.
    pub fn get_list<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.get_all(name)
            .flat_map(|v| crate::syntax::split_outside_quotes(v, b','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Appends a header line.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push(Header {
            name: name.into(),
            value: value.into(),
        });
    }

    /// Inserts a header line before all others.
    pub fn push_front(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(
            0,
            Header {
                name: name.into(),
                value: value.into(),
            },
        );
    }

    /// Replaces every `name` header by one line with `value`, keeping the first one's position.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .0
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))
        {
            Some(i) => {
                self.0[i].value = value;
                let mut seen = 0;
                self.0.retain(|h| {
                    let same = h.name.eq_ignore_ascii_case(name);
                    seen += usize::from(same);
                    !same || seen == 1
                });
            }
            None => self.push(name, value),
        }
    }

    /// Removes every `name` header; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.0.len();
        self.0.retain(|h| !h.name.eq_ignore_ascii_case(name));
        before - self.0.len()
    }

    /// Removes the first element of a comma-separated list header (e.g. the top Via or
    /// Route), dropping the line when it becomes empty. Returns the removed element.
    pub fn pop_first_list_element(&mut self, name: &str) -> Option<String> {
        let i = self
            .0
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))?;
        let parts = crate::syntax::split_outside_quotes(&self.0[i].value, b',');
        let first = parts[0].trim().to_owned();
        let rest: Vec<&str> = parts[1..].iter().map(|p| p.trim()).collect();
        if rest.is_empty() {
            self.0.remove(i);
        } else {
            self.0[i].value = rest.join(", ");
        }
        Some(first)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_forms_are_canonicalised() {
        assert_eq!(canonical_name("i"), "Call-ID");
        assert_eq!(canonical_name("V"), "Via");
        assert_eq!(canonical_name("call-id"), "Call-ID");
        assert_eq!(canonical_name("CSEQ"), "CSeq");
        assert_eq!(canonical_name("ms-keep-alive"), "ms-keep-alive");
    }

    #[test]
    fn set_keeps_position_and_removes_duplicates() {
        let mut h = Headers::new();
        h.push("A", "1");
        h.push("Via", "x");
        h.push("B", "2");
        h.push("via", "y");
        h.set("Via", "z");
        let names: Vec<_> = h
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect();
        assert_eq!(names, vec![("A", "1"), ("Via", "z"), ("B", "2")]);
    }

    #[test]
    fn pop_first_list_element_handles_combined_lines() {
        let mut h = Headers::new();
        h.push("Via", "SIP/2.0/TCP a;branch=z9hG4bK1, SIP/2.0/TCP b");
        h.push("Via", "SIP/2.0/TCP c");
        assert_eq!(
            h.pop_first_list_element("Via").unwrap(),
            "SIP/2.0/TCP a;branch=z9hG4bK1"
        );
        assert_eq!(
            h.get_list("Via").collect::<Vec<_>>(),
            vec!["SIP/2.0/TCP b", "SIP/2.0/TCP c"]
        );
        h.pop_first_list_element("Via");
        assert_eq!(h.get_all("Via").collect::<Vec<_>>(), vec!["SIP/2.0/TCP c"]);
    }
}
