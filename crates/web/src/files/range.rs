//! The one `Range` a download may ask for (RFC 9110 §14): `bytes=a-b`, `bytes=a-` or
//! `bytes=-n`. Several ranges are refused rather than served as a multipart body, which no
//! client of ours asks for.

use super::refusal::Refusal;

/// The part of a file a download sends: bytes `start` to `end`, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: u64,
    pub(super) end: u64,
}

impl Span {
    pub(super) fn len(self) -> u64 {
        self.end - self.start + 1
    }
}

/// What `header` asks of a file of `size` bytes: `Ok(None)` for the whole file (no header,
/// or a unit other than bytes, which may be ignored), [`Refusal::Range`] for a range that
/// is malformed, one of several, or not satisfiable.
pub(super) fn requested(header: Option<&str>, size: u64) -> Result<Option<Span>, Refusal> {
    let Some(header) = header else {
        return Ok(None);
    };
    let refused = || Refusal::Range { size };
    let Some((unit, spec)) = header.trim().split_once('=') else {
        return Err(refused());
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ok(None);
    }
    let (first, last) = spec.trim().split_once('-').ok_or_else(refused)?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| refused());
    let span = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n = number(suffix)?;
            if n == 0 || size == 0 {
                return Err(refused());
            }
            Span {
                start: size.saturating_sub(n),
                end: size - 1,
            }
        }
        (start, "") => Span {
            start: number(start)?,
            end: size.saturating_sub(1),
        },
        (start, end) => {
            let (start, end) = (number(start)?, number(end)?);
            if end < start {
                return Err(refused());
            }
            Span {
                start,
                end: end.min(size.saturating_sub(1)),
            }
        }
    };
    if span.start >= size {
        return Err(refused());
    }
    Ok(Some(span))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(header: &str, size: u64) -> Option<(u64, u64)> {
        requested(Some(header), size)
            .ok()
            .map(|s| s.map_or((0, size.saturating_sub(1)), |s| (s.start, s.end)))
    }

    #[test]
    fn the_three_forms_of_one_range() {
        assert_eq!(span("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(
            span("bytes=90-200", 100),
            Some((90, 99)),
            "clipped to the end"
        );
        assert_eq!(span("bytes=10-", 100), Some((10, 99)));
        assert_eq!(span("bytes=-10", 100), Some((90, 99)));
        assert_eq!(span("bytes=-500", 100), Some((0, 99)), "more than the file");
        assert_eq!(span("Bytes = 5-5", 100), Some((5, 5)));
        assert_eq!(requested(None, 100).unwrap(), None);
        assert_eq!(
            requested(Some("items=0-5"), 100).unwrap(),
            None,
            "another unit is ignored"
        );
    }

    #[test]
    fn ranges_that_cannot_be_served_are_refused() {
        for header in [
            "bytes=100-",
            "bytes=100-200",
            "bytes=9-3",
            "bytes=-0",
            "bytes=0-1,5-6",
            "bytes=a-b",
            "bytes=",
            "bytes=5",
            "bytes=--5",
            "bytes",
        ] {
            assert_eq!(span(header, 100), None, "{header}");
        }
        assert_eq!(
            span("bytes=0-", 0),
            None,
            "nothing to send of an empty file"
        );
        assert_eq!(span("bytes=-1", 0), None);
    }
}
