//! The files a message posts (docs/protocol.md, "Files in chat messages"): each
//! `ma-filelink:` link (read by [`xccos::file_links`], as the server reads it) and the text
//! before it on its line, where our client writes the file's original name.

use std::ops::Range;

pub use xccos::{FILE_LINK_SCHEME, FileLink};

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
    for (range, link) in xccos::file_links(text) {
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

/// The GUID of a repository name, which names the file whatever its extension.
pub(crate) fn repository_guid(name: &str) -> &str {
    name.split_once('.').map_or(name, |(guid, _)| guid)
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
    fn files_in_messages_with_their_names() {
        let text = format!("Q3 report.pdf {}", link());
        let files = posted_files(&text);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].original_name, "Q3 report.pdf");
        assert_eq!(files[0].link.name, FILE);
        assert_eq!(&text[files[0].span.clone()], text);

        let two = format!("hello\n  a.txt {}, and b.txt ({}).", link(), link());
        let files = posted_files(&two);
        let names: Vec<_> = files.iter().map(|f| f.original_name.as_str()).collect();
        assert_eq!(names, ["a.txt", ", and b.txt ("]);
        assert_eq!(&two[files[0].span.clone()], format!("a.txt {}", link()));
        assert_eq!(
            &two[files[1].span.end..],
            ").",
            "the bracket and the full stop are not the link's"
        );
        let stop = format!("{}.", link());
        assert_eq!(posted_files(&stop)[0].span, 0..link().len());

        let bare = posted_files(&link());
        assert_eq!(
            (bare[0].original_name.as_str(), bare[0].span.clone()),
            ("", 0..link().len())
        );

        assert!(posted_files("ma-filelink://nothing here ma-filelink:// either").is_empty());
        assert!(posted_files("no links at all").is_empty());
    }

    #[test]
    fn a_repository_name_is_known_by_its_guid() {
        assert_eq!(
            repository_guid(FILE),
            "7c9e6679-7425-40de-944b-e07fc1f90ae7"
        );
        assert_eq!(repository_guid(ROOM), ROOM);
    }
}
