//! Files in a room as the file service leaves them: tokens issued, uploads reserved and
//! completed, at fixed moments.

use parlance_store::Store;
use parlance_store::files::{Direction, FileToken, NewFileToken, StoredFile};

/// Token lifetimes in these tests: issued at `ISSUED`, valid until `EXPIRES`.
pub const ISSUED: i64 = 1_000;
pub const EXPIRES: i64 = 2_000;
pub const ROOMY: u32 = 100;
pub const QUOTA: u64 = 1 << 30;

pub async fn issue(
    store: &Store,
    principal_id: i64,
    room_id: i64,
    direction: Direction,
    file_id: Option<i64>,
) -> FileToken {
    store
        .issue_file_token(
            &NewFileToken {
                principal_id,
                room_id,
                direction,
                file_url: "report.pdf",
                file_id,
                issued_at: ISSUED,
                expires_at: EXPIRES,
            },
            ROOMY,
        )
        .await
        .unwrap()
}

/// An upload in progress named `name` by `uploader` into `room_id`, with its token.
pub async fn reserved(
    store: &Store,
    uploader: i64,
    room_id: i64,
    name: &str,
) -> (FileToken, StoredFile) {
    let token = issue(store, uploader, room_id, Direction::Upload, None).await;
    let file = store
        .reserve_upload(&token.token, name, ISSUED)
        .await
        .unwrap();
    (token, file)
}

/// A complete file of `size` bytes named `name`, uploaded by `uploader` into `room_id`.
pub async fn uploaded(
    store: &Store,
    uploader: i64,
    room_id: i64,
    name: &str,
    size: u64,
) -> StoredFile {
    let (token, file) = reserved(store, uploader, room_id, name).await;
    store
        .declare_upload_length(&token.token, file.id, size, QUOTA)
        .await
        .unwrap();
    store
        .complete_upload(&token.token, file.id, size, ISSUED + 1)
        .await
        .unwrap()
}
