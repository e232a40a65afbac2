//! How people and times are shown: users by their account (without `sip:`), times in the
//! local time zone.

use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Text as it may reach a terminal: every control character (C0 but the line break, DEL,
/// C1) and every bidirectional override, which reorders what follows it on screen, shown
/// as a visible `\u{…}` escape. Whatever anyone posts then cannot move the cursor, clear
/// the screen, or forge a line that seems to come from someone else.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(hidden) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if hidden(c) {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// `alice@example.com` for `sip:alice@example.com`.
pub fn account(uri: &str) -> &str {
    uri.strip_prefix("sip:").unwrap_or(uri)
}

/// The user part alone when the domain is ours (`alice`), else the whole account.
pub fn short_name<'a>(uri: &'a str, me: &str) -> &'a str {
    let account = account(uri);
    match (account.split_once('@'), account_domain(me)) {
        (Some((user, domain)), Some(mine)) if domain.eq_ignore_ascii_case(mine) => user,
        _ => account,
    }
}

fn account_domain(uri: &str) -> Option<&str> {
    account(uri).split_once('@').map(|(_, d)| d)
}

/// `HH:MM` for today, `MM-DD HH:MM` for other days, in `tz`.
pub fn clock(time: Option<SystemTime>, tz: &TimeZone) -> String {
    let Some(ts) = time.and_then(|t| Timestamp::try_from(t).ok()) else {
        return "--:--".into();
    };
    let zoned = ts.to_zoned_datetime(tz.clone());
    let today = Timestamp::now().to_zoned_datetime(tz.clone()).date();
    if zoned.date() == today {
        zoned.strftime("%H:%M").to_string()
    } else {
        zoned.strftime("%m-%d %H:%M").to_string()
    }
}

/// `HH:MM:SS` in `tz`, for line mode.
pub fn seconds(time: Option<SystemTime>, tz: &TimeZone) -> String {
    match time.and_then(|t| Timestamp::try_from(t).ok()) {
        Some(ts) => ts
            .to_zoned_datetime(tz.clone())
            .strftime("%H:%M:%S")
            .to_string(),
        None => "--:--:--".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(
            printable("plain text\nand a line"),
            "plain text\nand a line"
        );
        assert_eq!(
            printable("hi\r12:00:00 alice@d: forged"),
            "hi\\u{d}12:00:00 alice@d: forged"
        );
        assert_eq!(
            printable("\u{1b}[2J\u{7f}\u{9b}"),
            "\\u{1b}[2J\\u{7f}\\u{9b}"
        );
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn names() {
        assert_eq!(account("sip:alice@example.com"), "alice@example.com");
        assert_eq!(
            short_name("sip:bob@example.com", "sip:alice@example.com"),
            "bob"
        );
        assert_eq!(
            short_name("sip:bob@other.org", "sip:alice@example.com"),
            "bob@other.org"
        );
    }

    #[test]
    fn times_are_local() {
        let tz = TimeZone::fixed(jiff::tz::offset(2));
        let t = UNIX_EPOCH + Duration::from_secs(86_400 + 3_600 + 120 + 5);
        assert_eq!(clock(Some(t), &tz), "01-02 03:02");
        assert_eq!(seconds(Some(t), &tz), "03:02:05");
        assert_eq!(clock(None, &tz), "--:--");
        assert_eq!(
            clock(Some(SystemTime::now()), &TimeZone::UTC).len(),
            5,
            "today: the time alone"
        );
    }
}
