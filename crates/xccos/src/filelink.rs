//! `ma-filelink://<domain>/<room GUID>/<repository name>`: how a chat message posts a file
//! into a room (docs/protocol.md, "Files in chat messages"). The server records the links of
//! a stored message; clients find them to offer the file. Both read links here, so that what
//! one writes the other finds.
//!
//! In a message a link runs from its scheme (in any case) to the first character that is not
//! an ASCII letter, digit, `-`, `.`, `_` or `/`, less the full stops that end a sentence (no
//! repository name ends with one). Messages are anyone's text, so a link is only taken when
//! every part has the form the server gives it; anything else stays plain text.

use std::fmt;
use std::ops::Range;

use crate::CHANNEL_SCHEME;

/// The scheme of file links, as they are written.
pub const FILE_LINK_SCHEME: &str = "ma-filelink://";

/// The longest extension of a repository name.
pub const MAX_EXTENSION_CHARS: usize = 16;

/// A file of a room, by the repository name the server stored it under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileLink {
    pub domain: String,
    /// The room is `ma-chan://<domain>/<room_guid>`.
    pub room_guid: String,
    /// `<GUID>.<ext>` or `<GUID>`.
    pub name: String,
}

impl FileLink {
    /// The link to file `name` of `room`, a `ma-chan://<domain>/<GUID>` URI; `None` unless
    /// both have the server's forms.
    pub fn in_room(room: &str, name: &str) -> Option<FileLink> {
        let (domain, room_guid) = room.strip_prefix(CHANNEL_SCHEME)?.split_once('/')?;
        let link = FileLink {
            domain: domain.to_owned(),
            room_guid: room_guid.to_owned(),
            name: name.to_owned(),
        };
        link.is_valid().then_some(link)
    }

    /// A whole link and nothing else (surrounding blanks aside), scheme in any case.
    pub fn parse(text: &str) -> Option<FileLink> {
        let text = text.trim();
        let scheme = text.get(..FILE_LINK_SCHEME.len())?;
        if !scheme.eq_ignore_ascii_case(FILE_LINK_SCHEME) {
            return None;
        }
        let mut parts = text[FILE_LINK_SCHEME.len()..].split('/');
        let (Some(domain), Some(room_guid), Some(name), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let link = FileLink {
            domain: domain.to_owned(),
            room_guid: room_guid.to_owned(),
            name: name.to_owned(),
        };
        link.is_valid().then_some(link)
    }

    /// The room the file belongs to, `ma-chan://<domain>/<room GUID>`.
    pub fn room_uri(&self) -> String {
        format!("{CHANNEL_SCHEME}{}/{}", self.domain, self.room_guid)
    }

    /// Whether the link names a file of this room of this domain (both in any case).
    pub fn is_in(&self, domain: &str, room_guid: &str) -> bool {
        self.domain.eq_ignore_ascii_case(domain) && self.room_guid.eq_ignore_ascii_case(room_guid)
    }

    fn is_valid(&self) -> bool {
        is_domain(&self.domain) && is_guid(&self.room_guid) && is_repository_name(&self.name)
    }
}

impl fmt::Display for FileLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{FILE_LINK_SCHEME}{}/{}/{}",
            self.domain, self.room_guid, self.name
        )
    }
}

/// Every valid link in a message's text, in order, with the bytes it takes.
pub fn file_links(text: &str) -> Vec<(Range<usize>, FileLink)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = find_scheme(text, from) {
        let after_scheme = start + FILE_LINK_SCHEME.len();
        let end = text[after_scheme..]
            .find(|c: char| !is_link_char(c))
            .map_or(text.len(), |i| after_scheme + i);
        let candidate = text[start..end].trim_end_matches('.');
        if let Some(link) = FileLink::parse(candidate) {
            found.push((start..start + candidate.len(), link));
        }
        from = end;
    }
    found
}

/// Where the next scheme (in any case) starts at or after `from`. Every post is searched,
/// so without a lower-cased copy of it.
fn find_scheme(text: &str, from: usize) -> Option<usize> {
    text.as_bytes()[from..]
        .windows(FILE_LINK_SCHEME.len())
        .position(|w| w.eq_ignore_ascii_case(FILE_LINK_SCHEME.as_bytes()))
        .map(|at| from + at)
}

/// `<GUID>` or `<GUID>.<ext>`, the extension 1–16 ASCII letters or digits: the names the
/// server gives files.
pub fn is_repository_name(s: &str) -> bool {
    match s.split_once('.') {
        None => is_guid(s),
        Some((guid, ext)) => {
            is_guid(guid)
                && (1..=MAX_EXTENSION_CHARS).contains(&ext.len())
                && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        }
    }
}

/// A GUID in its usual spelling: 8-4-4-4-12 hexadecimal digits, any case.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// What a link may hold after its scheme.
fn is_link_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: &str = "094f5a4a-c492-4f6b-91c2-385eba134fd3";
    const NAME: &str = "a912898f-cf23-476b-a644-0c541d7cfdcf.txt";

    fn link(domain: &str, room: &str, name: &str) -> FileLink {
        FileLink {
            domain: domain.into(),
            room_guid: room.into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_link_is_written_and_read_back() {
        let written = link("example.com", GUID, NAME).to_string();
        assert_eq!(written, format!("ma-filelink://example.com/{GUID}/{NAME}"));
        assert_eq!(
            FileLink::parse(&written),
            Some(link("example.com", GUID, NAME))
        );
        assert_eq!(
            FileLink::parse(&written.to_uppercase()).map(|l| l.domain),
            Some("EXAMPLE.COM".into()),
            "the scheme in any case"
        );
        assert_eq!(
            FileLink::in_room(&format!("ma-chan://example.com/{GUID}"), NAME),
            Some(link("example.com", GUID, NAME))
        );
        assert_eq!(
            link("example.com", GUID, NAME).room_uri(),
            format!("ma-chan://example.com/{GUID}")
        );
        for bad in [
            format!("ma-filelink://example.com/{GUID}"),
            format!("ma-filelink://example.com/{GUID}/{NAME}/x"),
            format!("ma-filelink:///{GUID}/{NAME}"),
            format!("ma-filelink://example.com//{NAME}"),
            format!("ma-filelink://example.com/{GUID}/"),
            format!("ma-filelink://example.com/{GUID}/../x"),
            format!("ma-filelink://example.com/room/{NAME}"),
            format!("ma-filelink://example.com/{GUID}/{GUID}.tar.gz"),
            format!("ma-chan://example.com/{GUID}/{NAME}"),
            format!("ma-filelink://exa mple.com/{GUID}/{NAME}"),
            String::new(),
        ] {
            assert_eq!(FileLink::parse(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn links_are_found_in_text_and_end_where_a_link_cannot_go_on() {
        let one = link("example.com", GUID, NAME).to_string();
        let bare = format!("MA-FILELINK://example.com/{GUID}/{GUID}");
        let text = format!(
            "report.pdf {one}\nsee <{one}>, \"{one}\" and {one}. Broken: ma-filelink://x/y; {bare}"
        );
        let found = file_links(&text);
        assert_eq!(found.len(), 5);
        for (range, l) in &found[..4] {
            assert_eq!(&text[range.clone()], one);
            assert_eq!(l, &link("example.com", GUID, NAME));
        }
        assert_eq!(&text[found[4].0.clone()], bare);
        assert!(file_links("no links here, only ma-filelink: talk").is_empty());
        assert!(file_links("ma-filelink://").is_empty());
        assert!(file_links("é ma-filelink://é/é/é").is_empty());
    }

    #[test]
    fn a_link_belongs_to_a_room_of_a_domain_in_any_case() {
        let l = link("Example.COM", &GUID.to_uppercase(), NAME);
        assert!(l.is_in("example.com", GUID));
        assert!(!l.is_in("example.org", GUID));
        assert!(!l.is_in("example.com", "another"));
    }

    #[test]
    fn repository_names_are_a_guid_and_a_short_extension() {
        assert!(is_repository_name(GUID));
        assert!(is_repository_name(NAME));
        assert!(is_repository_name(&format!("{GUID}.{}", "a".repeat(16))));
        for bad in [
            String::new(),
            format!("{GUID}."),
            format!("{GUID}.{}", "a".repeat(17)),
            format!("{GUID}.t-t"),
            format!("{GUID}/x"),
            "../etc/passwd".into(),
            "094f5a4a-c492-4f6b-91c2-385eba134fd".into(),
            "094f5a4a-c492-4f6b-91c2_385eba134fd3".into(),
        ] {
            assert!(!is_repository_name(&bad), "{bad:?}");
        }
    }
}
