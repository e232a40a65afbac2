//! The work of which a pool runs one copy at a time: each run holds the work's lease in the
//! store, taken with one conditional statement that exactly one of several takers wins,
//! and renewed while the run lasts. A run that finds the lease held skips: the holder does
//! the work. A holder that dies stops renewing, and its lease expires a node timeout later.
//! `parlance compliance export` takes the exporter's lease too, so that it never runs
//! beside a server's export.

use std::future::Future;
use std::time::Duration;

use parlance_store::{Store, StoreError};

/// One singleton task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Singleton {
    /// The compliance exporter: one writer of the archive and its cursor.
    ComplianceExport,
    /// The cleaner of uploads whose tokens expired, and of spent tokens.
    UploadCleaner,
}

impl Singleton {
    /// The lease's name in the store.
    pub fn lease(self) -> &'static str {
        match self {
            Singleton::ComplianceExport => "compliance-export",
            Singleton::UploadCleaner => "upload-cleaner",
        }
    }
}

/// Runs singleton work under its lease, as one holder.
#[derive(Debug, Clone)]
pub struct Singletons {
    store: Store,
    /// A node id, or a command's own name.
    holder: String,
    /// How long a lease lasts unrenewed: how soon another takes over from a dead holder.
    ttl: Duration,
}

impl Singletons {
    pub fn new(store: Store, holder: String, ttl: Duration) -> Singletons {
        Singletons { store, holder, ttl }
    }

    /// Runs `work` if this holder takes `singleton`'s lease, renewing it meanwhile, and
    /// lets it go after. `Ok(None)`: another holder has it (named in the log).
    pub async fn run<F: Future>(
        &self,
        singleton: Singleton,
        work: F,
    ) -> Result<Option<F::Output>, StoreError> {
        let name = singleton.lease();
        if !self.take(name).await? {
            return Ok(None);
        }
        let renewing = self.clone();
        let renewal = tokio::spawn(async move {
            let mut tick = tokio::time::interval(renewing.ttl / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                match renewing.take(name).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(lease = name, "lease lost while its work ran");
                        return;
                    }
                    Err(e) => tracing::warn!(lease = name, error = %e, "cannot renew a lease"),
                }
            }
        });
        let done = work.await;
        renewal.abort();
        if let Err(e) = self.store.release_lease(name, &self.holder).await {
            // It expires on its own.
            tracing::warn!(lease = name, error = %e, "cannot release a lease");
        }
        Ok(Some(done))
    }

    /// Who holds `singleton`'s lease now, if anyone but this holder.
    pub async fn other_holder(&self, singleton: Singleton) -> Result<Option<String>, StoreError> {
        let now = unix_ms();
        Ok(self
            .store
            .leases()
            .await?
            .into_iter()
            .find(|l| l.name == singleton.lease() && l.expires_at > now && l.holder != self.holder)
            .map(|l| l.holder))
    }

    async fn take(&self, name: &str) -> Result<bool, StoreError> {
        let now = unix_ms();
        let until = now.saturating_add(self.ttl.as_millis() as i64);
        self.store
            .acquire_lease(name, &self.holder, now, until)
            .await
    }
}

/// Unix milliseconds on the system clock: leases and heartbeats are compared across nodes,
/// so the nodes' clocks must agree (NTP) to well within the node timeout.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
