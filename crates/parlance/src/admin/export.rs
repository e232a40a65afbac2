//! `parlance compliance export`: archives the compliance outbox now, with the server's
//! `[compliance]` settings, whether the server runs or not. It never races a server's own
//! export: each run holds the exporter's lease in the store (one exporter in a pool) and
//! the exporters' lock beside the archive, and one that finds either held stops at once.

use std::sync::Arc;

use parlance_compliance::{Progress, Step};
use parlance_server::config::Config;
use parlance_server::pool::{Singleton, Singletons};
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
    let holder = format!("parlance compliance export (pid {})", std::process::id());
    let singletons = Singletons::new(store.clone(), holder, config.pool.node_timeout());
    let Some(report) = singletons
        .run(Singleton::ComplianceExport, exporter.export(until))
        .await?
    else {
        let holder = singletons.other_holder(Singleton::ComplianceExport).await?;
        anyhow::bail!(
            "another compliance export is running ({}): try again once it ends",
            holder.unwrap_or_else(|| "it has just ended".into())
        );
    };
    let report = report?;
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
