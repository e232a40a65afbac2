//! Client side: a `DownloadChunk` answer read as it arrives. Read whole, a client would
//! receive the 1.4 MB of a 1 MiB chunk's base64 and only then decode it; read as it
//! arrives, the decoding keeps pace with the network, as a .NET client's reader does on
//! its response stream.
//!
//! The answer is cut where its text is long: markup and short texts are kept (the
//! "skeleton"), and the first text longer than [`LONG_TEXT`] bytes is decoded as base64 as
//! it comes, standing in the skeleton as [`PLACEHOLDER`]. When the answer has all arrived,
//! the skeleton is parsed as any answer is ([`parse_response`]) and must carry the
//! placeholder as its result: so the long text was the whole text of
//! `DownloadChunkResult`, and everything else in the answer was checked as always. An
//! answer this cannot stream (the chunk in a CDATA section, text broken by a comment or a
//! character reference) is read whole or refused, never misread.

use crate::binary::{Base64Error, Decoder};
use crate::error::SoapError;
use crate::limits::Limits;
use crate::operation::OperationName;
use crate::response::{Response, parse_response};

/// Text longer than this is streamed; shorter text is kept in the skeleton.
const LONG_TEXT: usize = 4096;

/// What stands for the streamed text in the skeleton: base64 of bytes no chunk is compared
/// with, since only a streamed answer is checked for it.
const PLACEHOLDER: &[u8] = b"c3RyZWFtZWQ=";

/// What [`PLACEHOLDER`] decodes to.
const PLACEHOLDER_BYTES: &[u8] = b"streamed";

/// Reads one `DownloadChunk` answer: [`ChunkReader::feed`] its bytes as they arrive, then
/// [`ChunkReader::finish`]. A fault, or anything but the answer, is an error from either,
/// and the bytes appended to `out` are then not the chunk.
#[derive(Debug)]
pub struct ChunkReader {
    limits: Limits,
    skeleton: Vec<u8>,
    /// Between a `>` and the next `<`, and where the skeleton's text run starts.
    text_start: Option<usize>,
    /// The long text being decoded.
    streaming: Option<Decoder>,
    streamed: bool,
    body_len: usize,
    decoded_len: usize,
}

impl ChunkReader {
    /// A reader under `limits` (the body's size, the chunk's decoded size).
    pub fn new(limits: &Limits) -> ChunkReader {
        ChunkReader {
            limits: *limits,
            skeleton: Vec::new(),
            text_start: None,
            streaming: None,
            streamed: false,
            body_len: 0,
            decoded_len: 0,
        }
    }

    /// Takes the next `bytes` of the answer, and appends what of the chunk they carry to
    /// `out`.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) -> Result<(), SoapError> {
        self.body_len += bytes.len();
        if self.body_len > self.limits.max_body_bytes {
            return Err(SoapError::BodyTooLarge {
                size: self.body_len,
                limit: self.limits.max_body_bytes,
            });
        }
        while !bytes.is_empty() {
            match self.text_start {
                None => {
                    let end = bytes.iter().position(|&b| b == b'>');
                    let markup = end.map_or(bytes, |end| &bytes[..=end]);
                    self.skeleton.extend_from_slice(markup);
                    bytes = &bytes[markup.len()..];
                    if end.is_some() {
                        self.text_start = Some(self.skeleton.len());
                    }
                }
                Some(start) => {
                    let end = bytes.iter().position(|&b| b == b'<');
                    let text = end.map_or(bytes, |end| &bytes[..end]);
                    self.text(start, text, out)?;
                    bytes = &bytes[text.len()..];
                    if end.is_some() {
                        self.end_text()?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The answer has all arrived: appends the chunk's bytes that were not streamed (all of
    /// a short chunk) to `out`, and checks the answer whole.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), SoapError> {
        self.end_text()?;
        let limits = Limits {
            max_body_bytes: self.skeleton.len(),
            ..self.limits
        };
        let operation = OperationName::DownloadChunk;
        let Response::DownloadChunk(bytes) = parse_response(operation, &self.skeleton, &limits)?
        else {
            unreachable!("an answer to DownloadChunk is read as one");
        };
        match self.streamed {
            true if bytes == PLACEHOLDER_BYTES => Ok(()),
            true => Err(SoapError::Malformed(
                "a long text that is not the whole chunk".into(),
            )),
            false => {
                out.extend_from_slice(&bytes);
                Ok(())
            }
        }
    }

    /// Text of the run that started at `start` in the skeleton.
    fn text(&mut self, start: usize, text: &[u8], out: &mut Vec<u8>) -> Result<(), SoapError> {
        let before = out.len();
        match self.streaming.as_mut() {
            Some(decoder) => decoder.feed_text(text, out).map_err(invalid)?,
            None => {
                self.skeleton.extend_from_slice(text);
                if self.skeleton.len() - start > LONG_TEXT && !self.streamed {
                    let mut decoder = Decoder::default();
                    decoder
                        .feed_text(&self.skeleton[start..], out)
                        .map_err(invalid)?;
                    self.skeleton.truncate(start);
                    self.streaming = Some(decoder);
                }
            }
        }
        self.decoded_len += out.len() - before;
        if self.decoded_len > self.limits.max_chunk_bytes {
            return Err(SoapError::ChunkTooLarge {
                element: OperationName::DownloadChunk.result().name,
                limit: self.limits.max_chunk_bytes,
            });
        }
        Ok(())
    }

    /// A `<` ends the text: a streamed one is complete, and its placeholder takes its place.
    fn end_text(&mut self) -> Result<(), SoapError> {
        self.text_start = None;
        if let Some(decoder) = self.streaming.take() {
            decoder.finish().map_err(invalid)?;
            self.skeleton.extend_from_slice(PLACEHOLDER);
            self.streamed = true;
        }
        Ok(())
    }
}

/// The chunk's text is not base64 (or not of a chunk this reader takes).
fn invalid(_: Base64Error) -> SoapError {
    SoapError::InvalidBase64(OperationName::DownloadChunk.result().name)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    use super::*;
    use crate::{FaultCode, write_fault, write_response};

    /// Reads `body` fed in pieces of the given sizes (the rest at the end).
    fn read(body: &[u8], pieces: &[usize], limits: &Limits) -> Result<Vec<u8>, SoapError> {
        let mut reader = ChunkReader::new(limits);
        let mut out = Vec::new();
        let mut rest = body;
        for &piece in pieces {
            let (now, later) = rest.split_at(piece.min(rest.len()));
            reader.feed(now, &mut out)?;
            rest = later;
        }
        reader.feed(rest, &mut out)?;
        reader.finish(&mut out)?;
        Ok(out)
    }

    fn answer(bytes: &[u8]) -> Vec<u8> {
        write_response(&Response::DownloadChunk(bytes.to_vec()))
    }

    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 256) as u8).collect()
    }

    /// An answer whose result element holds `text`.
    fn with_text(text: &str) -> Vec<u8> {
        let marker = "QUJD";
        let body = String::from_utf8(answer(b"ABC")).unwrap();
        assert_eq!(body.matches(marker).count(), 1);
        body.replace(marker, text).into_bytes()
    }

    #[test]
    fn long_and_short_chunks_come_out_whole_however_they_arrive() {
        let limits = Limits::default();
        for len in [0, 1, 3000, LONG_TEXT, 100_000] {
            let data = bytes(len);
            let body = answer(&data);
            for pieces in [&[][..], &[1; 300], &[200, 4096, 7, 65_536]] {
                assert_eq!(read(&body, pieces, &limits), Ok(data.clone()), "{len}");
            }
        }
    }

    #[test]
    fn base64_broken_into_lines_streams_too() {
        let data = bytes(50_000);
        let text = STANDARD.encode(&data);
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(76)
            .map(|line| std::str::from_utf8(line).unwrap())
            .collect();
        let body = with_text(&format!("\r\n{}\r\n", lines.join("\r\n")));
        assert_eq!(read(&body, &[1000; 80], &Limits::default()), Ok(data));
    }

    #[test]
    fn a_fault_is_the_error_it_carries() {
        let body = write_fault(FaultCode::Client, "token expired");
        assert!(matches!(
            read(&body, &[10], &Limits::default()),
            Err(SoapError::Fault { code: FaultCode::Client, reason }) if reason == "token expired"
        ));
    }

    #[test]
    fn a_chunk_in_a_cdata_section_is_read_whole() {
        let data = bytes(20_000);
        let body = with_text(&format!("<![CDATA[{}]]>", STANDARD.encode(&data)));
        assert_eq!(read(&body, &[3000; 20], &Limits::default()), Ok(data));
    }

    #[test]
    fn refusals() {
        let limits = Limits::default();
        let long = STANDARD.encode(bytes(10_000));
        let invalid = with_text(&long.replace('A', "!"));
        assert_eq!(
            read(&invalid, &[], &limits),
            Err(SoapError::InvalidBase64("DownloadChunkResult"))
        );
        // The long text is broken by a comment: neither half is the whole chunk.
        let (a, b) = long.split_at(8000);
        let broken = with_text(&format!("{a}<!-- x -->{b}"));
        assert!(read(&broken, &[], &limits).is_err());
        // A long text elsewhere than the result.
        let elsewhere = String::from_utf8(answer(b"ABC"))
            .unwrap()
            .replace(
                "<soap:Body>",
                &format!("<soap:Header><x>{long}</x></soap:Header><soap:Body>"),
            )
            .into_bytes();
        assert!(matches!(
            read(&elsewhere, &[], &limits),
            Err(SoapError::Malformed(_))
        ));
        let small = Limits::for_chunk(9000);
        assert_eq!(
            read(&answer(&bytes(9001)), &[], &small),
            Err(SoapError::ChunkTooLarge {
                element: "DownloadChunkResult",
                limit: 9000
            })
        );
        let tiny = Limits {
            max_body_bytes: 1000,
            ..limits
        };
        assert!(matches!(
            read(&answer(&bytes(2000)), &[], &tiny),
            Err(SoapError::BodyTooLarge { .. })
        ));
    }

    proptest! {
        #[test]
        fn any_split_reads_what_parse_response_reads(
            data in proptest::collection::vec(any::<u8>(), 0..12_000),
            pieces in proptest::collection::vec(0usize..5000, 0..10),
        ) {
            let body = answer(&data);
            prop_assert_eq!(read(&body, &pieces, &Limits::default()), Ok(data));
        }
    }
}
