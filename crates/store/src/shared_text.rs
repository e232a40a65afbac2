//! Text cut from a larger string that its pieces share.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A piece of a shared string, read as a `str`. The exporter reads the compliance outbox
/// a page at a time as one string (see the SQLite store's `compliance_page`): its rows'
/// kinds and contents are cut from that string rather than copied into a `String` each.
/// An allocation per row, freed on another thread once its XML was written, was half of
/// what taking a page apart cost.
#[derive(Clone, Default)]
pub struct SharedText {
    whole: Arc<String>,
    start: usize,
    end: usize,
}

impl SharedText {
    /// The piece of `whole` at `start..end`; `None` unless both are character boundaries
    /// within it.
    pub fn cut(whole: &Arc<String>, start: usize, end: usize) -> Option<SharedText> {
        whole.get(start..end)?;
        Some(SharedText {
            whole: Arc::clone(whole),
            start,
            end,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.whole[self.start..self.end]
    }
}

impl Deref for SharedText {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SharedText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for SharedText {
    fn from(text: String) -> SharedText {
        SharedText {
            end: text.len(),
            whole: Arc::new(text),
            start: 0,
        }
    }
}

impl From<&str> for SharedText {
    fn from(text: &str) -> SharedText {
        SharedText::from(text.to_owned())
    }
}

impl PartialEq for SharedText {
    fn eq(&self, other: &SharedText) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedText {}

impl PartialEq<str> for SharedText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SharedText {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl fmt::Debug for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_reads_as_its_slice_of_the_whole() {
        let whole = Arc::new("join,héllo".to_owned());
        let kind = SharedText::cut(&whole, 0, 4).unwrap();
        let content = SharedText::cut(&whole, 5, whole.len()).unwrap();
        assert_eq!(kind, "join");
        assert_eq!(content, SharedText::from("héllo"));
        assert_eq!(format!("{content} {content:?}"), "héllo \"héllo\"");
        assert_eq!(SharedText::default(), "");
    }

    #[test]
    fn a_cut_off_the_whole_or_inside_a_character_is_refused() {
        let whole = Arc::new("é".to_owned());
        assert!(SharedText::cut(&whole, 0, 1).is_none());
        assert!(SharedText::cut(&whole, 0, 3).is_none());
        assert!(SharedText::cut(&whole, 2, 1).is_none());
        assert!(SharedText::cut(&whole, 0, 2).is_some());
    }
}
