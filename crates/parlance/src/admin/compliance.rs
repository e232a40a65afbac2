//! `parlance compliance …`: the compliance archive, history retention and legal holds from
//! the command line.

use clap::Subcommand;
use parlance_server::config::Config;

use super::hold::HoldAction;
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
    /// Purge now what each category's retention lets go (the server does it every
    /// retention.interval_secs); held rooms and users lose nothing.
    Purge,
    /// Legal holds: a held room, or a held user's messages and files, are never purged.
    Hold {
        #[command(subcommand)]
        action: HoldAction,
    },
}

pub async fn run(config: Config, cmd: ComplianceCommand) -> anyhow::Result<()> {
    let (store, key) = super::open(&config).await?;
    let result = match cmd {
        ComplianceCommand::Export { until } => {
            super::export::run(&config, (&store, &key), until).await
        }
        ComplianceCommand::Purge => super::retention::purge(&config, (&store, &key)).await,
        ComplianceCommand::Hold { action } => super::hold::run(&config, &store, action).await,
    };
    store.close().await;
    result
}
