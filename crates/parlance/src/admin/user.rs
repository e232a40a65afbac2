//! `parlance user add|remove|list|passwd|mechanisms|disable|enable|unlock|admin|chat`. A running server
//! applies what these change to live sessions within `admin_changes_poll_ms`.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use parlance_server::config::Config;
use parlance_store::{Mechanisms, StoreError};

use super::find::in_domain;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with a password.
    Add {
        /// alice@domain (the domain must be the server's)
        user: String,
        #[arg(long, default_value = "")]
        display_name: String,
        /// How the user may sign in: digest, ntlm, or both (comma-separated).
        #[arg(long, default_value = "digest,ntlm", value_parser = parse_mechanisms)]
        mechanisms: Mechanisms,
        /// Give the address of a removed user to this new account. The old messages keep
        /// showing the address, and so look like the new account's.
        #[arg(long)]
        reuse: bool,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Remove a user: their sessions end; their messages keep their address, which is not
    /// given to a new account without `add --reuse`.
    Remove { user: String },
    /// Stop a user from signing in (their sessions end) until enabled again.
    Disable { user: String },
    /// Let a disabled user sign in again.
    Enable { user: String },
    /// Forget a user's failed sign-ins, so that no address has to wait before trying again.
    Unlock { user: String },
    /// Make a user an administrator of the room-management web application (sees and
    /// manages every category and room there), or no longer.
    Admin { user: String, switch: Switch },
    /// Let a user use persistent chat (the default), or not: provisioned to their clients
    /// as EnablePersistentChat, and the chat service ends their sessions on the first
    /// command. Turned off, their sessions end.
    Chat { user: String, switch: Switch },
    /// List users: address, sign-in mechanisms, display name, last sign-in (UTC), and
    /// whether an administrator or disabled.
    List,
    /// Choose how a user may sign in (digest, ntlm, or both). Adding one takes effect
    /// with the next `passwd`, since its secret is made from the password.
    Mechanisms {
        user: String,
        #[arg(value_parser = parse_mechanisms)]
        mechanisms: Mechanisms,
    },
    /// Set a new password; the user's sessions end.
    Passwd {
        user: String,
        #[command(flatten)]
        password: PasswordSource,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// Where the password comes from: standard input, the environment, or a prompt.
#[derive(Debug, Args)]
pub struct PasswordSource {
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordSource {
    /// The password, refused when shorter than `min_length` characters.
    fn read(&self, min_length: usize) -> anyhow::Result<String> {
        let password = if self.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        } else if let Ok(pw) = std::env::var("PARLANCE_PASSWORD") {
            pw
        } else if std::io::stdin().is_terminal() {
            let first = rpassword::prompt_password("Password: ")?;
            let again = rpassword::prompt_password("Repeat password: ")?;
            if first != again {
                bail!("the passwords differ");
            }
            first
        } else {
            bail!("no password: use --password-stdin, PARLANCE_PASSWORD, or run in a terminal");
        };
        let length = password.chars().count();
        if length < min_length {
            bail!(
                "the password has {length} characters; at least {min_length} are needed ([auth] min_password_length)"
            );
        }
        Ok(password)
    }
}

fn parse_mechanisms(s: &str) -> Result<Mechanisms, String> {
    Mechanisms::parse(s).map_err(|e| e.to_string())
}

pub async fn run(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
    let (store, key) = super::open(&config).await?;
    let in_domain = |user: &str| in_domain(&config, user);
    match cmd {
        UserCommand::Add {
            user,
            display_name,
            mechanisms,
            reuse,
            password,
        } => {
            let uri = in_domain(&user)?;
            let pw = password.read(config.auth.min_password_length)?;
            let created = if reuse {
                store
                    .reuse_user(&uri, &display_name, &pw, config.realm(), &key)
                    .await?
            } else {
                store
                    .add_user(&uri, &display_name, &pw, config.realm(), &key)
                    .await
                    .map_err(|e| match e {
                        StoreError::Removed(_) => {
                            anyhow!("{e} (parlance user add --reuse {user})")
                        }
                        e => e.into(),
                    })?
            };
            if mechanisms != Mechanisms::ALL {
                store.set_mechanisms(&uri, mechanisms).await?;
            }
            println!("created {} ({mechanisms})", created.uri);
        }
        UserCommand::Mechanisms { user, mechanisms } => {
            let uri = in_domain(&user)?;
            store.set_mechanisms(&uri, mechanisms).await?;
            println!("{uri} may sign in with {mechanisms}");
        }
        UserCommand::Remove { user } => {
            let uri = in_domain(&user)?;
            store.remove_user(&uri).await?;
            println!("removed {uri}");
        }
        UserCommand::Disable { user } => {
            let uri = in_domain(&user)?;
            store.set_disabled(&uri, true).await?;
            println!("{uri} is disabled");
        }
        UserCommand::Enable { user } => {
            let uri = in_domain(&user)?;
            store.set_disabled(&uri, false).await?;
            println!("{uri} is enabled");
        }
        UserCommand::Unlock { user } => {
            let uri = in_domain(&user)?;
            store.request_unlock(&uri).await?;
            println!("failed sign-ins of {uri} forgotten");
        }
        UserCommand::Admin { user, switch } => {
            let uri = in_domain(&user)?;
            let admin = switch == Switch::On;
            store.set_admin(&uri, admin).await?;
            let now = if admin {
                "an administrator"
            } else {
                "not an administrator"
            };
            println!("{uri} is {now}");
        }
        UserCommand::Chat { user, switch } => {
            let uri = in_domain(&user)?;
            let enabled = switch == Switch::On;
            store.set_persistent_chat(&uri, enabled).await?;
            let may = if enabled { "may" } else { "may not" };
            println!("{uri} {may} use persistent chat");
        }
        UserCommand::List => {
            let last_sign_ins = store.last_sign_ins().await?;
            for u in store.users().await? {
                let last = last_sign_ins
                    .get(&u.id)
                    .map_or_else(|| "never signed in".to_owned(), |at| super::utc(*at));
                let flags = [
                    (u.admin, "admin"),
                    (u.disabled, "disabled"),
                    (!u.persistent_chat, "no-chat"),
                ];
                let state: Vec<&str> = flags
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, n)| *n)
                    .collect();
                let state = state.join(",");
                println!(
                    "{}\t{}\t{}\t{last}\t{state}",
                    u.uri, u.mechanisms, u.display_name
                );
            }
        }
        UserCommand::Passwd { user, password } => {
            let uri = in_domain(&user)?;
            let pw = password.read(config.auth.min_password_length)?;
            store.set_password(&uri, &pw, config.realm(), &key).await?;
            println!("password changed for {uri}");
        }
    }
    store.close().await;
    Ok(())
}
