//! The blob format (laid out in the crate documentation): the header that carries a file's
//! own key wrapped under the store key, and the sealed segments that carry its content.
//! Everything here is pure computation; the upload and the blob do the I/O.

use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// Plaintext bytes per segment: what an upload or a blob holds in memory at once.
pub(crate) const SEGMENT_LEN: usize = 64 * 1024;
pub(crate) const HEADER_LEN: usize = MAGIC.len() + 1 + 4 + NONCE_LEN + KEY_LEN + TAG_LEN;

const MAGIC: &[u8; 4] = b"PLFS";
const VERSION: u8 = 2;
const KEY_LEN: usize = 32;
/// AES-256-GCM's tag.
const TAG_LEN: usize = 16;
/// A segment as stored: its plaintext and its tag.
pub(crate) const SEALED_SEGMENT_LEN: usize = SEGMENT_LEN + TAG_LEN;
/// What a file moves to and from the disk at once: a few segments, so that a transfer
/// makes one trip to the blocking pool for several of them rather than one each.
pub(crate) const IO_BUFFER_LEN: usize = 4 * SEALED_SEGMENT_LEN;
/// Starts the associated data of the key wrap. A later format gets a context of its own,
/// so that neither version's headers can pass for the other's.
const WRAP_CONTEXT: &[u8] = b"parlance-files v2";

/// Bytes that failed authentication, or a header or length this format cannot have. The
/// caller knows which file it was and reports it.
#[derive(Debug)]
pub(crate) struct Unverified;

/// The store key. It seals no content, only the per-file keys, so the amount of data under
/// it stays tiny and random nonces are safe.
#[derive(Debug, Clone)]
pub(crate) struct StoreKey(LessSafeKey);

impl StoreKey {
    pub(crate) fn new(bytes: &[u8; KEY_LEN]) -> StoreKey {
        StoreKey(aead_key(bytes))
    }

    /// A fresh random key for the file `room`/`name`, and the header that carries it.
    pub(crate) fn new_file(&self, room: &str, name: &str) -> ([u8; HEADER_LEN], FileKey) {
        let mut rng = rand::rng();
        let mut key = [0u8; KEY_LEN];
        rng.fill_bytes(&mut key);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);

        let mut wrapped = key.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(wrap_context(room, name)),
                &mut wrapped,
            )
            .expect("AES-256-GCM seals a 32-byte key");

        let mut header = [0u8; HEADER_LEN];
        let fields = [
            &MAGIC[..],
            &[VERSION],
            &segment_len_field(),
            &nonce,
            &wrapped,
        ];
        let mut at = 0;
        for field in fields {
            header[at..at + field.len()].copy_from_slice(field);
            at += field.len();
        }
        (header, FileKey::new(&key, room, name))
    }

    /// The key of the file `room`/`name` from its header. The wrap's associated data names
    /// the file, so a header copied from another file, or sealed under another store key,
    /// does not open.
    pub(crate) fn open_file(
        &self,
        room: &str,
        name: &str,
        header: &[u8; HEADER_LEN],
    ) -> Result<FileKey, Unverified> {
        let (magic, rest) = header.split_at(MAGIC.len());
        let (version, rest) = rest.split_at(1);
        let (segment_len, rest) = rest.split_at(4);
        let (nonce, wrapped) = rest.split_at(NONCE_LEN);
        // The segment size is recorded so that a later version may change it; this one reads
        // only its own.
        if magic != MAGIC || version != [VERSION] || segment_len != segment_len_field() {
            return Err(Unverified);
        }
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unverified)?;
        let mut wrapped = wrapped.to_vec();
        let key = self
            .0
            .open_in_place(nonce, Aad::from(wrap_context(room, name)), &mut wrapped)
            .map_err(|_| Unverified)?;
        let key: &[u8; KEY_LEN] = (&*key).try_into().map_err(|_| Unverified)?;
        Ok(FileKey::new(key, room, name))
    }
}

/// One file's own key, bound to the file's room and name: it seals and opens that file's
/// segments and no other's.
#[derive(Debug)]
pub(crate) struct FileKey {
    key: LessSafeKey,
    /// `room/name`: a segment moved to another file fails to open even under the same key.
    associated: Vec<u8>,
}

impl FileKey {
    fn new(key: &[u8; KEY_LEN], room: &str, name: &str) -> FileKey {
        FileKey {
            key: aead_key(key),
            associated: format!("{room}/{name}").into_bytes(),
        }
    }

    /// Seals segment `index` in place, appending its tag; `last` marks the file's final
    /// segment.
    pub(crate) fn seal(&self, index: u64, last: bool, segment: &mut Vec<u8>) {
        self.key
            .seal_in_place_append_tag(
                segment_nonce(index, last),
                Aad::from(&self.associated),
                segment,
            )
            .expect("AES-256-GCM seals a 64 KiB segment");
    }

    /// Opens segment `index` in place, leaving its plaintext. The nonce carries the index and
    /// the last-segment flag, so a segment moved within the file, or a file cut short at a
    /// segment boundary, fails here.
    pub(crate) fn open(
        &self,
        index: u64,
        last: bool,
        sealed: &mut Vec<u8>,
    ) -> Result<(), Unverified> {
        let plaintext_len = self
            .key
            .open_in_place(
                segment_nonce(index, last),
                Aad::from(&self.associated),
                sealed,
            )
            .map_err(|_| Unverified)?
            .len();
        sealed.truncate(plaintext_len);
        Ok(())
    }
}

/// Where segment `index` starts in a blob.
pub(crate) fn segment_offset(index: u64) -> u64 {
    HEADER_LEN as u64 + index * SEALED_SEGMENT_LEN as u64
}

/// A blob's shape, derived from its length alone: every segment but the last is full, and
/// the last is always present, so the length says how many segments there are and how much
/// plaintext they hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub(crate) segments: u64,
    pub(crate) plaintext_len: u64,
    blob_len: u64,
}

/// Where one segment lies in a blob.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub(crate) offset: u64,
    pub(crate) sealed_len: usize,
    pub(crate) last: bool,
}

impl Layout {
    pub(crate) fn of(blob_len: u64) -> Result<Layout, Unverified> {
        let body = blob_len.checked_sub(HEADER_LEN as u64).ok_or(Unverified)?;
        let segments = body.div_ceil(SEALED_SEGMENT_LEN as u64);
        let last_sealed_len = segments
            .checked_sub(1)
            .map(|full| body - full * SEALED_SEGMENT_LEN as u64)
            .ok_or(Unverified)?;
        if last_sealed_len < TAG_LEN as u64 {
            return Err(Unverified);
        }
        Ok(Layout {
            segments,
            plaintext_len: body - segments * TAG_LEN as u64,
            blob_len,
        })
    }

    /// Segment `index`, which must be below `segments`.
    pub(crate) fn segment(&self, index: u64) -> Segment {
        let offset = segment_offset(index);
        let last = index + 1 == self.segments;
        let sealed_len = if last {
            // At most SEALED_SEGMENT_LEN, as `of` derived the count from the length.
            (self.blob_len - offset) as usize
        } else {
            SEALED_SEGMENT_LEN
        };
        Segment {
            offset,
            sealed_len,
            last,
        }
    }
}

fn aead_key(bytes: &[u8; KEY_LEN]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("AES-256-GCM takes 32-byte keys"))
}

/// `room` is a fixed-length GUID, so plain concatenation is unambiguous.
fn wrap_context(room: &str, name: &str) -> Vec<u8> {
    [WRAP_CONTEXT, room.as_bytes(), name.as_bytes()].concat()
}

fn segment_len_field() -> [u8; 4] {
    u32::try_from(SEGMENT_LEN)
        .expect("the segment size fits the header field")
        .to_be_bytes()
}

/// The STREAM construction's nonce: the 8-byte big-endian segment number, a last-segment
/// flag, then zeros. Each file has its own key, so the counter never repeats under a key.
fn segment_nonce(index: u64, last: bool) -> Nonce {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[..8].copy_from_slice(&index.to_be_bytes());
    nonce[8] = u8::from(last);
    Nonce::assume_unique_for_key(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOM: &str = "0b6f2a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

    #[test]
    fn layout_follows_the_length() {
        let tag = TAG_LEN as u64;
        let full = SEALED_SEGMENT_LEN as u64;
        let header = HEADER_LEN as u64;
        let cases = [
            (header + tag, 1, 0),
            (header + tag + 1, 1, 1),
            (header + full, 1, SEGMENT_LEN as u64),
            (header + full + tag + 1, 2, SEGMENT_LEN as u64 + 1),
            (header + 3 * full + tag, 4, 3 * SEGMENT_LEN as u64),
        ];
        for (blob_len, segments, plaintext_len) in cases {
            let layout = Layout::of(blob_len).unwrap();
            assert_eq!(
                (layout.segments, layout.plaintext_len),
                (segments, plaintext_len)
            );
            let last = layout.segment(segments - 1);
            assert!(last.last);
            assert_eq!(last.offset + last.sealed_len as u64, blob_len);
        }
        for blob_len in [
            0,
            header - 1,
            header,
            header + tag - 1,
            header + full + tag - 1,
        ] {
            assert!(Layout::of(blob_len).is_err(), "{blob_len}");
        }
    }

    #[test]
    fn segments_open_only_in_their_place() {
        let store = StoreKey::new(&[1; KEY_LEN]);
        let (header, key) = store.new_file(ROOM, "a");
        let mut sealed = b"segment".to_vec();
        key.seal(3, false, &mut sealed);

        let reopened = store.open_file(ROOM, "a", &header).unwrap();
        let mut copy = sealed.clone();
        reopened.open(3, false, &mut copy).unwrap();
        assert_eq!(copy, b"segment");

        for (index, last) in [(2, false), (4, false), (3, true)] {
            assert!(reopened.open(index, last, &mut sealed.clone()).is_err());
        }
        let (_, other) = store.new_file(ROOM, "a");
        assert!(other.open(3, false, &mut sealed.clone()).is_err());
    }

    #[test]
    fn a_header_opens_only_for_its_file_and_store_key() {
        let store = StoreKey::new(&[1; KEY_LEN]);
        let (header, _) = store.new_file(ROOM, "a");
        assert!(store.open_file(ROOM, "b", &header).is_err());
        assert!(
            store
                .open_file(&ROOM.replace('a', "b"), "a", &header)
                .is_err()
        );
        assert!(
            StoreKey::new(&[2; KEY_LEN])
                .open_file(ROOM, "a", &header)
                .is_err()
        );
        for at in [0, MAGIC.len(), MAGIC.len() + 3, HEADER_LEN - 1] {
            let mut flipped = header;
            flipped[at] ^= 1;
            assert!(store.open_file(ROOM, "a", &flipped).is_err(), "byte {at}");
        }
    }
}
