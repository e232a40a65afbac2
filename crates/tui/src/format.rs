//! How people, times, sizes and posted files are shown: users by their account (without
//! `sip:`), times in the local time zone, files as `[file N] name`.

use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use parlance_client::PostedFile;

/// What marks an alert (a high-importance message) before its author.
pub const ALERT_MARK: &str = "! ";

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

/// A size in bytes, binary units past a KiB: `512 B`, `4.5 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A message's text with each posted file (its name and link) shown as `[file N] name`, the
/// files numbered from `first`: a link is long, and the number is what `/download` takes.
pub fn with_file_numbers(text: &str, files: &[PostedFile], first: usize) -> String {
    let mut shown = String::new();
    let mut after = 0;
    for (i, file) in files.iter().enumerate() {
        shown.push_str(&text[after..file.span.start]);
        shown.push_str(&file_label(first + i, file));
        after = file.span.end;
    }
    shown.push_str(&text[after..]);
    shown
}

/// `[file N] name`; a file posted without a name shows its repository name.
pub fn file_label(number: usize, file: &PostedFile) -> String {
    let name = if file.original_name.is_empty() {
        &file.link.name
    } else {
        &file.original_name
    };
    format!("[file {number}] {name}")
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
    fn sizes() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(10 * 1024 * 1024), "10.0 MiB");
        assert_eq!(bytes(3 << 40), "3.0 TiB");
    }

    #[test]
    fn posted_files_show_their_numbers() {
        let link = "ma-filelink://d/0f8fad5b-d9cb-469f-a165-70867728950e/7c9e6679-7425-40de-944b-e07fc1f90ae7.pdf";
        let text = format!("minutes.pdf {link}\nand {link}, see?");
        let files = parlance_client::posted_files(&text);
        assert_eq!(
            with_file_numbers(&text, &files, 3),
            "[file 3] minutes.pdf\n[file 4] and, see?"
        );
        assert_eq!(
            with_file_numbers(link, &parlance_client::posted_files(link), 1),
            "[file 1] 7c9e6679-7425-40de-944b-e07fc1f90ae7.pdf"
        );
        assert_eq!(with_file_numbers("no files", &[], 1), "no files");
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
