//! `[admin]` and `[log]`: how the server is watched.

use std::net::SocketAddr;

use serde::Deserialize;

use super::{Config, ConfigError, optional_addr};

/// The admin HTTP listener: `/healthz`, `/readyz` and `/metrics`, in plain HTTP for the
/// monitoring system. It serves no user data and takes no commands, but it tells how busy
/// the server is: keep it on loopback or a management network.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// `None` (`"off"` in TOML) disables it.
    #[serde(deserialize_with = "optional_addr")]
    pub listen: Option<SocketAddr>,
    /// Open connections at most; further ones are closed at once.
    pub max_connections: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// What is logged, as a tracing filter: `info`, `debug`, or per module such as
    /// `info,parlance_server=debug`. The `PARLANCE_LOG` environment variable wins over it.
    /// Changes on SIGHUP.
    pub level: String,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
            max_connections: 16,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

impl Config {
    pub(super) fn validate_observe(&self) -> Result<(), ConfigError> {
        if self.admin.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "admin.max_connections must be at least 1".into(),
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError::Invalid(format!("log.level {:?}: {e}", self.log.level)))?;
        Ok(())
    }
}
