//! What the server counts and measures, and its encoding in the Prometheus text format.
//!
//! Two kinds of numbers live here. Counters and histograms are moved where things happen
//! (a post stored, a delivery queued, a sign-in refused): a counter is one atomic add, so
//! the delivery path pays no lock and no allocation for it. Levels (open connections,
//! registrations, dialogs, joined endpoints, the compliance backlog) are not tracked as
//! they change: whoever owns the state reports it when Prometheus scrapes, through the
//! gauges of [`Levels`], so the paths that change them pay nothing at all.
//!
//! The crate knows no sockets and no SIP: the chat core and the server each move the
//! numbers they see, and the admin listener asks [`Metrics::encode`] for the page.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
pub use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// Every metric of one server, cheap to clone (each metric is shared).
#[derive(Clone)]
pub struct Metrics {
    /// Messages posted to rooms and stored.
    pub posts: Counter,
    /// XCCOS bodies queued for a chat session (one per member a post or notice reaches).
    pub deliveries: Counter,
    /// From a post's arrival in the chat core to its deliveries queued on the connections.
    pub delivery_latency: Histogram,
    /// How long the store took to write a post (the single writer's share of a post).
    pub store_write_latency: Histogram,
    /// Connections closed because their write queue was full (the peer did not read).
    pub write_queue_drops: Counter,
    /// Sign-ins refused for a wrong password or an unknown account (SIP and web).
    pub auth_failures: Counter,
    /// Steps of file transfers that waited for chat output to go out (be written and
    /// answered) first.
    pub file_transfer_waits: Counter,
    /// Those waits that ended at their limit, the chat output still queued.
    pub file_transfer_waits_at_limit: Counter,
    pub levels: Levels,
    registry: Arc<Registry>,
}

/// The gauges set when scraped, from the state that owns them.
#[derive(Clone, Default)]
pub struct Levels {
    pub connections_tcp: Gauge,
    pub connections_tls: Gauge,
    pub registrations: Gauge,
    pub chat_dialogs: Gauge,
    pub joined_endpoints: Gauge,
    /// Compliance outbox rows not yet exported.
    pub outbox_backlog: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Levels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Levels").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Latency buckets from 100 µs to about 6.5 s, doubling: a post on an idle server takes
/// well under a millisecond, one behind a busy writer can take seconds.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut metrics = Metrics {
            posts: Counter::default(),
            deliveries: Counter::default(),
            delivery_latency: latency_buckets(),
            store_write_latency: latency_buckets(),
            write_queue_drops: Counter::default(),
            auth_failures: Counter::default(),
            file_transfer_waits: Counter::default(),
            file_transfer_waits_at_limit: Counter::default(),
            levels: Levels::default(),
            registry: Arc::default(),
        };
        let mut registry = Registry::with_prefix("parlance");
        registry.register("posts", "Messages posted to rooms", metrics.posts.clone());
        registry.register(
            "deliveries",
            "XCCOS bodies queued for chat sessions",
            metrics.deliveries.clone(),
        );
        registry.register_with_unit(
            "delivery_latency",
            "From a post's arrival to its deliveries queued on the connections",
            Unit::Seconds,
            metrics.delivery_latency.clone(),
        );
        registry.register_with_unit(
            "store_write_latency",
            "How long the store took to write a post",
            Unit::Seconds,
            metrics.store_write_latency.clone(),
        );
        registry.register(
            "write_queue_drops",
            "Connections closed because the peer did not read its write queue",
            metrics.write_queue_drops.clone(),
        );
        registry.register(
            "auth_failures",
            "Sign-ins refused (wrong password or unknown account)",
            metrics.auth_failures.clone(),
        );
        for (name, help, counter) in [
            (
                "file_transfer_waits",
                "Steps of file transfers that waited for chat output to go out first",
                &metrics.file_transfer_waits,
            ),
            (
                "file_transfer_waits_at_limit",
                "File transfer waits ended by files.yield_to_chat_ms, chat output still queued",
                &metrics.file_transfer_waits_at_limit,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        let l = &metrics.levels;
        for (transport, gauge) in [("tcp", &l.connections_tcp), ("tls", &l.connections_tls)] {
            registry
                .sub_registry_with_label(("transport".into(), transport.into()))
                .register("connections", "Open SIP connections", gauge.clone());
        }
        registry.register(
            "registrations",
            "Registered SIP endpoints",
            l.registrations.clone(),
        );
        registry.register(
            "chat_dialogs",
            "Open dialogs with the chat service",
            l.chat_dialogs.clone(),
        );
        registry.register(
            "joined_endpoints",
            "Chat sessions joined to rooms, counted once per room",
            l.joined_endpoints.clone(),
        );
        registry.register(
            "outbox_backlog",
            "Compliance outbox rows not yet exported",
            l.outbox_backlog.clone(),
        );
        metrics.registry = Arc::new(registry);
        metrics
    }

    /// The page Prometheus scrapes, as the numbers stand now.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_on_the_page_and_moves() {
        let metrics = Metrics::new();
        metrics.posts.inc();
        metrics.deliveries.inc_by(3);
        metrics.delivery_latency.observe(0.002);
        metrics.levels.connections_tls.set(2);
        let page = metrics.encode();
        for line in [
            "parlance_posts_total 1",
            "parlance_deliveries_total 3",
            "parlance_delivery_latency_seconds_count 1",
            "parlance_store_write_latency_seconds_count 0",
            "parlance_write_queue_drops_total 0",
            "parlance_auth_failures_total 0",
            "parlance_connections{transport=\"tls\"} 2",
            "parlance_connections{transport=\"tcp\"} 0",
            "parlance_registrations 0",
            "parlance_chat_dialogs 0",
            "parlance_joined_endpoints 0",
            "parlance_outbox_backlog 0",
        ] {
            assert!(page.lines().any(|l| l == line), "{line} missing in\n{page}");
        }
        assert!(page.ends_with("# EOF\n"));
    }
}
