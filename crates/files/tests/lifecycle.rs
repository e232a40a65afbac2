//! What is on disk at each step of a file's life: nothing of an upload that did not
//! finish, the whole file once it did, nothing after it is removed, and nothing at all for
//! a name the store refuses.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::task::{Context, Waker};

use common::{Fixture, KEY, NAME, OTHER_NAME, OTHER_ROOM, ROOM, SEGMENT, content};
use parlance_files::{FileError, FileStore};

fn partial_files(fixture: &Fixture) -> Vec<PathBuf> {
    fixture
        .files_on_disk()
        .into_iter()
        .filter(|path| path.starts_with("files/.partial"))
        .collect()
}

fn entries(dir: &Path) -> Vec<OsString> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect()
}

#[tokio::test]
async fn a_file_appears_only_when_its_upload_finishes() {
    let fixture = Fixture::new().await;
    let data = content(2 * SEGMENT + 3, 1);
    let mut upload = fixture.store.begin_upload(ROOM, NAME).await.unwrap();
    upload.write(&data).await.unwrap();
    assert_eq!(upload.len(), data.len() as u64);

    assert!(matches!(
        fixture.store.open(ROOM, NAME).await,
        Err(FileError::NotFound)
    ));
    assert!(!fixture.dir().join(ROOM).exists());
    assert_eq!(partial_files(&fixture).len(), 1);
    assert_eq!(fixture.files_on_disk().len(), 1);

    assert_eq!(upload.finish().await.unwrap(), data.len() as u64);
    assert_eq!(
        fixture.files_on_disk(),
        [PathBuf::from("files").join(ROOM).join(NAME)]
    );
    assert_eq!(fixture.read_file(ROOM, NAME).await, data);
}

#[tokio::test]
async fn an_empty_file_is_a_file() {
    let fixture = Fixture::new().await;
    let upload = fixture.store.begin_upload(ROOM, NAME).await.unwrap();
    assert!(upload.is_empty());
    assert_eq!(upload.finish().await.unwrap(), 0);
    let mut blob = fixture.store.open(ROOM, NAME).await.unwrap();
    assert!(blob.is_empty());
    assert!(blob.read_at(0, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_aborted_upload_leaves_nothing() {
    let fixture = Fixture::new().await;
    let mut upload = fixture.store.begin_upload(ROOM, NAME).await.unwrap();
    upload.write(&content(3 * SEGMENT, 2)).await.unwrap();
    assert_eq!(partial_files(&fixture).len(), 1);
    upload.abort().await;
    assert_eq!(fixture.files_on_disk(), Vec::<PathBuf>::new());
    assert!(!fixture.dir().join(ROOM).exists());
}

#[tokio::test]
async fn a_dropped_upload_leaves_nothing() {
    let fixture = Fixture::new().await;
    let mut upload = fixture.store.begin_upload(ROOM, NAME).await.unwrap();
    upload.write(&content(SEGMENT + 1, 3)).await.unwrap();
    drop(upload);
    assert_eq!(fixture.files_on_disk(), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn a_cancelled_upload_task_leaves_nothing() {
    let fixture = Fixture::new().await;
    let store = fixture.store.clone();
    let (started, wait_started) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut upload = store.begin_upload(ROOM, NAME).await.unwrap();
        upload.write(&content(2 * SEGMENT, 4)).await.unwrap();
        started.send(()).unwrap();
        // Waits for a next chunk that never comes.
        std::future::pending::<()>().await;
        upload.finish().await
    });
    wait_started.await.unwrap();
    assert_eq!(partial_files(&fixture).len(), 1);
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(fixture.files_on_disk(), Vec::<PathBuf>::new());
}

/// A write whose future is dropped after `polls` polls (the task serving the client was
/// cancelled mid-chunk) and the upload then carried on from `len()`.
async fn interrupted_upload(fixture: &Fixture, name: &str, data: &[u8], polls: usize) {
    let mut upload = fixture.store.begin_upload(ROOM, name).await.unwrap();
    upload.write(&data[..SEGMENT]).await.unwrap();
    {
        let mut write = Box::pin(upload.write(&data[SEGMENT..]));
        let mut context = Context::from_waker(Waker::noop());
        for _ in 0..polls {
            if write.as_mut().poll(&mut context).is_ready() {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    let taken = usize::try_from(upload.len()).unwrap();
    upload.write(&data[taken..]).await.unwrap();
    assert_eq!(upload.finish().await.unwrap(), data.len() as u64);
}

#[tokio::test]
async fn an_interrupted_write_loses_nothing_it_took() {
    let fixture = Fixture::new().await;
    let data = content(3 * SEGMENT + 5, 12);
    for polls in 1..8 {
        let name = format!("9e8d7c6b-5a49-4837-a625-140312f0e1d2.p{polls}");
        interrupted_upload(&fixture, &name, &data, polls).await;
        assert_eq!(fixture.read_file(ROOM, &name).await, data, "{polls} polls");
    }
}

#[tokio::test]
async fn a_stored_name_is_not_stored_again() {
    let fixture = Fixture::new().await;
    let data = content(100, 5);
    fixture.store_file(ROOM, NAME, &data, &[7]).await;
    assert!(matches!(
        fixture.store.begin_upload(ROOM, NAME).await,
        Err(FileError::Exists)
    ));
    assert!(partial_files(&fixture).is_empty());
    assert_eq!(fixture.read_file(ROOM, NAME).await, data);
}

#[tokio::test]
async fn of_two_uploads_of_one_name_the_second_to_finish_fails() {
    let fixture = Fixture::new().await;
    let first = content(SEGMENT + 10, 6);
    let mut one = fixture.store.begin_upload(ROOM, NAME).await.unwrap();
    let mut two = fixture.store.begin_upload(ROOM, NAME).await.unwrap();
    one.write(&first).await.unwrap();
    two.write(&content(20, 7)).await.unwrap();
    assert_eq!(one.finish().await.unwrap(), first.len() as u64);
    assert!(matches!(two.finish().await, Err(FileError::Exists)));
    assert!(partial_files(&fixture).is_empty());
    assert_eq!(fixture.read_file(ROOM, NAME).await, first);
}

#[tokio::test]
async fn unfinished_uploads_survive_opening_and_go_when_discarded() {
    let fixture = Fixture::new().await;
    let data = content(SEGMENT, 8);
    fixture.store_file(ROOM, NAME, &data, &[SEGMENT]).await;
    for name in [OTHER_NAME, "0e1d2c3b-4a59-4687-9766-5a4b3c2d1e0f"] {
        let mut upload = fixture.store.begin_upload(ROOM, name).await.unwrap();
        upload.write(&data).await.unwrap();
        // As if the server stopped here: the upload's destructor never runs.
        std::mem::forget(upload);
    }
    assert_eq!(partial_files(&fixture).len(), 2);

    // An administration command opens the store while the server's uploads run.
    let reopened = FileStore::open_local(&fixture.dir(), KEY).await.unwrap();
    assert_eq!(partial_files(&fixture).len(), 2);
    assert_eq!(reopened.discard_unfinished().await.unwrap(), 2);
    assert!(partial_files(&fixture).is_empty());
    let mut blob = reopened.open(ROOM, NAME).await.unwrap();
    assert_eq!(blob.read_at(0, SEGMENT).await.unwrap(), data);
    assert!(matches!(
        reopened.open(ROOM, OTHER_NAME).await,
        Err(FileError::NotFound)
    ));
}

#[tokio::test]
async fn invalid_names_are_refused_and_create_nothing() {
    let fixture = Fixture::new().await;
    let long = "a".repeat(300);
    let rooms = [
        "",
        "..",
        "../files",
        "/tmp",
        "..\\..",
        "0B6F2A1E-3C4D-4E5F-8A9B-0C1D2E3F4A5B",
        "{0b6f2a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b}",
        "0b6f2a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b\0",
        ".partial",
        long.as_str(),
    ];
    let names = [
        String::new(),
        ".".into(),
        "..".into(),
        "../x".into(),
        format!("../{NAME}"),
        format!("../../{NAME}"),
        format!("..\\{NAME}"),
        format!("/tmp/{NAME}"),
        format!("{NAME}\0"),
        format!("{NAME}/"),
        format!("9e8d7c6b-5a49-4837-a625-140312f0e1d2.{}", "x".repeat(17)),
        "9e8d7c6b-5a49-4837-a625-140312f0e1d2.EXE".into(),
        "9e8d7c6b-5a49-4837-a625-140312f0e1d2.tar.gz".into(),
        format!("9e8d7c6b-5a49-4837-a625-140312f0e1d2.{long}"),
        long.clone(),
    ];
    let store = &fixture.store;
    let pairs = rooms
        .iter()
        .map(|room| (room.to_string(), NAME.to_owned()))
        .chain(names.iter().map(|name| (ROOM.to_owned(), name.clone())));
    for (room, name) in pairs {
        assert!(matches!(
            store.begin_upload(&room, &name).await,
            Err(FileError::InvalidName)
        ));
        assert!(matches!(
            store.open(&room, &name).await,
            Err(FileError::InvalidName)
        ));
        assert!(matches!(
            store.remove(&room, &name).await,
            Err(FileError::InvalidName)
        ));
    }
    for room in rooms {
        assert!(matches!(
            store.remove_room(room).await,
            Err(FileError::InvalidName)
        ));
    }
    assert_eq!(fixture.files_on_disk(), Vec::<PathBuf>::new());
    assert_eq!(entries(fixture.temp.path()), ["files"]);
    assert_eq!(entries(&fixture.dir()), [".partial"]);
}

#[tokio::test]
async fn remove_removes_one_file() {
    let fixture = Fixture::new().await;
    let data = content(10, 9);
    fixture.store_file(ROOM, NAME, &data, &[10]).await;
    fixture.store_file(ROOM, OTHER_NAME, &data, &[10]).await;

    assert!(fixture.store.remove(ROOM, NAME).await.unwrap());
    assert!(matches!(
        fixture.store.open(ROOM, NAME).await,
        Err(FileError::NotFound)
    ));
    assert!(!fixture.store.remove(ROOM, NAME).await.unwrap());
    assert_eq!(fixture.read_file(ROOM, OTHER_NAME).await, data);
    // The name is free again.
    fixture.store_file(ROOM, NAME, &data, &[3]).await;
}

#[tokio::test]
async fn remove_room_removes_that_room_only() {
    let fixture = Fixture::new().await;
    let data = content(SEGMENT + 1, 10);
    fixture.store_file(ROOM, NAME, &data, &[SEGMENT]).await;
    fixture
        .store_file(ROOM, OTHER_NAME, &data, &[SEGMENT])
        .await;
    fixture
        .store_file(OTHER_ROOM, NAME, &data, &[SEGMENT])
        .await;

    assert_eq!(fixture.store.remove_room(ROOM).await.unwrap(), 2);
    assert!(!fixture.dir().join(ROOM).exists());
    for name in [NAME, OTHER_NAME] {
        assert!(matches!(
            fixture.store.open(ROOM, name).await,
            Err(FileError::NotFound)
        ));
    }
    assert_eq!(fixture.read_file(OTHER_ROOM, NAME).await, data);
    assert_eq!(fixture.store.remove_room(ROOM).await.unwrap(), 0);
}

#[cfg(unix)]
#[tokio::test]
async fn only_the_servers_user_can_read_the_store() {
    use std::os::unix::fs::PermissionsExt;

    let fixture = Fixture::new().await;
    fixture.store_file(ROOM, NAME, b"x", &[1]).await;
    let mode = |path: PathBuf| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(fixture.dir()), 0o700);
    assert_eq!(mode(fixture.dir().join(".partial")), 0o700);
    assert_eq!(mode(fixture.dir().join(ROOM)), 0o700);
    assert_eq!(mode(fixture.blob_path(ROOM, NAME)), 0o600);
}
