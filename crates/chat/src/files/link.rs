//! `ma-filelink://<domain>/<room GUID>/<repository name>`: how a message posts a file into a
//! room. The link is the whole of the protocol's side of it; what it grants (a download for
//! anyone who may read the room) is recorded when the message is stored, and only for a
//! complete file of that room (`commands/grpchat.rs`).

use std::fmt;

/// The scheme, as links are written.
const SCHEME: &str = "ma-filelink://";

/// A file link, as found in a message or a `cmd:getfdtok`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLink {
    pub domain: String,
    pub room_guid: String,
    /// The repository name.
    pub name: String,
}

impl FileLink {
    /// A whole `ma-filelink:` link (scheme in any case), or `None`.
    pub fn parse(link: &str) -> Option<FileLink> {
        let rest = strip_scheme(link)?;
        let mut parts = rest.split('/');
        let (domain, room_guid, name) = (parts.next()?, parts.next()?, parts.next()?);
        let well_formed = parts.next().is_none()
            && [domain, room_guid, name]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(is_link_byte));
        well_formed.then(|| FileLink {
            domain: domain.to_owned(),
            room_guid: room_guid.to_owned(),
            name: name.to_owned(),
        })
    }

    /// Whether the link names a file of this room of this domain (both compared in any case).
    pub(crate) fn is_in(&self, domain: &str, room_guid: &str) -> bool {
        self.domain.eq_ignore_ascii_case(domain) && self.room_guid.eq_ignore_ascii_case(room_guid)
    }
}

impl fmt::Display for FileLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME}{}/{}/{}",
            self.domain, self.room_guid, self.name
        )
    }
}

/// The link of a room's file.
pub fn file_link(domain: &str, room_guid: &str, name: &str) -> String {
    FileLink {
        domain: domain.to_owned(),
        room_guid: room_guid.to_owned(),
        name: name.to_owned(),
    }
    .to_string()
}

/// Every well-formed link in a message's text, in order. A link runs from its scheme to the
/// first character no link has (a space, a quote, `<`, …); a full stop that ends a sentence
/// right after it is not part of it, as no repository name ends with one.
pub fn file_links(text: &str) -> Vec<FileLink> {
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(at) = find_scheme(rest) {
        let from = &rest[at..];
        let end = SCHEME.len()
            + from[SCHEME.len()..]
                .bytes()
                .position(|b| !is_link_byte(b) && b != b'/')
                .unwrap_or(from.len() - SCHEME.len());
        if let Some(link) = FileLink::parse(from[..end].trim_end_matches('.')) {
            links.push(link);
        }
        rest = &from[end..];
    }
    links
}

/// The bytes of a link's parts: those of domain names, GUIDs and repository names.
fn is_link_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
}

fn strip_scheme(s: &str) -> Option<&str> {
    let head = s.get(..SCHEME.len())?;
    head.eq_ignore_ascii_case(SCHEME)
        .then(|| &s[SCHEME.len()..])
}

/// Where the next scheme starts, in any case.
fn find_scheme(text: &str) -> Option<usize> {
    text.as_bytes()
        .windows(SCHEME.len())
        .position(|w| w.eq_ignore_ascii_case(SCHEME.as_bytes()))
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
        let written = file_link("example.com", GUID, NAME);
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
        for bad in [
            "ma-filelink://example.com/room",
            "ma-filelink://example.com/room/a/b",
            "ma-filelink:///room/name",
            "ma-filelink://example.com//name",
            "ma-filelink://example.com/room/",
            "ma-filelink://example.com/room/../x",
            "ma-chan://example.com/room/name",
            "ma-filelink://example.com/room/na me",
            "",
        ] {
            assert_eq!(FileLink::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn links_are_found_in_text_and_end_where_a_link_cannot_go_on() {
        let one = file_link("example.com", GUID, NAME);
        let text = format!(
            "report.pdf {one}\nsee also <{one}>, \"{one}\" and {one}. Broken: ma-filelink://x/y and MA-FILELINK://example.com/{GUID}/b"
        );
        let found = file_links(&text);
        let expected = link("example.com", GUID, NAME);
        assert_eq!(
            found,
            [
                expected.clone(),
                expected.clone(),
                expected.clone(),
                expected,
                link("example.com", GUID, "b")
            ]
        );
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
}
