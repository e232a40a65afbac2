//! SIP URIs (RFC 3261 §19.1), name-addr values and `;name=value` parameter lists.

use std::fmt;

use crate::syntax::{is_token, parse_port, split_outside_quotes};

/// Why a URI or name-addr could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("empty URI")]
    Empty,
    #[error("URI has no scheme")]
    NoScheme,
    #[error("URI has an empty or invalid host")]
    BadHost,
    #[error("URI has an invalid port")]
    BadPort,
    #[error("URI contains white space or control characters")]
    BadCharacter,
    #[error("name-addr has an unterminated <…> or quoted display name")]
    Unterminated,
    #[error("invalid parameter {0:?}")]
    BadParam(String),
    #[error("a URI with headers must be enclosed in <…>")]
    NeedsAngleBrackets,
}

/// A `;name[=value]` parameter list. Names compare case-insensitively; values are kept as
/// received (a quoted value keeps its quotes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, Option<String>)>);

impl Params {
    /// Parses the text after the first `;` (e.g. `transport=tcp;lr`).
    pub fn parse(s: &str) -> Result<Params, UriError> {
        let mut params = Params::default();
        if s.trim().is_empty() {
            return Ok(params);
        }
        for part in split_outside_quotes(s, b';') {
            let part = part.trim();
            let (name, value) = match part.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().to_owned())),
                None => (part, None),
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
                return Err(UriError::BadParam(part.to_owned()));
            }
            params.0.push((name.to_owned(), value));
        }
        Ok(params)
    }

    /// The value of `name`: `Some(Some(v))` for `name=v`, `Some(None)` for a bare flag.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// The value of `name` if present with a value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).flatten()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` (replacing an existing one).
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_deref()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.0 {
            match value {
                Some(v) => write!(f, ";{name}={v}")?,
                None => write!(f, ";{name}")?,
            }
        }
        Ok(())
    }
}

/// `sip:` or `sips:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Sip,
    Sips,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
        }
    }
}

/// A SIP or SIPS URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub scheme: Scheme,
    /// The user part, still %-escaped as received.
    pub user: Option<String>,
    pub password: Option<String>,
    /// The host; an IPv6 reference keeps its brackets.
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
    /// The `?…` part without the `?`.
    pub headers: Option<String>,
}

impl SipUri {
    /// A plain `sip:user@host` URI.
    pub fn new(user: Option<&str>, host: &str) -> SipUri {
        SipUri {
            scheme: Scheme::Sip,
            user: user.map(str::to_owned),
            password: None,
            host: host.to_owned(),
            port: None,
            params: Params::default(),
            headers: None,
        }
    }

    fn parse_after_scheme(scheme: Scheme, rest: &str) -> Result<SipUri, UriError> {
        let (userinfo, hostpart) = match rest.find('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            Some(ui) => match ui.split_once(':') {
                Some((u, p)) => (Some(u.to_owned()), Some(p.to_owned())),
                None => (Some(ui.to_owned()), None),
            },
            None => (None, None),
        };
        if user.as_deref() == Some("") {
            return Err(UriError::BadHost);
        }
        let (hostport, headers) = match hostpart.split_once('?') {
            Some((hp, h)) => (hp, Some(h.to_owned())),
            None => (hostpart, None),
        };
        let (hostport, params) = match hostport.split_once(';') {
            Some((hp, p)) => (hp, Params::parse(p)?),
            None => (hostport, Params::default()),
        };
        let (host, port) = split_host_port(hostport)?;
        Ok(SipUri {
            scheme,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// `user@host` in lower case host form: the address-of-record key used by the registrar.
    pub fn aor(&self) -> String {
        match &self.user {
            Some(u) => format!("{}@{}", unescape(u), self.host.to_ascii_lowercase()),
            None => self.host.to_ascii_lowercase(),
        }
    }

    /// The `transport` parameter, lower-cased.
    pub fn transport(&self) -> Option<String> {
        self.params.value("transport").map(str::to_ascii_lowercase)
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme.as_str())?;
        if let Some(user) = &self.user {
            f.write_str(user)?;
            if let Some(pw) = &self.password {
                write!(f, ":{pw}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}", self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

fn split_host_port(s: &str) -> Result<(String, Option<u16>), UriError> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let end = v6.find(']').ok_or(UriError::BadHost)?;
        let host = &s[..end + 2];
        match &v6[end + 1..] {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or(UriError::BadPort)?)),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let valid_host = !host.is_empty()
        && (host.starts_with('[')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    if !valid_host {
        return Err(UriError::BadHost);
    }
    let port = match port {
        Some(p) => Some(parse_port(p).ok_or(UriError::BadPort)?),
        None => None,
    };
    Ok((host.to_owned(), port))
}

/// Resolves `%XX` escapes (invalid escapes are kept literally).
pub fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Any URI: SIP/SIPS parsed, other schemes (tel:, urn:, …) kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    Other(String),
}

impl Uri {
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        if s.is_empty() {
            return Err(UriError::Empty);
        }
        if s.bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(UriError::BadCharacter);
        }
        let (scheme, rest) = s.split_once(':').ok_or(UriError::NoScheme)?;
        let scheme_ok = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        if !scheme_ok {
            return Err(UriError::NoScheme);
        }
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse_after_scheme(Scheme::Sip, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_after_scheme(Scheme::Sips, rest).map(Uri::Sip)
        } else {
            Ok(Uri::Other(s.to_owned()))
        }
    }

    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other(_) => None,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Other(s) => f.write_str(s),
        }
    }
}

/// `["Display Name"] <uri> *(;param)` or a bare `uri *(;param)` — the value of From, To,
/// Contact, Route and Record-Route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name as received (quoted form kept).
    pub display: Option<String>,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Params::default(),
        }
    }

    pub fn parse(s: &str) -> Result<NameAddr, UriError> {
        let s = s.trim();
        if let Some(lt) = find_unquoted(s, b'<') {
            let display = s[..lt].trim();
            let display_ok = display.is_empty()
                || (display.starts_with('"') && crate::syntax::unquote(display).is_some())
                || display.split_ascii_whitespace().all(is_token);
            if !display_ok {
                return Err(UriError::Unterminated);
            }
            let after = &s[lt + 1..];
            let gt = after.find('>').ok_or(UriError::Unterminated)?;
            let uri = Uri::parse(&after[..gt])?;
            let rest = after[gt + 1..].trim_start();
            let params = match rest.strip_prefix(';') {
                Some(p) => Params::parse(p)?,
                None if rest.is_empty() => Params::default(),
                None => return Err(UriError::BadParam(rest.to_owned())),
            };
            let display = (!display.is_empty()).then(|| display.to_owned());
            Ok(NameAddr {
                display,
                uri,
                params,
            })
        } else {
            // In an addr-spec without <>, parameters belong to the header (RFC 3261 §20.10),
            // and a URI with headers is not allowed at all: its `?` needs the brackets.
            let (uri, params) = match s.split_once(';') {
                Some((u, p)) => (u.trim_end(), Params::parse(p)?),
                None => (s, Params::default()),
            };
            if uri.contains('?') {
                return Err(UriError::NeedsAngleBrackets);
            }
            Ok(NameAddr {
                display: None,
                uri: Uri::parse(uri)?,
                params,
            })
        }
    }

    /// Parses a comma-separated list (Contact, Route, Record-Route).
    pub fn parse_list(s: &str) -> Result<Vec<NameAddr>, UriError> {
        split_outside_quotes(s, b',')
            .into_iter()
            .filter(|p| !p.trim().is_empty())
            .map(NameAddr::parse)
            .collect()
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "{d} ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

fn find_unquoted(s: &str, needle: u8) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, b) in s.bytes().enumerate() {
        match (in_quotes, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (_, false, b'"') => in_quotes = !in_quotes,
            (false, _, b) if b == needle => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri {
        match Uri::parse(s).unwrap() {
            Uri::Sip(u) => u,
            Uri::Other(o) => panic!("not sip: {o}"),
        }
    }

    #[test]
    fn parses_full_sip_uri() {
        let u = sip("sip:alice:pw@Example.COM:5061;transport=tls;lr?Subject=hi");
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("pw"));
        assert_eq!(u.host, "Example.COM");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport().as_deref(), Some("tls"));
        assert!(u.params.contains("lr"));
        assert_eq!(u.headers.as_deref(), Some("Subject=hi"));
        assert_eq!(u.aor(), "alice@example.com");
        assert_eq!(
            u.to_string(),
            "sip:alice:pw@Example.COM:5061;transport=tls;lr?Subject=hi"
        );
    }

    #[test]
    fn parses_ipv6_and_sipe_contacts() {
        let u = sip("sip:[2001:db8::10]:5070");
        assert_eq!(u.host, "[2001:db8::10]");
        assert_eq!(u.port, Some(5070));
        let u = sip("sip:127.0.0.1:42884;transport=tcp;ms-opaque=d3470f2e1d");
        assert_eq!(u.user, None);
        assert_eq!(u.params.value("ms-opaque"), Some("d3470f2e1d"));
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(u.host, "example.com");
    }

    #[test]
    fn rejects_bad_uris() {
        assert_eq!(Uri::parse(""), Err(UriError::Empty));
        assert_eq!(Uri::parse("sip:@host"), Err(UriError::BadHost));
        assert_eq!(Uri::parse("sip:a@"), Err(UriError::BadHost));
        assert_eq!(Uri::parse("sip:a@host:99999"), Err(UriError::BadPort));
        assert_eq!(Uri::parse("sip:a b@host"), Err(UriError::BadCharacter));
        assert_eq!(Uri::parse("nocolon"), Err(UriError::NoScheme));
        assert!(matches!(Uri::parse("tel:+1-555"), Ok(Uri::Other(_))));
    }

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse(r#""Alice, A." <sip:alice@example.com>;tag=123;epid=9"#).unwrap();
        assert_eq!(n.display.as_deref(), Some(r#""Alice, A.""#));
        assert_eq!(n.tag(), Some("123"));
        let n = NameAddr::parse("sip:bob@example.com;tag=7").unwrap();
        assert_eq!(n.tag(), Some("7"));
        assert!(n.uri.as_sip().unwrap().params.is_empty());
        let list =
            NameAddr::parse_list(r#"<sip:a@h>;methods="INVITE, MESSAGE";expires=30, <sip:b@h>"#)
                .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0].params.value("methods"),
            Some(r#""INVITE, MESSAGE""#)
        );
        assert!(NameAddr::parse("<sip:a@h").is_err());
    }

    #[test]
    fn addr_spec_forms() {
        let n = NameAddr::parse("sip:vivekg@example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(n.uri.to_string(), "sip:vivekg@example.com");
        assert_eq!(n.tag(), Some("1918181833n"));
        assert_eq!(
            NameAddr::parse("sip:u@h?Route=x"),
            Err(UriError::NeedsAngleBrackets)
        );
        let n = NameAddr::parse("<sip:u@h?Route=x>").unwrap();
        assert_eq!(n.uri.as_sip().unwrap().headers.as_deref(), Some("Route=x"));
        assert_eq!(Uri::parse("sip:h:+5060"), Err(UriError::BadPort));
    }
}
