//! `parlance compliance …`: the compliance archive from the command line.

use clap::Subcommand;
use parlance_server::config::Config;

use super::room::moment;

#[derive(Debug, Subcommand)]
pub enum ComplianceCommand {
    /// Write every event not yet archived to the compliance directory, with attachments
    /// (works whether the server runs or not; never beside another export).
    Export {
        /// Only events recorded up to this date (2026-01-31) or moment
        /// (2026-01-31T12:00:00Z), UTC; later ones wait for the next export.
        #[arg(long, value_parser = moment)]
        until: Option<jiff::Timestamp>,
    },
}

pub async fn run(config: Config, cmd: ComplianceCommand) -> anyhow::Result<()> {
    let (store, key) = parlance_server::open_data(&config).await?;
    match cmd {
        ComplianceCommand::Export { until } => {
            super::export::run(&config, (&store, &key), until).await?;
        }
    }
    store.close().await;
    Ok(())
}
