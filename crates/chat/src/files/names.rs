//! The names a file goes by. A client names a file twice: its original name when it asks
//! for an upload token, its extension when it asks for a repository name. Neither is ever
//! used as a path: the file store keeps a file under the repository name the server chose,
//! `<GUID>.<ext>`, and of the client's words only the extension survives, checked here.

/// Longest original name (`ftdb@fileUrl` of `cmd:getfutok`), in characters.
const MAX_ORIGINAL_NAME_CHARS: usize = 255;
use xccos::MAX_EXTENSION_CHARS;

/// Whether an original file name is acceptable: 1–255 characters, none of them a control
/// character. It is stored and shown, never used as a path.
pub(crate) fn is_original_name(name: &str) -> bool {
    let chars = name.chars().count();
    (1..=MAX_ORIGINAL_NAME_CHARS).contains(&chars) && !name.chars().any(char::is_control)
}

/// The extension a repository name gets, lower-case, from what `extension` a client sent
/// (with or without its leading dot): 0–16 ASCII letters or digits, or `None`. Anything
/// else (a second dot, a slash, a NUL, a space, a letter outside ASCII) is refused rather
/// than cleaned: a client that sends it is not naming an extension.
pub(super) fn extension(asked: &str) -> Option<String> {
    let bare = asked.strip_prefix('.').unwrap_or(asked);
    is_extension(bare).then(|| bare.to_ascii_lowercase())
}

fn is_extension(s: &str) -> bool {
    s.len() <= MAX_EXTENSION_CHARS && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The extension a file keeps from its original name (for a client that names none of its
/// own, as the plain API's): the last one, when a repository name may carry it; none
/// otherwise.
pub fn extension_of(original: &str) -> &str {
    original
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| is_extension(ext))
        .unwrap_or("")
}

/// A fresh repository name: a random GUID, with the extension when there is one.
pub(super) fn repository_name(extension: &str) -> String {
    let guid = parlance_store::new_guid();
    if extension.is_empty() {
        guid
    } else {
        format!("{guid}.{extension}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_name_keeps_a_plain_extension_only() {
        assert_eq!(extension_of("report.PDF"), "PDF");
        assert_eq!(extension_of("archive.tar.gz"), "gz");
        assert_eq!(extension_of(r"C:\Users\alice\notes.txt"), "txt");
        assert_eq!(extension_of("README"), "");
        assert_eq!(extension_of("trailing."), "");
        assert_eq!(extension_of("dir.d/file"), "");
        assert_eq!(extension_of("x.abcdefghijklmnopq"), "", "17 characters");
        assert_eq!(extension_of("x.t\u{e9}xt"), "");
    }

    #[test]
    fn extensions_are_short_ascii_words_or_refused() {
        assert_eq!(extension("txt").as_deref(), Some("txt"));
        assert_eq!(extension(".PDF").as_deref(), Some("pdf"));
        assert_eq!(extension("").as_deref(), Some(""));
        assert_eq!(extension(".").as_deref(), Some(""));
        assert_eq!(extension("mp4").as_deref(), Some("mp4"));
        assert_eq!(
            extension(&"a".repeat(16)).as_deref(),
            Some(&*"a".repeat(16))
        );
        for refused in [
            "../etc",
            "..\\x",
            "..",
            "tar.gz",
            "t\0t",
            "a/b",
            "a b",
            "ex\u{e9}",
            &"a".repeat(17),
            &"x".repeat(300),
        ] {
            assert_eq!(extension(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn repository_names_are_fresh_guids_with_the_extension() {
        let a = repository_name("txt");
        let b = repository_name("txt");
        assert_ne!(a, b);
        let (guid, ext) = a.split_once('.').unwrap();
        assert_eq!((guid.len(), ext), (36, "txt"));
        assert!(guid.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
        assert_eq!(repository_name("").len(), 36);
        assert!(!repository_name("").contains('.'));
    }

    #[test]
    fn original_names_are_bounded_and_without_control_characters() {
        assert!(is_original_name("TestInfoRecord.txt"));
        assert!(is_original_name("résumé 2024.pdf"));
        assert!(is_original_name(&"é".repeat(255)));
        assert!(!is_original_name(""));
        assert!(!is_original_name(&"a".repeat(256)));
        assert!(!is_original_name("a\0b"));
        assert!(!is_original_name("line\nbreak"));
    }
}
