//! `parlance check-config`: the checks `serve` makes of its configuration before it binds
//! or opens anything, run alone, so that a change can be tested before a restart or a
//! SIGHUP.

use std::path::PathBuf;

use clap::Args;
use parlance_server::tls::Certificate;

use crate::cli::Common;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The file to check; default the one `--config` names.
    file: Option<PathBuf>,
}

pub fn run(common: &Common, args: CheckArgs) -> anyhow::Result<()> {
    let path = args.file.as_deref().or(common.config_path());
    let config = common.config_from(path)?;
    // A certificate the operator named must be readable and match its key; the self-signed
    // one is made at first start, so its absence is no error.
    if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
        Certificate::load(Some(cert), Some(key), &config.data_dir, &[])?;
    }
    match path {
        Some(path) => println!("{}: the configuration is valid", path.display()),
        None => println!("the built-in configuration is valid"),
    }
    Ok(())
}
