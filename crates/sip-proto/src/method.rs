//! SIP request methods.

use std::fmt;

/// A request method. Methods are case-sensitive tokens (RFC 3261 §7.1); the ones Parlance
/// acts on get their own variant, anything else is kept verbatim so it can be answered 501.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Register,
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Info,
    Update,
    Message,
    Subscribe,
    Notify,
    /// Microsoft's "best effort NOTIFY" (MS-SIP), sent by OCS-family servers.
    Benotify,
    /// Microsoft's SERVICE method (presence publication, MS-SIP).
    Service,
    Refer,
    Prack,
    Publish,
    Other(String),
}

impl Method {
    pub fn as_str(&self) -> &str {
        match self {
            Method::Register => "REGISTER",
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Message => "MESSAGE",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Benotify => "BENOTIFY",
            Method::Service => "SERVICE",
            Method::Refer => "REFER",
            Method::Prack => "PRACK",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }

    /// Parses a method token. Returns `None` when `s` is not a valid RFC 3261 token.
    pub fn parse(s: &str) -> Option<Method> {
        if s.is_empty() || !s.bytes().all(crate::syntax::is_token_char) {
            return None;
        }
        Some(match s {
            "REGISTER" => Method::Register,
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "MESSAGE" => Method::Message,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "BENOTIFY" => Method::Benotify,
            "SERVICE" => Method::Service,
            "REFER" => Method::Refer,
            "PRACK" => Method::Prack,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_methods() {
        assert_eq!(Method::parse("INVITE"), Some(Method::Invite));
        assert_eq!(
            Method::parse("invite"),
            Some(Method::Other("invite".into()))
        );
        assert_eq!(Method::parse("NEWMETHOD").unwrap().as_str(), "NEWMETHOD");
        assert_eq!(Method::parse("BAD METHOD"), None);
        assert_eq!(Method::parse(""), None);
    }
}
