//! `parlance chat`: a terminal client on the client library — full screen by default,
//! `--plain` line mode for scripts. Connection problems end it with one sentence.

mod app;
mod command;
mod error;
mod format;
mod input;
mod lines;
mod manage;
mod plain;
mod screen;
mod transfer;
mod ui;
mod view;

use std::path::PathBuf;

use clap::Args;
use parlance_client::{CertificatePin, Client, ClientConfig, ClientError, Transport, Trust};

pub use error::TuiError;

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// A server, HOST:PORT. Give it again for each server of a pool (a name with several
    /// addresses counts as several); after a lost connection the client signs in to another.
    #[arg(
        long = "server",
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:5061"
    )]
    servers: Vec<String>,
    /// Your account, user@domain. The password comes from PARLANCE_PASSWORD or a prompt.
    #[arg(long)]
    user: String,
    /// Trust the server certificate(s) in this PEM file (e.g. the server's tls-cert.pem).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["pin", "insecure", "tcp"])]
    ca: Option<PathBuf>,
    /// Accept exactly the server certificate with this SHA-256 fingerprint.
    #[arg(long, value_name = "SHA256", conflicts_with_all = ["insecure", "tcp"])]
    pin: Option<CertificatePin>,
    /// Accept any server certificate: encrypted, but open to interception.
    #[arg(long, conflicts_with = "tcp")]
    insecure: bool,
    /// Plain TCP instead of TLS (nothing is encrypted).
    #[arg(long)]
    tcp: bool,
    /// A room (name or ma-chan: URI) to join at start; the room posted to with --plain.
    #[arg(long)]
    room: Option<String>,
    /// Line mode for scripts: stdin lines are posted to --room, its messages printed.
    #[arg(long, requires = "room")]
    plain: bool,
    /// With --plain: keep printing messages after stdin ends.
    #[arg(long, requires = "plain")]
    follow: bool,
    /// With --plain: print the room's last N messages first.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "plain")]
    history: u32,
}

pub async fn run(args: ChatArgs) -> Result<(), TuiError> {
    let transport = transport(&args).map_err(TuiError::Connect)?;
    let password = password(&args.user)?;
    let mut config = ClientConfig::new(String::new(), args.user.clone(), password, transport);
    config.servers.clone_from(&args.servers);
    let (client, events) = Client::connect(config).await.map_err(TuiError::Connect)?;
    if args.plain {
        let room = args.room.unwrap_or_default();
        let plain = plain::PlainArgs {
            room,
            follow: args.follow,
            history: args.history,
        };
        let result = plain::run(&client, events, plain).await;
        client.close().await;
        result
    } else {
        screen::run(client, events, args.room).await
    }
}

fn transport(args: &ChatArgs) -> Result<Transport, ClientError> {
    if args.tcp {
        return Ok(Transport::Tcp);
    }
    let trust = match (&args.ca, args.pin) {
        (Some(ca), _) => Trust::ca_file(ca)?,
        (None, Some(pin)) => Trust::Pin(pin),
        (None, None) if args.insecure => Trust::Insecure,
        (None, None) => Trust::System,
    };
    Ok(Transport::Tls(trust))
}

fn password(user: &str) -> Result<String, TuiError> {
    if let Ok(password) = std::env::var("PARLANCE_PASSWORD") {
        return Ok(password);
    }
    rpassword::prompt_password(format!("Password for {user}: ")).map_err(|_| TuiError::NoPassword)
}
