//! A `DownloadChunk` answer written piece by piece. A Lync-family client asks for one chunk
//! and waits for all of it; written whole, the server would read, decrypt and encode the
//! chunk before its first byte leaves, and the client would do its own share only after.
//! Written as it is read, the two overlap; or the server writes the next chunk's answer
//! while the client is still busy with this one, whole, into one buffer. The bytes are
//! exactly [`write_response`]'s, so the length is known before the first byte is read.
//!
//! [`write_response`]: crate::write_response

use crate::NAMESPACE;
use crate::binary::{encode_into, encoded_len};
use crate::operation::OperationName;
use crate::write::{close_body, open_body, push};

/// Writes the answer to a `DownloadChunk` of `len` bytes: [`StreamedChunk::new`] gives the
/// start, then [`StreamedChunk::push`] takes the bytes in order, then
/// [`StreamedChunk::finish`] ends it. Each writes into a buffer of the caller's, so the
/// answer can go out piece by piece or be put together in one buffer of its exact length.
#[derive(Debug)]
pub struct StreamedChunk {
    /// Bytes short of a whole base64 quantum, kept for the next push.
    held: [u8; 2],
    held_len: usize,
    /// Bytes still to come.
    remaining: usize,
    /// The whole answer's length, head to tail.
    answer_len: usize,
}

impl StreamedChunk {
    /// The writer of a chunk of `len` bytes, and the answer's start. A chunk of no bytes
    /// (the end of the file) is answered with [`write_response`](crate::write_response)
    /// instead: its element is self-closing.
    pub fn new(len: usize) -> (StreamedChunk, Vec<u8>) {
        debug_assert!(len > 0, "an empty chunk has an answer of its own");
        let operation = OperationName::DownloadChunk;
        let mut head = open_body(operation.response(), Some(NAMESPACE), 0);
        push(&mut head, "<");
        push(&mut head, operation.result().name);
        push(&mut head, ">");
        let writer = StreamedChunk {
            held: [0; 2],
            held_len: 0,
            remaining: len,
            answer_len: head.len() + encoded_len(len) + tail().len(),
        };
        (writer, head)
    }

    /// The whole answer's length, for `Content-Length`.
    pub fn answer_len(&self) -> usize {
        self.answer_len
    }

    /// Appends the text of the next `bytes` of the chunk to `out`. Refuses more bytes than
    /// announced.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) -> Result<(), TooMany> {
        self.remaining = self.remaining.checked_sub(bytes.len()).ok_or(TooMany)?;
        if self.held_len > 0 {
            let wanted = (3 - self.held_len).min(bytes.len());
            let mut quantum = [0u8; 3];
            quantum[..self.held_len].copy_from_slice(&self.held[..self.held_len]);
            quantum[self.held_len..self.held_len + wanted].copy_from_slice(&bytes[..wanted]);
            bytes = &bytes[wanted..];
            if self.held_len + wanted < 3 {
                self.held[..self.held_len + wanted]
                    .copy_from_slice(&quantum[..self.held_len + wanted]);
                self.held_len += wanted;
                return Ok(());
            }
            encode_into(&quantum, out);
            self.held_len = 0;
        }
        let whole = bytes.len() / 3 * 3;
        encode_into(&bytes[..whole], out);
        let rest = &bytes[whole..];
        self.held[..rest.len()].copy_from_slice(rest);
        self.held_len = rest.len();
        Ok(())
    }

    /// Appends the answer's end to `out`: the last, padded quantum and the closing tags.
    /// Refuses to end short of the announced length.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), TooFew> {
        if self.remaining > 0 {
            return Err(TooFew);
        }
        encode_into(&self.held[..self.held_len], out);
        out.extend_from_slice(&tail());
        Ok(())
    }
}

/// More bytes were pushed than the chunk's announced length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("more bytes than the chunk's length")]
pub struct TooMany;

/// The answer was finished before the chunk's announced length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("fewer bytes than the chunk's length")]
pub struct TooFew;

/// From the result's end tag on.
fn tail() -> Vec<u8> {
    let operation = OperationName::DownloadChunk;
    let mut out = Vec::new();
    push(&mut out, "</");
    push(&mut out, operation.result().name);
    push(&mut out, ">");
    close_body(&mut out, operation.response());
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{Response, write_response};

    fn streamed(bytes: &[u8], pieces: &[usize]) -> Vec<u8> {
        let (mut writer, mut out) = StreamedChunk::new(bytes.len());
        let announced = writer.answer_len();
        let mut rest = bytes;
        for &piece in pieces {
            let (now, later) = rest.split_at(piece.min(rest.len()));
            writer.push(now, &mut out).unwrap();
            rest = later;
        }
        writer.push(rest, &mut out).unwrap();
        writer.finish(&mut out).unwrap();
        assert_eq!(
            out.len(),
            announced,
            "the length announced before the first byte"
        );
        out
    }

    #[test]
    fn the_same_bytes_as_the_whole_answer_in_segments_of_64_kib() {
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = write_response(&Response::DownloadChunk(bytes.clone()));
        assert_eq!(streamed(&bytes, &[65_536, 65_536, 65_536]), whole);
    }

    #[test]
    fn refuses_more_or_fewer_bytes_than_announced() {
        let (mut writer, mut out) = StreamedChunk::new(4);
        assert_eq!(writer.push(b"abcde", &mut out), Err(TooMany));
        writer.push(b"abc", &mut out).unwrap();
        assert_eq!(writer.finish(&mut out), Err(TooFew));
    }

    proptest! {
        #[test]
        fn any_split_writes_the_whole_answer(
            bytes in proptest::collection::vec(any::<u8>(), 1..300),
            pieces in proptest::collection::vec(0usize..8, 0..40),
        ) {
            let whole = write_response(&Response::DownloadChunk(bytes.clone()));
            prop_assert_eq!(streamed(&bytes, &pieces), whole.clone());
        }
    }
}
