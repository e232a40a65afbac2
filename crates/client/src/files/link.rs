//! `ma-filelink:` links, the way a file posted into a room appears in its messages
//! (docs/protocol.md, "Files in chat messages"): `ma-filelink://<domain>/<room GUID>/<repository
//! name>`, written by our client after the file's original name and a space.
//!
//! Messages are anyone's text, so a link is only taken when every part of it has the form the
//! server gives it; anything else stays plain text.

use std::fmt;
use std::ops::Range;

/// Scheme of file links.
pub const FILE_LINK_SCHEME: &str = "ma-filelink://";

/// Longest extension of a repository name (docs/protocol.md, `extension`).
const MAX_EXTENSION: usize = 16;

/// Characters that end a sentence rather than a link: `see ma-filelink://…/x.pdf.`
const TRAILING_PUNCTUATION: &[char] =
    &['.', ',', ';', ':', '!', '?', ')', ']', '}', '>', '"', '\''];

/// A file of a room, by the name the server stored it under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileLink {
    pub domain: String,
    /// The room's GUID: the room is `ma-chan://<domain>/<room_guid>`.
    pub room_guid: String,
    /// The repository name, `<GUID>.<ext>` or `<GUID>`.
    pub name: String,
}

impl FileLink {
    /// The link to file `name` of `room`, a `ma-chan://<domain>/<GUID>` URI.
    pub fn in_room(room: &str, name: &str) -> Option<FileLink> {
        let chanid = xccos::ChanId::from_uri(0, room)?;
        let link = FileLink {
            domain: chanid.domain,
            room_guid: chanid.value,
            name: name.to_owned(),
        };
        link.is_valid().then_some(link)
    }

    /// A whole link and nothing else (surrounding blanks aside).
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
    pub fn room(&self) -> String {
        format!(
            "{}{}/{}",
            xccos::CHANNEL_SCHEME,
            self.domain,
            self.room_guid
        )
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

/// A file as a message shows it: its original name and its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedFile {
    /// The text before the link on its line (our client writes the file's name there); empty
    /// when the link starts its line.
    pub original_name: String,
    pub link: FileLink,
    /// Where the name and the link are in the message's text, in bytes: a client can show
    /// something else in their place.
    pub span: Range<usize>,
}

/// The files a message's text links, in order.
pub fn posted_files(text: &str) -> Vec<PostedFile> {
    let mut files = Vec::new();
    let mut after_previous = 0;
    for (range, link) in links(text) {
        let line_start = text[after_previous..range.start]
            .rfind('\n')
            .map_or(after_previous, |i| after_previous + i + 1);
        let before = &text[line_start..range.start];
        let original_name = before.trim();
        let name_start = if original_name.is_empty() {
            range.start
        } else {
            line_start + (before.len() - before.trim_start().len())
        };
        files.push(PostedFile {
            original_name: original_name.to_owned(),
            link,
            span: name_start..range.end,
        });
        after_previous = range.end;
    }
    files
}

/// Every valid link in `text`, with where it is.
fn links(text: &str) -> Vec<(Range<usize>, FileLink)> {
    // ASCII lower-casing keeps every byte offset, so positions found in `lower` hold in `text`.
    let lower = text.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find(FILE_LINK_SCHEME) {
        let start = from + at;
        let word_end = text[start..]
            .find(char::is_whitespace)
            .map_or(text.len(), |i| start + i);
        let word = text[start..word_end].trim_end_matches(TRAILING_PUNCTUATION);
        if let Some(link) = FileLink::parse(word) {
            found.push((start..start + word.len(), link));
        }
        from = word_end;
    }
    found
}

/// A GUID in its usual spelling: 8-4-4-4-12 hexadecimal digits, any case.
fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// `<GUID>` or `<GUID>.<ext>`, the extension 1–16 ASCII letters or digits.
pub(crate) fn is_repository_name(s: &str) -> bool {
    match s.split_once('.') {
        None => is_guid(s),
        Some((guid, ext)) => {
            is_guid(guid)
                && (1..=MAX_EXTENSION).contains(&ext.len())
                && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        }
    }
}

/// The GUID of a repository name, which names the file whatever its extension.
pub(crate) fn repository_guid(name: &str) -> &str {
    name.split_once('.').map_or(name, |(guid, _)| guid)
}

fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOM: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const FILE: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7.pdf";

    fn link() -> String {
        format!("ma-filelink://example.test/{ROOM}/{FILE}")
    }

    #[test]
    fn a_link_round_trips_and_names_its_room() {
        let parsed = FileLink::parse(&link()).unwrap();
        assert_eq!(
            parsed,
            FileLink {
                domain: "example.test".into(),
                room_guid: ROOM.into(),
                name: FILE.into(),
            }
        );
        assert_eq!(parsed.to_string(), link());
        assert_eq!(parsed.room(), format!("ma-chan://example.test/{ROOM}"));
        assert_eq!(
            FileLink::in_room(&parsed.room(), FILE),
            Some(parsed.clone())
        );
        assert_eq!(
            FileLink::parse(&link().replace("ma-filelink", "MA-FileLink")),
            Some(parsed),
            "the scheme in any case"
        );
    }

    #[test]
    fn only_links_of_the_servers_form_are_taken() {
        let guid = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
        let with_name = |name: &str| format!("ma-filelink://example.test/{ROOM}/{name}");
        assert!(FileLink::parse(&with_name(guid)).is_some(), "no extension");
        assert!(FileLink::parse(&with_name(&format!("{guid}.tar1"))).is_some());
        for bad in [
            with_name("../../etc/passwd"),
            with_name(&format!("{guid}.")),
            with_name(&format!("{guid}.tar.gz")),
            with_name(&format!("{guid}.{}", "x".repeat(17))),
            with_name(&format!("{guid}.p%2fdf")),
            with_name(&guid[1..]),
            with_name(&format!("{{{guid}}}")),
            with_name(&format!("{FILE}/more")),
            format!("ma-filelink://example.test/lobby/{FILE}"),
            format!("ma-filelink:///{ROOM}/{FILE}"),
            format!("ma-filelink://exa mple/{ROOM}/{FILE}"),
            format!("https://example.test/{ROOM}/{FILE}"),
            format!("ma-filelink://example.test/{ROOM}"),
        ] {
            assert_eq!(FileLink::parse(&bad), None, "{bad}");
        }
        assert_eq!(FileLink::in_room("Lobby", FILE), None, "not a room URI");
        assert_eq!(
            FileLink::in_room(&format!("ma-chan://example.test/{ROOM}"), "x.pdf"),
            None
        );
    }

    #[test]
    fn files_in_messages_with_their_names() {
        let text = format!("Q3 report.pdf {}", link());
        let files = posted_files(&text);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].original_name, "Q3 report.pdf");
        assert_eq!(files[0].link.name, FILE);
        assert_eq!(&text[files[0].span.clone()], text);

        let two = format!("hello\n  a.txt {}, and b.txt {}.", link(), link());
        let files = posted_files(&two);
        let names: Vec<_> = files.iter().map(|f| f.original_name.as_str()).collect();
        assert_eq!(names, ["a.txt", ", and b.txt"]);
        assert_eq!(&two[files[0].span.clone()], format!("a.txt {}", link()));
        assert!(
            two[files[1].span.end..].starts_with('.'),
            "the full stop is not the link's"
        );

        let bare = posted_files(&link());
        assert_eq!(
            (bare[0].original_name.as_str(), bare[0].span.clone()),
            ("", 0..link().len())
        );

        assert!(posted_files("ma-filelink://nothing here ma-filelink:// either").is_empty());
        assert!(posted_files("no links at all").is_empty());
    }

    #[test]
    fn repository_names_and_their_guids() {
        assert!(is_repository_name(FILE));
        assert_eq!(
            repository_guid(FILE),
            "7c9e6679-7425-40de-944b-e07fc1f90ae7"
        );
        assert_eq!(repository_guid(ROOM), ROOM);
        assert!(!is_repository_name("report.pdf"));
    }
}
