//! What the file store's tests share: a store in a fresh temporary directory, recognisable
//! contents, and a look at what is on disk.

#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};

use parlance_files::{FileStore, Upload};
use tempfile::TempDir;

/// The plaintext segment size the blob format fixes.
pub const SEGMENT: usize = 64 * 1024;
pub const KEY: [u8; 32] = [7; 32];
pub const ROOM: &str = "0b6f2a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
pub const OTHER_ROOM: &str = "5f0c9d8e-7b6a-4954-8372-61504f3e2d1c";
pub const NAME: &str = "9e8d7c6b-5a49-4837-a625-140312f0e1d2.bin";
pub const OTHER_NAME: &str = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d.bin";

/// A store in `<temp>/files`, so that a test can also see whether anything was created
/// beside it.
pub struct Fixture {
    pub temp: TempDir,
    pub store: FileStore,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let temp = tempfile::tempdir().unwrap();
        let store = FileStore::open_local(&temp.path().join("files"), KEY)
            .await
            .unwrap();
        Fixture { temp, store }
    }

    pub fn dir(&self) -> PathBuf {
        self.temp.path().join("files")
    }

    pub fn blob_path(&self, room: &str, name: &str) -> PathBuf {
        self.dir().join(room).join(name)
    }

    /// Every file under the temporary directory, relative to it.
    pub fn files_on_disk(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        collect_files(self.temp.path(), self.temp.path(), &mut files);
        files.sort();
        files
    }

    /// Stores `data` as `room`/`name`, in writes of the sizes in `splits` (cycled).
    pub async fn store_file(&self, room: &str, name: &str, data: &[u8], splits: &[usize]) {
        let mut upload = self.store.begin_upload(room, name).await.unwrap();
        write_in_pieces(&mut upload, data, splits).await;
        assert_eq!(upload.finish().await.unwrap(), data.len() as u64);
    }

    /// Reads the whole of `room`/`name`.
    pub async fn read_file(&self, room: &str, name: &str) -> Vec<u8> {
        let mut blob = self.store.open(room, name).await.unwrap();
        let len = usize::try_from(blob.len()).unwrap();
        blob.read_at(0, len).await.unwrap().to_vec()
    }
}

pub async fn write_in_pieces(upload: &mut Upload, data: &[u8], splits: &[usize]) {
    let mut rest = data;
    for &size in splits.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, after) = rest.split_at(size.min(rest.len()));
        upload.write(piece).await.unwrap();
        rest = after;
    }
    assert_eq!(upload.len(), data.len() as u64);
}

/// `len` bytes that differ from one file to another (by `seed`) and along the file.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            // xorshift64: cheap, and no two nearby segments look alike.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(root, &path, out);
        } else {
            out.push(path.strip_prefix(root).unwrap().to_owned());
        }
    }
}
