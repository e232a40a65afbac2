//! The compliance exporter as the server runs it: every `compliance.interval_secs` and once
//! more at shutdown, after the last sessions' parts are recorded. Each run reads the outbox
//! in batches on the readers' pool and takes the single writer only to move the cursor and
//! prune, a short transaction at a time, so chat commits do not wait behind an export. It
//! runs on threads of its own at `compliance.priority` (by default `SCHED_IDLE`: see
//! `runtime`), with a database connection of its own opened there: an export's reads, XML and
//! file writes are all CPU work that would otherwise take the cores from a room's
//! deliveries while it runs.

use std::future::Future;
use std::time::Duration;

use parlance_clock::Clock;
use parlance_compliance::{ExportError, Exporter};
use parlance_store::{ServerKey, Store};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::pool::{Singleton, Singletons};
use crate::runtime::LowPriorityRuntime;
use crate::{StartError, open_file_store};

/// The exporter on its low-priority threads.
#[derive(Debug)]
pub struct Background {
    exporter: Exporter,
    /// The exporter's own connections, closed with the server's store at shutdown.
    store: Store,
    runtime: LowPriorityRuntime,
}

impl Background {
    /// Starts the threads and opens the exporter's own store on them: a SQLite connection's
    /// worker thread is started by the thread that opens it, and keeps its priority.
    pub async fn start(
        config: &Config,
        key: &ServerKey,
        clock: Clock,
    ) -> Result<Background, StartError> {
        let runtime = LowPriorityRuntime::new("parlance-export", 1, config.compliance.priority)
            .map_err(StartError::Runtime)?;
        let (config, key) = (config.clone(), key.clone());
        let (exporter, store) = runtime
            .spawn(async move {
                let store = Store::open_existing(&config.store_url()).await?;
                let exporter = exporter(&config, store.clone(), &key, clock).await?;
                Ok::<_, StartError>((exporter, store))
            })
            .await
            .map_err(|e| StartError::Runtime(std::io::Error::other(e)))??;
        Ok(Background {
            exporter,
            store,
            runtime,
        })
    }

    /// Closes the exporter's database connections (the server's last export has run).
    pub async fn close(&self) {
        self.store.close().await;
    }

    pub fn exporter(&self) -> &Exporter {
        &self.exporter
    }

    /// Runs `work` (an export, or the periodic loop) on the exporter's threads.
    pub fn spawn<F>(&self, work: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.spawn(work)
    }
}

/// The exporter `config` describes, on `store` and the file store; the default output
/// directory (`<data_dir>/compliance`, the owner's only) is made when missing.
pub async fn exporter(
    config: &Config,
    store: Store,
    key: &ServerKey,
    clock: Clock,
) -> Result<Exporter, StartError> {
    let files = open_file_store(config, key).await?;
    if config.compliance.dir.is_none() {
        let dir = config.compliance_dir();
        let made = std::fs::create_dir_all(&dir).and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        });
        made.map_err(|source| StartError::Directory {
            path: dir.display().to_string(),
            source,
        })?;
    }
    Ok(Exporter::new(store, files, config.export_settings()).with_clock(clock))
}

/// Exports now, then every `interval`, until shutdown.
pub(crate) async fn run_periodically(
    exporter: Exporter,
    singletons: Singletons,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        run_once(&exporter, &singletons).await;
    }
}

/// One export under the exporter's lease (one exporter in a pool: where another node
/// holds it, that node's export covers this one's events), logged in one line whatever
/// happens; a failed run is taken up by the next.
pub(crate) async fn run_once(exporter: &Exporter, singletons: &Singletons) {
    let export = singletons.run(Singleton::ComplianceExport, exporter.export(None));
    let done = match export.await {
        Ok(Some(done)) => done,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "compliance export skipped: cannot take its lease");
            return;
        }
    };
    match done {
        Ok(report) if report.events > 0 || report.pruned > 0 => tracing::info!(
            events = report.events,
            files = report.files,
            attachments = report.attachments,
            missing_attachments = report.missing_attachments,
            bytes = report.bytes,
            pruned = report.pruned,
            "compliance export"
        ),
        Ok(_) => {}
        Err(ExportError::Busy(lock)) => tracing::info!(
            lock = %lock.display(),
            "compliance export skipped: another export is running"
        ),
        Err(e) => tracing::error!(
            error = %e,
            "compliance export failed; nothing is lost, the next run resumes from the last archived event"
        ),
    }
}
