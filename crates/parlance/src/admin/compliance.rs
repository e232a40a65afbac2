//! `parlance compliance export`: archives the compliance outbox now, with the server's
//! `[compliance]` settings, whether the server runs or not. It never races the server's own
//! export: each run holds the exporters' lock, and one that finds it held stops at once.

use std::sync::Arc;

use clap::Subcommand;
use parlance_compliance::{Progress, Step};
use parlance_server::config::Config;

use super::room::moment;

#[derive(Debug, Subcommand)]
pub enum ComplianceCommand {
    /// Write every event not yet archived to the compliance directory, with attachments.
    Export {
        /// Only events recorded up to this date (2026-01-31) or moment
        /// (2026-01-31T12:00:00Z), UTC; later ones wait for the next export.
        #[arg(long, value_parser = moment)]
        until: Option<jiff::Timestamp>,
    },
}

/// Prints each output file as it is published.
struct PrintPublished;

impl Progress for PrintPublished {
    fn step(&self, step: Step<'_>) {
        if let Step::Published(path) = step {
            println!("wrote {}", path.display());
        }
    }
}

pub async fn run(config: Config, cmd: ComplianceCommand) -> anyhow::Result<()> {
    let (store, key) = parlance_server::open_data(&config).await?;
    match cmd {
        ComplianceCommand::Export { until } => {
            let exporter = parlance_server::compliance::exporter(
                &config,
                store.clone(),
                &key,
                parlance_clock::Clock::default(),
            )
            .await?
            .with_progress(Arc::new(PrintPublished));
            let result = exporter.export(until).await;
            store.close().await;
            let report = result?;
            println!(
                "exported {} events in {} files, {} attachments ({} missing), {} bytes; {} outbox rows pruned",
                report.events,
                report.files,
                report.attachments,
                report.missing_attachments,
                report.bytes,
                report.pruned
            );
        }
    }
    Ok(())
}
