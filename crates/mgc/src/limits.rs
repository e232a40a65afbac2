//! Bounds on what the parser accepts.

use crate::binary::encoded_len;

/// Hard bounds checked while parsing, so a hostile body costs at most `max_body_bytes` of
/// work and, beyond the body itself, memory for the one decoded chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Largest decoded `fileChunk` (requests) or `DownloadChunkResult` (responses).
    pub max_chunk_bytes: usize,
    /// Longest string value (token, channel id, names, extension, fault reason), in
    /// characters.
    pub max_string_chars: usize,
    /// Deepest element nesting; the `Envelope` is depth 1 and a parameter depth 4, so what
    /// is left is for headers.
    pub max_depth: usize,
}

impl Limits {
    /// What a body holds besides the base64 of its chunk: the envelope, the other parameters
    /// and whitespace (docs/protocol.md: "its base64 size plus 16 KiB").
    pub const ENVELOPE_BYTES: usize = 16 * 1024;

    /// The limits of a service whose chunks are at most `max_chunk_bytes` decoded: bodies up
    /// to the chunk's base64 size plus [`Self::ENVELOPE_BYTES`]. The web layer refuses a
    /// larger `Content-Length` before reading the body.
    pub fn for_chunk(max_chunk_bytes: usize) -> Self {
        Self {
            max_body_bytes: encoded_len(max_chunk_bytes).saturating_add(Self::ENVELOPE_BYTES),
            max_chunk_bytes,
            max_string_chars: 1024,
            max_depth: 8,
        }
    }
}

impl Default for Limits {
    /// Chunks of 1 MiB; every value of the protocol's strings is far below 1024 characters
    /// (GUIDs, repository names, file names of at most 255 characters).
    fn default() -> Self {
        Self::for_chunk(1024 * 1024)
    }
}
