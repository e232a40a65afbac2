//! Counting deliveries: what every receiver of a room shares (counts per phase, the
//! posters' echoes), what each one records on its own (a [`Tally`], so that receivers never
//! contend over one set of samples), and all tallies merged into [`Deliveries`] once the
//! receivers stop. Every scenario that measures deliveries in a room counts them here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::error::BenchError;
use crate::fanout::PhaseResult;
use crate::measure::{EngineCpu, Latencies, RelayLatency, Stamp, micros_since, now_ns, per};
use crate::window::Window;

/// Phases a room's receivers tell apart. In fan-out, phase 0 posts at the set rate and
/// phase 1 as fast as the closed-loop posters go; the files scenario paces both.
pub const PHASES: usize = 2;

/// What every receiver shares: delivery counts per phase, and where posters hear their echo.
pub struct Shared {
    delivered: [AtomicU64; PHASES],
    echoes: Vec<mpsc::UnboundedSender<u64>>,
}

impl Shared {
    /// Deliveries of `phase` so far.
    pub fn delivered(&self, phase: usize) -> u64 {
        self.delivered[phase].load(Ordering::Relaxed)
    }

    /// Deliveries of every phase so far.
    pub fn delivered_all(&self) -> u64 {
        self.delivered
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .sum()
    }
}

/// What the receivers of a room share, and one echo channel for each of `posters`: the
/// `i`-th poster hears its own messages come back on the `i`-th.
pub fn shared(posters: usize) -> (Arc<Shared>, Vec<mpsc::UnboundedReceiver<u64>>) {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..posters).map(|_| mpsc::unbounded_channel()).unzip();
    (
        Arc::new(Shared {
            delivered: Default::default(),
            echoes: txs,
        }),
        rxs,
    )
}

/// Where a member of a pool is: its node, of how many. Members and posters alike are spread
/// over the nodes in turn (the `i`-th on node `i mod nodes`), so a delivery crossed the
/// relay between nodes when its poster's number falls on another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub node: u32,
    pub nodes: u32,
}

impl Place {
    /// The place of the `i`-th of members spread over `nodes`.
    pub fn of(i: usize, nodes: usize) -> Place {
        let nodes = nodes.max(1);
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        Place {
            node: n(i % nodes),
            nodes: n(nodes),
        }
    }

    fn crossed(self, poster: u32) -> bool {
        poster % self.nodes.max(1) != self.node
    }
}

/// One receiver's samples (microseconds) and its last arrival, per phase; samples of
/// deliveries from posters on the receiver's own node and from other nodes apart.
#[derive(Default)]
pub struct Tally {
    /// Where the receiver is, in a pool.
    place: Option<Place>,
    local: [Vec<u32>; PHASES],
    crossed: [Vec<u32>; PHASES],
    last_ns: [u64; PHASES],
}

impl Tally {
    /// The tally of a member at `place` (`None`: a single server).
    pub fn at(place: Option<Place>) -> Tally {
        Tally {
            place,
            ..Tally::default()
        }
    }

    /// One delivery to a member that posts as `own` (if it posts).
    pub fn record(&mut self, stamp: Stamp, own: Option<u32>, shared: &Shared) {
        if stamp.phase >= PHASES {
            return;
        }
        let micros = micros_since(stamp.sent_ns);
        match self.place {
            Some(place) if place.crossed(stamp.poster) => self.crossed[stamp.phase].push(micros),
            _ => self.local[stamp.phase].push(micros),
        }
        self.last_ns[stamp.phase] = now_ns();
        shared.delivered[stamp.phase].fetch_add(1, Ordering::Relaxed);
        if own == Some(stamp.poster)
            && let Some(echo) = shared.echoes.get(stamp.poster as usize)
        {
            let _ = echo.send(stamp.seq);
        }
    }
}

/// Every receiver's samples, per phase: the latencies (all, from posters on the
/// receiver's node, from posters on others), and the last arrival.
#[derive(Debug)]
pub struct Deliveries {
    latencies: [Latencies; PHASES],
    local: [Latencies; PHASES],
    crossed: [Latencies; PHASES],
    last_ns: [u64; PHASES],
}

impl Deliveries {
    /// The latencies of `phase`, and its last arrival.
    pub fn phase(&self, phase: usize) -> (&Latencies, u64) {
        (&self.latencies[phase], self.last_ns[phase])
    }

    /// What the relay between nodes added in `phase`; `None` on a single server.
    pub fn relay(&self, phase: usize) -> Option<RelayLatency> {
        RelayLatency::of(&self.local[phase], &self.crossed[phase])
    }

    /// The latencies of every phase together, and the last arrival of any.
    pub fn all(&self) -> (Latencies, u64) {
        let mut all = Latencies::default();
        self.latencies.iter().for_each(|l| all.add(l));
        (all, self.last_ns.iter().copied().max().unwrap_or(0))
    }

    /// What the relay between nodes added over every phase; `None` on a single server.
    pub fn relay_all(&self) -> Option<RelayLatency> {
        let (mut local, mut crossed) = (Latencies::default(), Latencies::default());
        self.local.iter().for_each(|l| local.add(l));
        self.crossed.iter().for_each(|l| crossed.add(l));
        RelayLatency::of(&local, &crossed)
    }

    /// What `window` measured.
    pub fn result(&self, window: &Window) -> PhaseResult {
        let delivery = &self.latencies[window.phase];
        let count = delivery.count();
        let expected = window.posts * window.members;
        let secs = self.last_ns[window.phase].saturating_sub(window.start_ns) as f64 / 1e9;
        let (before, after) = (&window.server.0, &window.server.1);
        let server_cpu_s = before.server.cpu_secs_until(&after.server);
        let bench_cpu_s = window.bench.0.cpu_secs_until(&window.bench.1);
        PhaseResult {
            posts: window.posts,
            deliveries: count,
            delivered_pct: if expected > 0 {
                100.0 * count as f64 / expected as f64
            } else {
                0.0
            },
            deliveries_per_s: if secs > 0.0 { count as f64 / secs } else { 0.0 },
            latency: delivery.summary(),
            server_cpu_pct: before.server.cpu_percent(&after.server),
            bench_cpu_pct: window.bench.0.cpu_percent(&window.bench.1),
            deliveries_per_server_cpu_s: per(count as f64, server_cpu_s),
            server_us_per_delivery: per(server_cpu_s * 1e6, count as f64),
            bench_us_per_delivery: per(bench_cpu_s * 1e6, count as f64),
            engines: EngineCpu::between(before, after, count),
            relay: self.relay(window.phase),
        }
    }
}

/// Stops the receivers and merges their samples.
pub async fn gather(
    receivers: Vec<JoinHandle<Tally>>,
    stop: watch::Sender<bool>,
) -> Result<Deliveries, BenchError> {
    let _ = stop.send(true);
    let mut deliveries = Deliveries {
        latencies: Default::default(),
        local: Default::default(),
        crossed: Default::default(),
        last_ns: [0; PHASES],
    };
    for r in receivers {
        let tally = r
            .await
            .map_err(|e| BenchError::Failed(format!("a receiver failed: {e}")))?;
        for p in 0..PHASES {
            for micros in [&tally.local[p], &tally.crossed[p]] {
                deliveries.latencies[p].record_micros(micros);
            }
            deliveries.local[p].record_micros(&tally.local[p]);
            deliveries.crossed[p].record_micros(&tally.crossed[p]);
            deliveries.last_ns[p] = deliveries.last_ns[p].max(tally.last_ns[p]);
        }
    }
    Ok(deliveries)
}
