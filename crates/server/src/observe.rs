//! What the admin listener asks of the server: whether it can serve, and the metrics page
//! with the levels read from the state that owns them at the moment of the scrape.

use std::sync::Arc;

use parlance_metrics::Metrics;
use parlance_store::Store;
use parlance_web::admin::Probe;
use tokio::task::AbortHandle;

use crate::frontend::FrontEnd;
use crate::groupchat::GroupChat;
use crate::transport::Connections;

#[derive(Debug)]
pub(crate) struct Observer {
    pub metrics: Metrics,
    pub store: Store,
    pub connections: Arc<Connections>,
    pub front_end: Arc<FrontEnd>,
    pub groupchat: Arc<GroupChat>,
    /// The listeners' tasks by name: one that ended is a listener down.
    pub listeners: Vec<(&'static str, AbortHandle)>,
}

impl Probe for Observer {
    async fn ready(&self) -> Result<(), String> {
        if let Some((name, _)) = self.listeners.iter().find(|(_, t)| t.is_finished()) {
            return Err(format!("the {name} listener is down"));
        }
        self.store
            .compliance_backlog()
            .await
            .map(drop)
            .map_err(|e| format!("the database does not answer: {e}"))
    }

    async fn metrics(&self) -> String {
        let levels = &self.metrics.levels;
        let (tcp, tls) = self.connections.by_transport();
        levels.connections_tcp.set(gauge(tcp));
        levels.connections_tls.set(gauge(tls));
        levels
            .registrations
            .set(gauge(self.front_end.registrar().bindings()));
        levels
            .chat_dialogs
            .set(gauge(self.groupchat.dialogs().len()));
        levels
            .joined_endpoints
            .set(gauge(self.groupchat.chat().joined_endpoints()));
        // A database that does not answer leaves the last value; /readyz says why.
        match self.store.compliance_backlog().await {
            Ok(n) => {
                levels
                    .outbox_backlog
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            Err(e) => tracing::warn!(error = %e, "compliance backlog not read for the metrics"),
        }
        self.metrics.encode()
    }
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
