//! `parlance compliance purge`: every category's retention applied now, in the server's purge
//! steps (`parlance_server::retention`); also the purger `room purge` uses.

use parlance_clock::Clock;
use parlance_server::config::Config;
use parlance_server::retention::Purger;
use parlance_store::{ServerKey, Store};

/// The purge steps as the server runs them, on this data directory.
pub async fn purger(config: &Config, store: &Store, key: &ServerKey) -> anyhow::Result<Purger> {
    let files = parlance_server::open_file_store(config, key).await?;
    Ok(Purger::new(
        store.clone(),
        files,
        Clock::default(),
        config.retention.step,
    ))
}

pub async fn purge(config: &Config, (store, key): (&Store, &ServerKey)) -> anyhow::Result<()> {
    let purger = purger(config, store, key).await?;
    let mut total = 0;
    for (retained, report) in purger.apply_retention().await? {
        let name = store
            .room_by_id(retained.room_id)
            .await?
            .map_or(retained.room_guid.clone(), |r| r.room.name);
        println!(
            "purged {} messages and {} files from {name} (retention {} days)",
            report.messages, report.files, retained.days
        );
        total += report.messages;
    }
    println!("purged {total} messages in all");
    Ok(())
}
