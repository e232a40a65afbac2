//! `parlance session list|end`: who is signed in to the running server, and ending a user's
//! sessions. The server writes its signed-in connections to the database (empty when it
//! starts and when it stops), so this works from another process; what it shows is at most
//! `admin_changes_poll_ms` old.

use clap::Subcommand;
use parlance_server::config::Config;

use super::find::in_domain;

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List the connections signed in now: account, transport, client address and port,
    /// since when (UTC).
    List,
    /// End every session of a user: their connections close (the client may sign in again,
    /// unless the account is disabled too).
    End { user: String },
}

pub async fn run(config: Config, cmd: SessionCommand) -> anyhow::Result<()> {
    let (store, _) = super::open(&config).await?;
    match cmd {
        SessionCommand::List => {
            for s in store.signed_in().await? {
                println!(
                    "{}\t{}\t{}\tsince {}",
                    s.account,
                    s.transport,
                    s.remote,
                    super::utc(s.since)
                );
            }
        }
        SessionCommand::End { user } => {
            let uri = in_domain(&config, &user)?;
            let connected = store
                .signed_in()
                .await?
                .iter()
                .filter(|s| s.account.eq_ignore_ascii_case(&uri))
                .count();
            store.request_sign_out(&uri, "session end").await?;
            println!("the sessions of {uri} end ({connected} connections were signed in)");
        }
    }
    store.close().await;
    Ok(())
}
