//! The only names the store turns into paths. Callers already pass server-chosen names, but
//! checking them here too means no bug above can ever make a path out of client input:
//! a name that passes has no separator, no dot-dot, no NUL and a bounded length.

use crate::FileError;

/// The longest extension of a repository name.
const MAX_EXTENSION_LEN: usize = 16;

/// A room GUID as the store files it: lower-case, hyphenated, no braces.
pub(crate) fn check_room(room: &str) -> Result<(), FileError> {
    if is_guid(room) {
        Ok(())
    } else {
        Err(FileError::InvalidName)
    }
}

/// A room and a repository name `<GUID>` or `<GUID>.<ext>` (ext: 1–16 lower-case ASCII
/// letters or digits).
pub(crate) fn check(room: &str, name: &str) -> Result<(), FileError> {
    check_room(room)?;
    let valid = match name.split_once('.') {
        None => is_guid(name),
        Some((guid, extension)) => is_guid(guid) && is_extension(extension),
    };
    if valid {
        Ok(())
    } else {
        Err(FileError::InvalidName)
    }
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
        })
}

fn is_extension(s: &str) -> bool {
    (1..=MAX_EXTENSION_LEN).contains(&s.len())
        && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'z'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOM: &str = "0b6f2a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
    const FILE: &str = "9e8d7c6b-5a49-4837-a625-140312f0e1d2";

    #[test]
    fn accepts_the_server_forms() {
        check_room(ROOM).unwrap();
        check(ROOM, FILE).unwrap();
        check(ROOM, &format!("{FILE}.png")).unwrap();
        check(ROOM, &format!("{FILE}.7z")).unwrap();
        check(ROOM, &format!("{FILE}.abcdefghij012345")).unwrap();
    }

    #[test]
    fn refuses_everything_else() {
        let rooms = [
            String::new(),
            ROOM.to_uppercase(),
            format!("{{{ROOM}}}"),
            ROOM.replace('-', ""),
            format!("{ROOM}/"),
            "../../../../etc".into(),
            format!("{}g", &ROOM[..35]),
            // A hyphen one place off.
            format!("{}3-{}", &ROOM[..8], &ROOM[10..]),
        ];
        for room in &rooms {
            assert!(check_room(room).is_err(), "{room:?}");
            assert!(check(room, FILE).is_err(), "{room:?}");
        }
        let names = [
            String::new(),
            ".".into(),
            "..".into(),
            "../x".into(),
            format!("../{FILE}"),
            format!("..\\{FILE}"),
            format!("/{FILE}"),
            format!("{FILE}/"),
            format!("{FILE}."),
            format!("{FILE}.PNG"),
            format!("{FILE}.png.exe"),
            format!("{FILE}.p/g"),
            format!("{FILE}.p\\g"),
            format!("{FILE}.p\0g"),
            format!("{FILE}\0"),
            format!("{FILE}.abcdefghij0123456"),
            format!("{FILE}.{}", "a".repeat(300)),
            FILE.to_uppercase(),
            format!("{{{FILE}}}.png"),
            "x".repeat(300),
        ];
        for name in &names {
            assert!(check(ROOM, name).is_err(), "{name:?}");
        }
    }
}
