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
        assert_eq!(safe_file_name("report.pdf").as_deref(), Some("report.pdf"));
        assert_eq!(
            safe_file_name(" Q3 report.pdf ").as_deref(),
            Some("Q3 report.pdf")
        );
        assert_eq!(
            safe_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            safe_file_name("..\\..\\boot.ini").as_deref(),
            Some("boot.ini")
        );
        assert_eq!(safe_file_name("/etc/shadow").as_deref(), Some("shadow"));
        assert_eq!(
            safe_file_name("a\u{0}b\r\n\u{1b}[2J.txt").as_deref(),
            Some("ab[2J.txt")
        );
        assert_eq!(
            safe_file_name("report\u{202e}fdp.exe").as_deref(),
            Some("reportfdp.exe")
        );
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
