//! What goes in comes out byte for byte, whatever the size, however it was written, and
//! whatever range is read.

mod common;

use common::{Fixture, NAME, ROOM, SEGMENT, content};
use proptest::collection::vec;
use proptest::prelude::*;

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// The sizes at the segment edges, and any size up to four segments.
fn sizes() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(SEGMENT - 1),
        Just(SEGMENT),
        Just(SEGMENT + 1),
        Just(3 * SEGMENT + 123),
        0..4 * SEGMENT,
    ]
}

/// Write sizes, empty writes included, from a few bytes to more than a segment.
/// Write sizes, cycled; empty writes among them, but not only those (the file would never
/// be written).
fn splits() -> impl Strategy<Value = Vec<usize>> {
    vec(prop_oneof![0..64usize, 0..3 * SEGMENT], 1..6)
        .prop_filter("some write moves bytes", |s| s.iter().any(|&n| n > 0))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_file_reads_back_as_written(size in sizes(), splits in splits(), seed: u64) {
        let data = content(size, seed);
        let read = block_on(async {
            let fixture = Fixture::new().await;
            fixture.store_file(ROOM, NAME, &data, &splits).await;
            let mut blob = fixture.store.open(ROOM, NAME).await.unwrap();
            assert_eq!(blob.len(), size as u64);
            assert_eq!(blob.is_empty(), size == 0);
            // Asking for more than there is returns what there is.
            blob.read_at(0, size + 10).await.unwrap()
        });
        prop_assert!(read == data, "{} bytes differ", size);
    }

    #[test]
    fn any_range_reads_as_the_plaintext(
        size in sizes(),
        ranges in vec((0..5 * SEGMENT as u64, 0..2 * SEGMENT + 10), 1..8),
        seed: u64,
    ) {
        let data = content(size, seed);
        let reads = block_on(async {
            let fixture = Fixture::new().await;
            fixture.store_file(ROOM, NAME, &data, &[SEGMENT]).await;
            // One blob for every range: reads in any order, over the segment it holds or
            // others, answer the same as fresh ones.
            let mut blob = fixture.store.open(ROOM, NAME).await.unwrap();
            let mut reads = Vec::new();
            for &(offset, len) in &ranges {
                reads.push(blob.read_at(offset, len).await.unwrap());
            }
            reads
        });
        for (&(offset, len), read) in ranges.iter().zip(reads) {
            let start = (offset as usize).min(size);
            let end = start.saturating_add(len).min(size);
            prop_assert!(read == data[start..end], "{} bytes from {} of {}", len, offset, size);
        }
    }
}

#[tokio::test]
async fn reads_cross_segments_and_stop_at_the_end() {
    let fixture = Fixture::new().await;
    let size = 2 * SEGMENT + 100;
    let data = content(size, 1);
    fixture.store_file(ROOM, NAME, &data, &[1000]).await;
    let mut blob = fixture.store.open(ROOM, NAME).await.unwrap();

    let across = blob
        .read_at(SEGMENT as u64 - 10, SEGMENT + 20)
        .await
        .unwrap();
    assert_eq!(across, data[SEGMENT - 10..2 * SEGMENT + 10]);
    let tail = blob.read_at(size as u64 - 5, 100).await.unwrap();
    assert_eq!(tail, data[size - 5..]);
    assert!(blob.read_at(size as u64, 10).await.unwrap().is_empty());
    assert!(blob.read_at(u64::MAX, usize::MAX).await.unwrap().is_empty());
    assert!(blob.read_at(3, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn files_are_independent() {
    let fixture = Fixture::new().await;
    let first = content(SEGMENT + 7, 2);
    let second = content(SEGMENT + 7, 3);
    fixture.store_file(ROOM, NAME, &first, &[4096]).await;
    fixture
        .store_file(common::OTHER_ROOM, NAME, &second, &[4096])
        .await;
    assert_eq!(fixture.read_file(ROOM, NAME).await, first);
    assert_eq!(fixture.read_file(common::OTHER_ROOM, NAME).await, second);
}
