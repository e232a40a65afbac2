//! Reading a stored file: any range, decrypting only the segments that cover it, each one
//! verified before a byte of it is returned.

use std::fmt;
use std::io::{self, SeekFrom};
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, BufReader};

use crate::FileError;
use crate::format::{
    FileKey, HEADER_LEN, IO_BUFFER_LEN, Layout, SEALED_SEGMENT_LEN, SEGMENT_LEN, StoreKey,
};

/// A complete file opened for reading. Holds one segment in memory, and [`IO_BUFFER_LEN`]
/// bytes read ahead.
pub struct Blob {
    file: BufReader<File>,
    path: PathBuf,
    room: String,
    name: String,
    key: FileKey,
    layout: Layout,
    /// One segment, read sealed and opened in place.
    segment: Vec<u8>,
    /// The segment whose plaintext `segment` holds, if any: consecutive reads within one
    /// segment (small download chunks) decrypt it once.
    cached: Option<u64>,
    /// Where the file's cursor is, when known: a read cut short leaves it unknown.
    position: Option<u64>,
    /// A blob that fails verification is logged once, however often it is read after.
    reported: bool,
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blob")
            .field("path", &self.path)
            .field("len", &self.layout.plaintext_len)
            .finish_non_exhaustive()
    }
}

impl Blob {
    /// Opens `path`, the blob of `room`/`name`, and verifies its header and its last
    /// segment. The last segment is numbered and flagged as the last, so once it verifies
    /// the blob's length, and the plaintext size derived from it, are authentic.
    pub(crate) async fn open(
        path: PathBuf,
        store_key: &StoreKey,
        room: &str,
        name: &str,
    ) -> Result<Blob, FileError> {
        let file = match File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(FileError::NotFound),
            Err(e) => return Err(FileError::io(path)(e)),
        };
        let blob_len = file.metadata().await.map_err(FileError::io(&path))?.len();
        let mut file = BufReader::with_capacity(IO_BUFFER_LEN, file);
        let Ok(layout) = Layout::of(blob_len) else {
            return Err(report_corrupt(room, name));
        };
        let mut header = [0u8; HEADER_LEN];
        file.read_exact(&mut header)
            .await
            .map_err(FileError::io(&path))?;
        let Ok(key) = store_key.open_file(room, name, &header) else {
            return Err(report_corrupt(room, name));
        };
        let mut blob = Blob {
            file,
            path,
            room: room.to_owned(),
            name: name.to_owned(),
            key,
            layout,
            segment: Vec::with_capacity(SEALED_SEGMENT_LEN),
            cached: None,
            position: Some(HEADER_LEN as u64),
            reported: false,
        };
        blob.load(layout.segments - 1).await?;
        Ok(blob)
    }

    /// The plaintext size.
    pub fn len(&self) -> u64 {
        self.layout.plaintext_len
    }

    pub fn is_empty(&self) -> bool {
        self.layout.plaintext_len == 0
    }

    /// Up to `len` plaintext bytes from `offset`: fewer only at the end of the file, none
    /// past it.
    pub async fn read_at(&mut self, offset: u64, len: usize) -> Result<Bytes, FileError> {
        let end = offset
            .saturating_add(len as u64)
            .min(self.layout.plaintext_len);
        let mut out = BytesMut::with_capacity(end.saturating_sub(offset) as usize);
        let mut at = offset;
        while at < end {
            // Every segment but the last holds exactly SEGMENT_LEN bytes, and `at` is below
            // the size, so this segment exists and holds the byte at `at`.
            let index = at / SEGMENT_LEN as u64;
            self.load(index).await?;
            let start = (at - index * SEGMENT_LEN as u64) as usize;
            let wanted = usize::try_from(end - at).unwrap_or(usize::MAX);
            let taken = &self.segment[start..][..wanted.min(self.segment.len() - start)];
            out.extend_from_slice(taken);
            at += taken.len() as u64;
        }
        Ok(out.freeze())
    }

    /// Makes `segment` hold the verified plaintext of segment `index`.
    async fn load(&mut self, index: u64) -> Result<(), FileError> {
        if self.cached == Some(index) {
            return Ok(());
        }
        // Cleared first: a read dropped half-way leaves no stale plaintext behind.
        self.cached = None;
        let place = self.layout.segment(index);
        self.segment.resize(place.sealed_len, 0);
        // A download reads segment after segment: the cursor is usually where the next one
        // starts, and a seek would cost one more trip to the blocking pool.
        if self.position != Some(place.offset) {
            self.file
                .seek(SeekFrom::Start(place.offset))
                .await
                .map_err(FileError::io(&self.path))?;
        }
        self.position = None;
        match self.file.read_exact(&mut self.segment).await {
            Ok(_) => self.position = Some(place.offset + place.sealed_len as u64),
            // Shorter than when it was opened: no longer the blob that was verified.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(self.corrupt()),
            Err(e) => return Err(FileError::io(&self.path)(e)),
        }
        if self.key.open(index, place.last, &mut self.segment).is_err() {
            return Err(self.corrupt());
        }
        self.cached = Some(index);
        Ok(())
    }

    fn corrupt(&mut self) -> FileError {
        if self.reported {
            FileError::Corrupt
        } else {
            self.reported = true;
            report_corrupt(&self.room, &self.name)
        }
    }
}

fn report_corrupt(room: &str, name: &str) -> FileError {
    tracing::error!(room, name, "a stored file failed verification");
    FileError::Corrupt
}
