//! `parlance file list|remove` and `parlance room purge`: the files posted into rooms. A
//! file is a row in the database and an encrypted blob in the file store; both go together,
//! the row first, so that no token or link can reach a blob that is being removed.

use anyhow::{Context, bail};
use clap::Subcommand;
use parlance_files::FileStore;
use parlance_server::config::Config;
use parlance_server::retention::PurgedRoom;
use parlance_store::files::{FileState, StoredFile};
use parlance_store::rooms::RoomInfo;
use parlance_store::{ServerKey, Store, StoreError};

use super::find::room;

#[derive(Debug, Subcommand)]
pub enum FileCommand {
    /// List a room's files: repository name, size, state, uploader, original name.
    List { room: String },
    /// Remove one file of a room (its record, its links and its stored bytes).
    Remove {
        room: String,
        /// The repository name (`<GUID>.<ext>`), as `parlance file list` shows it.
        name: String,
    },
}

pub async fn run(config: Config, cmd: FileCommand) -> anyhow::Result<()> {
    let (store, key) = super::open(&config).await?;
    let files = parlance_server::open_file_store(&config, &key).await?;
    match cmd {
        FileCommand::List { room: name } => {
            let r = room(&store, &name).await?;
            for f in store.room_files(r.room.id).await? {
                let uploader = store.user_by_id(f.uploader_id).await?;
                let state = match f.state {
                    FileState::Complete => "complete",
                    FileState::Uploading => "uploading",
                };
                println!(
                    "{}\t{}\t{state}\t{}\t{}",
                    f.name,
                    f.size,
                    uploader.map(|u| u.uri).unwrap_or_default(),
                    f.original_name
                );
            }
        }
        FileCommand::Remove {
            room: name,
            name: file,
        } => {
            let r = room(&store, &name).await?;
            let f = store.room_file(r.room.id, &file).await?.with_context(|| {
                format!(
                    "no file {file:?} in {} (see: parlance file list)",
                    r.room.name
                )
            })?;
            store.remove_file(f.id).await?;
            remove_blobs(&files, &r, std::slice::from_ref(&f)).await;
            println!(
                "removed {} ({}) from {}",
                f.name, f.original_name, r.room.name
            );
        }
    }
    store.close().await;
    Ok(())
}

/// `parlance room purge`: a room's messages before a moment, and the files nothing left
/// links, in the server's purge steps; a held room is refused and loses nothing, a held
/// user's messages and files stay.
pub async fn purge(
    config: &Config,
    (store, key): (&Store, &ServerKey),
    r: &RoomInfo,
    before: Option<jiff::Timestamp>,
) -> anyhow::Result<()> {
    let before_nanos = before
        .map(|t| i64::try_from(t.as_nanosecond()))
        .transpose()
        .context("the date is out of range")?;
    let purger = super::retention::purger(config, store, key).await?;
    let room = PurgedRoom {
        id: r.room.id,
        guid: &r.room.guid,
    };
    let report = match purger.purge_room(room, before_nanos, "room purge").await {
        Err(StoreError::Held(_)) => bail!(
            "{} is under legal hold: nothing purged (see: parlance compliance hold list)",
            r.room.name
        ),
        report => report?,
    };
    println!(
        "purged {} messages and {} files from {}",
        report.messages, report.files, r.room.name
    );
    Ok(())
}

/// Removes stored bytes whose rows are gone. A blob that cannot be removed is reported and
/// left: nothing refers to it any more, and it stays unreadable without its row's room.
async fn remove_blobs(files: &FileStore, r: &RoomInfo, removed: &[StoredFile]) {
    for f in removed {
        if let Err(e) = files.remove(&r.room.guid, &f.name).await {
            eprintln!("could not remove the stored bytes of {}: {e}", f.name);
        }
    }
}
