//! `parlance room delete`: a room removed for good, with its history, files, roles,
//! invitations, compliance outbox rows and audit records. Refused while a legal hold is in
//! force on it.

use anyhow::bail;
use parlance_server::config::Config;
use parlance_server::retention::PurgedRoom;
use parlance_store::retention::HoldTarget;
use parlance_store::rooms::{RoomInfo, RoomUpdate};
use parlance_store::{ServerKey, Store, StoreError};

/// Deletes the room, when `confirmed` (`--yes`); otherwise says what it would remove.
pub async fn delete(
    config: &Config,
    (store, key): (&Store, &ServerKey),
    r: &RoomInfo,
    confirmed: bool,
) -> anyhow::Result<()> {
    let name = &r.room.name;
    if !confirmed {
        bail!("room delete removes {name} with its history and files for good; add --yes to do it");
    }
    let held = || {
        anyhow::anyhow!(
            "{name} is under legal hold: nothing deleted (see: parlance compliance hold list)"
        )
    };
    let holds = store.legal_holds(false).await?;
    if holds
        .iter()
        .any(|h| h.target == HoldTarget::Room(r.room.id))
    {
        return Err(held());
    }
    // Disabled first: a running server parts everyone at once, and nobody posts into the
    // history while it is purged.
    let disable = RoomUpdate {
        disabled: Some(true),
        ..RoomUpdate::default()
    };
    store.update_room(r.room.id, &disable).await?;
    // The history goes in the purge's steps, each a short transaction of the writer,
    // with the files' stored bytes; then the rest in one.
    let purger = super::retention::purger(config, store, key).await?;
    let room = PurgedRoom {
        id: r.room.id,
        guid: &r.room.guid,
    };
    let report = match purger.purge_room(room, None, "room delete").await {
        Err(StoreError::Held(_)) => return Err(held()),
        report => report?,
    };
    match store.delete_room(r.room.id).await {
        Err(StoreError::Held(_)) => return Err(held()),
        deleted => deleted?,
    }
    // Uploads that never finished, whose bytes no message linked.
    let files = parlance_server::open_file_store(config, key).await?;
    if let Err(e) = files.remove_room(&r.room.guid).await {
        eprintln!("could not remove the stored files of {name}: {e}");
    }
    println!(
        "deleted {name} with {} messages and {} files",
        report.messages, report.files
    );
    Ok(())
}
