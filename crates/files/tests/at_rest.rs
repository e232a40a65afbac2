//! What is on disk reveals nothing and cannot be altered, moved or swapped without the
//! store noticing.

mod common;

use common::{Fixture, KEY, NAME, OTHER_NAME, OTHER_ROOM, ROOM, SEGMENT, content};
use parlance_files::{FileError, FileStore};

/// The header: magic, version, segment size, wrap nonce, wrapped key and its tag.
const HEADER: usize = 4 + 1 + 4 + 12 + 32 + 16;
const SEALED_SEGMENT: usize = SEGMENT + 16;

/// A file of three full segments and a bit, stored under ROOM/NAME.
async fn stored() -> (Fixture, Vec<u8>) {
    let fixture = Fixture::new().await;
    let data = content(3 * SEGMENT + 500, 11);
    fixture.store_file(ROOM, NAME, &data, &[5000]).await;
    (fixture, data)
}

async fn assert_corrupt(store: &FileStore, room: &str, name: &str) {
    match store.open(room, name).await {
        Err(FileError::Corrupt) => {}
        Err(other) => panic!("{room}/{name}: {other}"),
        Ok(_) => panic!("{room}/{name} opened"),
    }
}

fn replace_blob(fixture: &Fixture, edit: impl FnOnce(&mut Vec<u8>)) {
    let path = fixture.blob_path(ROOM, NAME);
    let mut raw = std::fs::read(&path).unwrap();
    edit(&mut raw);
    std::fs::write(&path, raw).unwrap();
}

#[tokio::test]
async fn the_stored_bytes_do_not_contain_the_plaintext() {
    let fixture = Fixture::new().await;
    let marker = b"PARLANCE PLAINTEXT MARKER ";
    let data = marker.repeat(3 * SEGMENT / marker.len());
    fixture.store_file(ROOM, NAME, &data, &[SEGMENT]).await;

    let raw = std::fs::read(fixture.blob_path(ROOM, NAME)).unwrap();
    assert!(raw.starts_with(b"PLFS\x02"));
    assert!(!raw.windows(marker.len()).any(|w| w == marker));
    // Repeated plaintext does not show as repeated ciphertext either.
    let first = &raw[HEADER..HEADER + 64];
    let second = &raw[HEADER + SEALED_SEGMENT..HEADER + SEALED_SEGMENT + 64];
    assert_ne!(first, second);
    assert_eq!(fixture.read_file(ROOM, NAME).await, data);
}

#[tokio::test]
async fn the_same_content_stores_differently_each_time() {
    let fixture = Fixture::new().await;
    let data = content(1000, 4);
    fixture.store_file(ROOM, NAME, &data, &[1000]).await;
    fixture.store_file(ROOM, OTHER_NAME, &data, &[1000]).await;
    let one = std::fs::read(fixture.blob_path(ROOM, NAME)).unwrap();
    let other = std::fs::read(fixture.blob_path(ROOM, OTHER_NAME)).unwrap();
    assert_eq!(one.len(), other.len());
    assert_ne!(one[9..], other[9..]);
}

#[tokio::test]
async fn a_blob_copied_under_another_name_or_room_fails() {
    let (fixture, _) = stored().await;
    std::fs::create_dir(fixture.dir().join(OTHER_ROOM)).unwrap();
    for (room, name) in [(ROOM, OTHER_NAME), (OTHER_ROOM, NAME)] {
        std::fs::copy(fixture.blob_path(ROOM, NAME), fixture.blob_path(room, name)).unwrap();
        assert_corrupt(&fixture.store, room, name).await;
    }
}

#[tokio::test]
async fn a_header_from_another_file_fails() {
    let (fixture, _) = stored().await;
    fixture
        .store_file(ROOM, OTHER_NAME, &content(3 * SEGMENT + 500, 12), &[5000])
        .await;
    let other = std::fs::read(fixture.blob_path(ROOM, OTHER_NAME)).unwrap();

    // The other file's header opens (it is the header of that name), but its key does not
    // open these segments.
    let mut swapped = other[..HEADER].to_vec();
    swapped.extend_from_slice(&std::fs::read(fixture.blob_path(ROOM, NAME)).unwrap()[HEADER..]);
    std::fs::write(fixture.blob_path(ROOM, OTHER_NAME), &swapped).unwrap();
    assert_corrupt(&fixture.store, ROOM, OTHER_NAME).await;

    // And this file's segments under the other file's header, kept under this name.
    replace_blob(&fixture, |raw| {
        raw[..HEADER].copy_from_slice(&other[..HEADER])
    });
    assert_corrupt(&fixture.store, ROOM, NAME).await;
}

#[tokio::test]
async fn a_truncated_blob_fails() {
    let (fixture, _) = stored().await;
    let full = std::fs::read(fixture.blob_path(ROOM, NAME)).unwrap();
    let last_segment = HEADER + 3 * SEALED_SEGMENT;
    let cuts = [
        // Whole segments gone: what is left is well formed but lacks the last-segment flag.
        last_segment,
        HEADER + SEALED_SEGMENT,
        // Within a segment, within a tag, within the header, and nothing at all.
        full.len() - 1,
        last_segment + 10,
        HEADER + 5,
        HEADER,
        10,
        0,
    ];
    for cut in cuts {
        replace_blob(&fixture, |raw| {
            raw.clear();
            raw.extend_from_slice(&full[..cut]);
        });
        assert_corrupt(&fixture.store, ROOM, NAME).await;
    }
}

#[tokio::test]
async fn an_extended_blob_fails() {
    let (fixture, _) = stored().await;
    let full = std::fs::read(fixture.blob_path(ROOM, NAME)).unwrap();
    for extra in [1, 16, SEALED_SEGMENT] {
        replace_blob(&fixture, |raw| {
            raw.clear();
            raw.extend_from_slice(&full);
            raw.resize(full.len() + extra, 0);
        });
        assert_corrupt(&fixture.store, ROOM, NAME).await;
    }
    // The last segment repeated after itself.
    replace_blob(&fixture, |raw| {
        raw.clear();
        raw.extend_from_slice(&full);
        raw.extend_from_slice(&full[HEADER + 3 * SEALED_SEGMENT..]);
    });
    assert_corrupt(&fixture.store, ROOM, NAME).await;
}

#[tokio::test]
async fn a_flipped_byte_fails() {
    let (fixture, data) = stored().await;
    let full = std::fs::read(fixture.blob_path(ROOM, NAME)).unwrap();

    // In the header or the last segment, opening fails.
    for at in [0, 4, 6, 10, HEADER - 1, full.len() - 20, full.len() - 1] {
        replace_blob(&fixture, |raw| {
            raw.copy_from_slice(&full);
            raw[at] ^= 0x40;
        });
        assert_corrupt(&fixture.store, ROOM, NAME).await;
    }

    // In another segment, reading that segment fails, and only that one.
    replace_blob(&fixture, |raw| {
        raw.copy_from_slice(&full);
        raw[HEADER + SEALED_SEGMENT + 100] ^= 1;
    });
    let mut blob = fixture.store.open(ROOM, NAME).await.unwrap();
    let segment = SEGMENT as u64;
    assert_eq!(blob.read_at(0, SEGMENT).await.unwrap(), data[..SEGMENT]);
    for (offset, len) in [(segment, 1), (segment - 1, 2), (0, 3 * SEGMENT)] {
        assert!(matches!(
            blob.read_at(offset, len).await,
            Err(FileError::Corrupt)
        ));
    }
    assert_eq!(
        blob.read_at(2 * segment, 10).await.unwrap(),
        data[2 * SEGMENT..2 * SEGMENT + 10]
    );
}

#[tokio::test]
async fn reordered_segments_fail() {
    let (fixture, _) = stored().await;
    replace_blob(&fixture, |raw| {
        let (first, rest) = raw[HEADER..].split_at_mut(SEALED_SEGMENT);
        first.swap_with_slice(&mut rest[..SEALED_SEGMENT]);
    });
    let mut blob = fixture.store.open(ROOM, NAME).await.unwrap();
    assert!(matches!(blob.read_at(0, 1).await, Err(FileError::Corrupt)));
    assert!(matches!(
        blob.read_at(SEGMENT as u64, 1).await,
        Err(FileError::Corrupt)
    ));
}

#[tokio::test]
async fn another_store_key_opens_nothing() {
    let (fixture, data) = stored().await;
    let mut other_key = KEY;
    other_key[31] ^= 1;
    let other = FileStore::open_local(&fixture.dir(), other_key)
        .await
        .unwrap();
    assert_corrupt(&other, ROOM, NAME).await;

    let same = FileStore::open_local(&fixture.dir(), KEY).await.unwrap();
    let mut blob = same.open(ROOM, NAME).await.unwrap();
    assert_eq!(blob.read_at(0, data.len()).await.unwrap(), data);
}
