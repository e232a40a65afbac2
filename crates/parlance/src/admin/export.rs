//! `parlance compliance export`: archives the compliance outbox now, with the server's
//! `[compliance]` settings, whether the server runs or not. It never races the server's own
//! export: each run holds the exporters' lock, and one that finds it held stops at once.

use std::sync::Arc;

use parlance_compliance::{Progress, Step};
use parlance_server::config::Config;
use parlance_store::{ServerKey, Store};

/// Prints each output file as it is published.
struct PrintPublished;

impl Progress for PrintPublished {
    fn step(&self, step: Step<'_>) {
        if let Step::Published(path) = step {
            println!("wrote {}", path.display());
        }
    }
}

/// Exports every event recorded up to `until` (all without it) and says what it wrote.
pub async fn run(
    config: &Config,
    (store, key): (&Store, &ServerKey),
    until: Option<jiff::Timestamp>,
) -> anyhow::Result<()> {
    let exporter = parlance_server::compliance::exporter(
        config,
        store.clone(),
        key,
        parlance_clock::Clock::default(),
    )
    .await?
    .with_progress(Arc::new(PrintPublished));
    let report = exporter.export(until).await?;
    println!(
        "exported {} events in {} files, {} attachments ({} missing), {} bytes; {} outbox rows pruned",
        report.events,
        report.files,
        report.attachments,
        report.missing_attachments,
        report.bytes,
        report.pruned
    );
    Ok(())
}
