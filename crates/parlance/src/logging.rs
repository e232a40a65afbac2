//! Where the log goes and how it looks: stderr, as text (coloured only on a terminal, so
//! files and journald get no escape codes) or as one JSON object per line; filtered by
//! `PARLANCE_LOG`, or else by `[log] level`, which SIGHUP can change.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The running logger's filter.
#[derive(Debug)]
pub struct Logging {
    filter: reload::Handle<EnvFilter, Registry>,
    /// `PARLANCE_LOG` was set: it wins over the configuration, at start and on reload.
    from_env: bool,
}

impl Logging {
    /// Installs the logger; `default` filters until [`Logging::apply`] is told otherwise.
    pub fn init(format: LogFormat, default: &str) -> Logging {
        let env = EnvFilter::try_from_env("PARLANCE_LOG").ok();
        let from_env = env.is_some();
        let (filter, handle) = reload::Layer::new(env.unwrap_or_else(|| EnvFilter::new(default)));
        let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        let registry = tracing_subscriber::registry().with(filter);
        match format {
            LogFormat::Text => registry
                .with(layer.with_ansi(std::io::stderr().is_terminal()))
                .init(),
            LogFormat::Json => registry.with(layer.json().with_ansi(false)).init(),
        }
        Logging {
            filter: handle,
            from_env,
        }
    }

    /// Filters by `level` (validated with the configuration) unless `PARLANCE_LOG` is set;
    /// says whether the filter changed.
    pub fn apply(&self, level: &str) -> bool {
        if self.from_env {
            return false;
        }
        let Ok(filter) = EnvFilter::try_new(level) else {
            return false;
        };
        let before = self
            .filter
            .with_current(|f| f.to_string())
            .unwrap_or_default();
        if before == filter.to_string() {
            return false;
        }
        self.filter.reload(filter).is_ok()
    }
}
