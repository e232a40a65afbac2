//! Character classes and small lexical helpers from the RFC 3261 grammar.

/// `token` characters (RFC 3261 §25.1).
pub fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Strips linear white space (SP and HTAB, RFC 3261 §25.1) from both ends. Other characters
/// Unicode calls white space are content.
pub fn trim_lws(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// A port: one or more ASCII digits (`u16::from_str` alone would also take a `+` sign).
pub fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Splits `s` at every `sep` that is outside a quoted string and outside `<…>`.
/// Used for comma-separated header values and `;`-separated parameters.
pub fn split_outside_quotes(s: &str, sep: u8) -> Vec<&str> {
    let mut parts = Vec::new();
    let bytes = s.as_bytes();
    let (mut start, mut in_quotes, mut in_angle, mut escaped) = (0, false, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_quotes {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_quotes = true,
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            _ if b == sep && !in_angle => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Removes the surrounding quotes of a quoted-string and resolves `\` escapes.
/// Returns `None` for an unterminated quoted string.
pub fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    let Some(inner) = s.strip_prefix('"') else {
        return Some(s.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next()?);
        } else if c == '"' {
            return None;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Quotes `s` as a quoted-string, escaping `"` and `\`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes_and_angles() {
        assert_eq!(
            split_outside_quotes(r#"a, "b,c", <sip:x;y,z>, d"#, b','),
            vec!["a", r#" "b,c""#, " <sip:x;y,z>", " d"]
        );
    }

    #[test]
    fn ports_are_digits_only() {
        assert_eq!(parse_port("05060"), Some(5060));
        assert_eq!(parse_port("+5060"), None);
        assert_eq!(parse_port(""), None);
        assert_eq!(parse_port("65536"), None);
    }

    #[test]
    fn quoting_round_trips() {
        let s = r#"say "hi" \ bye"#;
        assert_eq!(unquote(&quote(s)).as_deref(), Some(s));
        assert_eq!(unquote(r#""unterminated"#), None);
        assert_eq!(unquote("token"), Some("token".into()));
    }
}
