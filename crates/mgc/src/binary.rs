//! `xs:base64Binary` as SOAP stacks write it: the standard alphabet with padding, and XML
//! whitespace anywhere in between (.NET can break the text into lines of 76 characters).
//!
//! Decoding works on the text as it stands in the body: in one pass when it holds no
//! whitespace (every byte is read once, by the engine), else run by run between
//! whitespace; the only memory it takes is the output. The length is checked before
//! anything is decoded, so an oversized chunk costs one scan.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::read::is_xml_space;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base64Error {
    TooLarge,
    Invalid,
}

/// The base64 length of `bytes` bytes (saturating, for limits near `usize::MAX`).
pub(crate) fn encoded_len(bytes: usize) -> usize {
    bytes.div_ceil(3).saturating_mul(4)
}

/// Appends the base64 of `bytes` to `out`, written in place: the engine's own string
/// encoder goes through a small buffer, a UTF-8 check and a copy, which for a 1 MiB chunk
/// cost about as much again as the encoding.
pub(crate) fn encode_into(bytes: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + encoded_len(bytes.len()), 0);
    let written = STANDARD
        .encode_slice(bytes, &mut out[start..])
        .expect("room was made for the whole base64");
    debug_assert_eq!(start + written, out.len());
}

/// Decodes `text`, refusing it unread if it holds more than `max_bytes` bytes.
pub(crate) fn decode(text: &str, max_bytes: usize) -> Result<Vec<u8>, Base64Error> {
    // Spaces are only counted when the text is too long with them: it may fit without.
    let significant = if text.len() > encoded_len(max_bytes) {
        text.len() - count_spaces(text.as_bytes())
    } else {
        text.len()
    };
    if significant > encoded_len(max_bytes) {
        return Err(Base64Error::TooLarge);
    }
    // Most stacks write one unbroken line, which the engine decodes in one pass; it stops
    // at the first space, and text broken into lines goes run by run.
    let mut out = Vec::with_capacity(significant / 4 * 3);
    if STANDARD.decode_vec(text, &mut out).is_err() {
        out.clear();
        let mut decoder = Decoder::default();
        decoder.feed_text(text.as_bytes(), &mut out)?;
        decoder.finish()?;
    }
    // Four characters within the limit can still be up to two bytes over it.
    if out.len() > max_bytes {
        return Err(Base64Error::TooLarge);
    }
    Ok(out)
}

/// Counted in blocks with plain arithmetic, which the compiler vectorises: this pass reads
/// the whole chunk before anything is decoded, so it has to run at memory speed.
fn count_spaces(bytes: &[u8]) -> usize {
    bytes
        .chunks(256)
        .map(|block| {
            let spaces: u32 = block.iter().map(|&b| u32::from(is_xml_space(b))).sum();
            spaces as usize
        })
        .sum()
}

/// Base64 text decoded piece by piece, whitespace anywhere, into a buffer of the caller's.
/// Whole four-character quanta go to the engine straight from the text; a quantum split by
/// whitespace or between pieces is put together in `quantum` first.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    quantum: [u8; 4],
    held: usize,
    /// Padding ends the data: the engine checks it within one call, this across calls.
    padded: bool,
}

impl Decoder {
    /// Appends what the next piece of `text` decodes to to `out`.
    pub(crate) fn feed_text(&mut self, text: &[u8], out: &mut Vec<u8>) -> Result<(), Base64Error> {
        for run in text.split(|&b| is_xml_space(b)) {
            self.feed(run, out)?;
        }
        Ok(())
    }

    /// A piece without whitespace.
    fn feed(&mut self, mut run: &[u8], out: &mut Vec<u8>) -> Result<(), Base64Error> {
        if run.is_empty() {
            return Ok(());
        }
        if self.held > 0 {
            let take = run.len().min(4 - self.held);
            self.quantum[self.held..self.held + take].copy_from_slice(&run[..take]);
            self.held += take;
            run = &run[take..];
            if self.held < 4 {
                return Ok(());
            }
            self.held = 0;
            let quantum = self.quantum;
            self.decode(&quantum, out)?;
        }
        let whole = run.len() / 4 * 4;
        self.decode(&run[..whole], out)?;
        let rest = &run[whole..];
        if !rest.is_empty() {
            if self.padded {
                return Err(Base64Error::Invalid);
            }
            self.quantum[..rest.len()].copy_from_slice(rest);
            self.held = rest.len();
        }
        Ok(())
    }

    fn decode(&mut self, quanta: &[u8], out: &mut Vec<u8>) -> Result<(), Base64Error> {
        let Some(&last) = quanta.last() else {
            return Ok(());
        };
        if self.padded {
            return Err(Base64Error::Invalid);
        }
        STANDARD
            .decode_vec(quanta, out)
            .map_err(|_| Base64Error::Invalid)?;
        self.padded = last == b'=';
        Ok(())
    }

    /// The text has ended: refuses a quantum left incomplete.
    pub(crate) fn finish(self) -> Result<(), Base64Error> {
        match self.held {
            0 => Ok(()),
            _ => Err(Base64Error::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(text: &str) -> Result<Vec<u8>, Base64Error> {
        decode(text, 1024)
    }

    #[test]
    fn whitespace_anywhere_is_ignored() {
        assert_eq!(decoded("QUJD"), Ok(b"ABC".to_vec()));
        assert_eq!(decoded(" Q U\r\nJ\tD\n"), Ok(b"ABC".to_vec()));
        assert_eq!(decoded("QUJDRA\r\n=="), Ok(b"ABCD".to_vec()));
        assert_eq!(decoded("QUJDRA=\n="), Ok(b"ABCD".to_vec()));
        assert_eq!(decoded(""), Ok(Vec::new()));
        assert_eq!(decoded(" \r\n "), Ok(Vec::new()));
    }

    #[test]
    fn matches_the_engine_on_lines_of_76() {
        let bytes: Vec<u8> = (0..=255).cycle().take(1000).collect();
        let text = STANDARD.encode(&bytes);
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(76)
            .map(|line| std::str::from_utf8(line).unwrap())
            .collect();
        assert_eq!(decoded(&lines.join("\r\n")), Ok(bytes));
    }

    #[test]
    fn refusals() {
        for text in [
            "QUJ",      // not a whole quantum
            "QQ",       // padding is required
            "QR==",     // trailing bits set
            "QQ==QUJD", // data after padding, one run
            "QQ== QUJD",
            "QQ=\n=Q",
            "QUJD!",
            "QU-D", // the URL-safe alphabet is not the standard one
            "Q===",
            "====",
        ] {
            assert_eq!(decoded(text), Err(Base64Error::Invalid), "{text:?}");
        }
    }

    #[test]
    fn length_is_checked_before_and_after_decoding() {
        assert_eq!(decode("QUJD", 3), Ok(b"ABC".to_vec()));
        assert_eq!(decode("QUJDRA==", 3), Err(Base64Error::TooLarge));
        assert_eq!(decode("QUJDRA==", 4), Ok(b"ABCD".to_vec()));
        assert_eq!(decode("QUJDREU=", 4), Err(Base64Error::TooLarge));
        // Invalid text over the limit is refused for its size without being decoded.
        assert_eq!(decode("!!!!!!!!", 3), Err(Base64Error::TooLarge));
    }
}
