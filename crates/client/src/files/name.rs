//! Turning a name someone else chose (a file's original name, as posted into a room) into a
//! name that is safe to create in a directory of ours: it must not reach outside it, hide
//! itself as a special entry, or carry characters a terminal or file system would obey.

/// Longest name most file systems take, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// `name` reduced to a plain file name: only what follows its last `/` or `\`, without
/// control characters, bidirectional overrides and surrounding blanks, at most 255 bytes. `None` when nothing usable
/// is left: empty, `.` or `..`.
pub fn safe_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !hidden(*c)).collect();
    let mut safe = cleaned.trim().to_owned();
    if safe.len() > MAX_NAME_BYTES {
        let mut cut = MAX_NAME_BYTES;
        while !safe.is_char_boundary(cut) {
            cut -= 1;
        }
        safe.truncate(cut);
    }
    match safe.as_str() {
        "" | "." | ".." => None,
        _ => Some(safe),
    }
}

/// Control characters, and the bidirectional overrides that make `exe.pdf` of `fdp.exe`.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_in_their_directory() {
        for (given, safe) in [
            ("report.pdf", "report.pdf"),
            (" Q3 report.pdf ", "Q3 report.pdf"),
            ("../../etc/passwd", "passwd"),
            ("..\\..\\boot.ini", "boot.ini"),
            ("/etc/shadow", "shadow"),
            ("a\u{0}b\r\n\u{1b}[2J.txt", "ab[2J.txt"),
            ("report\u{202e}fdp.exe", "reportfdp.exe"),
        ] {
            assert_eq!(safe_file_name(given).as_deref(), Some(safe), "{given:?}");
        }
        for refused in ["", "   ", ".", "..", "dir/..", "dir/", "x\\..", "\u{7}"] {
            assert_eq!(safe_file_name(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn long_names_are_cut_on_a_character() {
        let long = "é".repeat(200);
        let safe = safe_file_name(&long).unwrap();
        assert!(safe.len() <= MAX_NAME_BYTES && safe.len() >= MAX_NAME_BYTES - 1);
        assert!(safe.chars().all(|c| c == 'é'));
    }
}
