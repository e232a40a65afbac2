//! Measuring: one monotonic clock for every task of the process, time stamps carried in the
//! chat text, latency percentiles, and the CPU and memory of a process from `/proc`.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

static BASE: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds on the process-wide monotonic clock.
pub fn now_ns() -> u64 {
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// What a benchmark message says about itself: posted in which phase, by which poster, its
/// number, and when it was sent. Receivers compute the latency from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub phase: usize,
    pub poster: u32,
    pub seq: u64,
    pub sent_ns: u64,
}

impl Stamp {
    /// A stamped text padded with `x` to `size` bytes (the stamp itself is never cut).
    pub fn text(self, size: usize) -> String {
        let mut t = format!(
            "bench {} {} {} {}",
            self.phase, self.poster, self.seq, self.sent_ns
        );
        if t.len() < size {
            t.push(' ');
            t.extend(std::iter::repeat_n('x', size - t.len()));
        }
        t
    }

    /// The stamp in a delivered message's body, read as far as its end and no further: a
    /// lean member looks for the chat text's start (`>bench `) and parses up to the next
    /// tag, leaving the rest of the XCCOS unread.
    pub fn find(body: &[u8]) -> Option<Stamp> {
        const MARK: &[u8] = b">bench ";
        let start = memchr::memmem::find(body, MARK)? + 1;
        let len = memchr::memchr(b'<', &body[start..])?;
        Stamp::parse(std::str::from_utf8(&body[start..start + len]).ok()?)
    }

    pub fn parse(text: &str) -> Option<Stamp> {
        let mut words = text.strip_prefix("bench ")?.split(' ');
        let mut next = || words.next()?.parse::<u64>().ok();
        Some(Stamp {
            phase: usize::try_from(next()?).ok()?,
            poster: u32::try_from(next()?).ok()?,
            seq: next()?,
            sent_ns: next()?,
        })
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn from_durations(samples: &[Duration]) -> Latency {
        let mut latencies = Latencies::default();
        let micros: Vec<u32> = samples
            .iter()
            .map(|d| u32::try_from(d.as_micros()).unwrap_or(u32::MAX))
            .collect();
        latencies.record_micros(&micros);
        latencies.summary()
    }
}

/// Latency samples in microseconds, from 1 µs to `u32::MAX` (71 minutes), kept at three
/// significant digits: percentiles are within 0.1 %, and merging every receiver's samples
/// takes the same memory however long the run.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Latencies(
            Histogram::new_with_bounds(1, u64::from(u32::MAX), 3)
                .expect("bounds and precision are within hdrhistogram's limits"),
        )
    }
}

impl Latencies {
    pub fn record_micros(&mut self, samples: &[u32]) {
        for &micros in samples {
            // Never out of bounds: u32 microseconds are what the histogram spans.
            self.0.saturating_record(u64::from(micros));
        }
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// Adds `other`'s samples to these.
    pub fn add(&mut self, other: &Latencies) {
        self.0
            .add(&other.0)
            .expect("every `Latencies` has the same bounds, so any sample of one fits another");
    }

    pub fn summary(&self) -> Latency {
        let ms = |micros: u64| micros as f64 / 1000.0;
        Latency {
            count: self.0.len() as usize,
            p50_ms: ms(self.0.value_at_quantile(0.50)),
            p90_ms: ms(self.0.value_at_quantile(0.90)),
            p99_ms: ms(self.0.value_at_quantile(0.99)),
            max_ms: ms(self.0.max()),
        }
    }
}

/// Microseconds from `sent_ns` to now.
pub fn micros_since(sent_ns: u64) -> u32 {
    u32::try_from(now_ns().saturating_sub(sent_ns) / 1000).unwrap_or(u32::MAX)
}

/// CPU time and memory of one process, as `/proc` tells them.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    pub at: Option<Instant>,
    /// User plus system time, seconds.
    pub cpu_secs: f64,
    pub rss_kib: u64,
    /// Peak resident set (VmHWM).
    pub hwm_kib: u64,
}

/// Clock ticks per second of `/proc/*/stat`: 100 on every Linux architecture Parlance
/// builds for (USER_HZ is fixed by the kernel ABI).
const TICKS_PER_SEC: f64 = 100.0;

impl ProcSample {
    pub fn read(pid: u32) -> ProcSample {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // utime and stime are fields 14 and 15 of stat.
        let cpu_secs = ticks(&stat_fields(&stat), 11, 12);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        ProcSample {
            at: Some(Instant::now()),
            cpu_secs,
            rss_kib: kib("VmRSS:"),
            hwm_kib: kib("VmHWM:"),
        }
    }

    /// A process and everything it started, still running or not: its own CPU time and
    /// that of its living descendants, plus what the finished ones used (each process's
    /// `cutime` and `cstime` count the children it reaped); their resident sets summed.
    /// PostgreSQL is a postmaster and one backend per connection, and backends come and go.
    pub fn read_tree(root: u32) -> ProcSample {
        let mut tree = vec![root];
        let parents: Vec<(u32, u32)> = processes()
            .filter_map(|(pid, _)| Some((pid, parent_of(pid)?)))
            .collect();
        // Ids wrap, so a child may come before its parent in the list: widen the tree
        // until it stops growing.
        let mut grew = true;
        while grew {
            grew = false;
            for (pid, ppid) in &parents {
                if tree.contains(ppid) && !tree.contains(pid) {
                    tree.push(*pid);
                    grew = true;
                }
            }
        }
        let mut sum = ProcSample {
            at: Some(Instant::now()),
            ..ProcSample::default()
        };
        for pid in tree {
            let own = ProcSample::read(pid);
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            sum.cpu_secs += own.cpu_secs + ticks(&stat_fields(&stat), 13, 14);
            sum.rss_kib += own.rss_kib;
            sum.hwm_kib += own.hwm_kib;
        }
        sum
    }

    /// Several processes as one: CPU times and resident sets added (the high-water marks
    /// too, which bounds the peak of the whole from above).
    pub fn sum(samples: impl IntoIterator<Item = ProcSample>) -> ProcSample {
        samples
            .into_iter()
            .fold(ProcSample::default(), |total, s| ProcSample {
                at: total.at.or(s.at),
                cpu_secs: total.cpu_secs + s.cpu_secs,
                rss_kib: total.rss_kib + s.rss_kib,
                hwm_kib: total.hwm_kib + s.hwm_kib,
            })
    }

    /// CPU seconds used between `self` and `later`.
    pub fn cpu_secs_until(&self, later: &ProcSample) -> f64 {
        later.cpu_secs - self.cpu_secs
    }

    /// CPU used between `self` and `later`, in percent of one core.
    pub fn cpu_percent(&self, later: &ProcSample) -> f64 {
        match (self.at, later.at) {
            (Some(a), Some(b)) if b > a => {
                100.0 * (later.cpu_secs - self.cpu_secs) / (b - a).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

/// Every process's id and its directory in `/proc`.
pub fn processes() -> impl Iterator<Item = (u32, PathBuf)> {
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    entries.filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
}

/// The parent of a process (`None` once it is gone).
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_fields(&stat).get(1)?.parse().ok()
}

/// The fields of `/proc/<pid>/stat` after the parenthesised command name (which may itself
/// hold spaces): the first is field 3, the state.
fn stat_fields(stat: &str) -> Vec<&str> {
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after.split_whitespace().collect()
}

/// Two clock-tick fields of [`stat_fields`] added, in seconds.
fn ticks(fields: &[&str], a: usize, b: usize) -> f64 {
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(a) + tick(b)) / TICKS_PER_SEC
}

/// What serves the load, sampled at one moment: the server (every node's process added up)
/// and, apart, the engines a pool runs on, whose CPU is part of what the deployment costs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub server: ProcSample,
    /// PostgreSQL's processes; `None` where the store is SQLite, or where PostgreSQL's
    /// processes are not on this machine.
    pub postgres: Option<ProcSample>,
    /// The nats-server process, likewise.
    pub nats: Option<ProcSample>,
}

impl From<ProcSample> for Sample {
    fn from(server: ProcSample) -> Sample {
        Sample {
            server,
            ..Sample::default()
        }
    }
}

/// `a / b`, and 0 where `b` is none (a phase too short for one CPU tick).
pub fn per(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// PostgreSQL's and NATS's part of a span's cost, beside the server's: `None` where the
/// process was not measured.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EngineCpu {
    pub postgres_cpu_pct: Option<f64>,
    pub nats_cpu_pct: Option<f64>,
    pub postgres_us_per_delivery: Option<f64>,
    pub nats_us_per_delivery: Option<f64>,
    /// Deliveries per CPU-second of the server, PostgreSQL and NATS together: what the
    /// whole deployment spends.
    pub deliveries_per_deployment_cpu_s: f64,
}

impl EngineCpu {
    /// The engines' CPU from `before` to `after`, over which `deliveries` were made;
    /// `None` where the deployment has no engines.
    pub fn between(before: &Sample, after: &Sample, deliveries: u64) -> Option<EngineCpu> {
        let postgres = before.postgres.zip(after.postgres);
        let nats = before.nats.zip(after.nats);
        if postgres.is_none() && nats.is_none() {
            return None;
        }
        let secs = |span: Option<(ProcSample, ProcSample)>| span.map(|(a, b)| a.cpu_secs_until(&b));
        let pct = |span: Option<(ProcSample, ProcSample)>| span.map(|(a, b)| a.cpu_percent(&b));
        let deliveries = deliveries as f64;
        let us = |s: Option<f64>| s.map(|s| per(s * 1e6, deliveries));
        let all = before.server.cpu_secs_until(&after.server)
            + secs(postgres).unwrap_or(0.0)
            + secs(nats).unwrap_or(0.0);
        Some(EngineCpu {
            postgres_cpu_pct: pct(postgres),
            nats_cpu_pct: pct(nats),
            postgres_us_per_delivery: us(secs(postgres)),
            nats_us_per_delivery: us(secs(nats)),
            deliveries_per_deployment_cpu_s: per(deliveries, all),
        })
    }
}

/// In a pool: deliveries to members on the poster's own node, and to members on the other
/// nodes, which went through the relay (NATS and the other node's relay loop); what the
/// relay added is the difference of their percentiles.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RelayLatency {
    pub local: Latency,
    pub crossed: Latency,
    pub extra_p50_ms: f64,
    pub extra_p99_ms: f64,
}

impl RelayLatency {
    /// `None` when nothing crossed: a single server.
    pub fn of(local: &Latencies, crossed: &Latencies) -> Option<RelayLatency> {
        if crossed.count() == 0 {
            return None;
        }
        let (local, crossed) = (local.summary(), crossed.summary());
        Some(RelayLatency {
            local,
            crossed,
            extra_p50_ms: crossed.p50_ms - local.p50_ms,
            extra_p99_ms: crossed.p99_ms - local.p99_ms,
        })
    }
}

/// How often [`PeakRss`] reads the resident set.
const RSS_EVERY: Duration = Duration::from_millis(10);

/// The peak resident set of a process over a span of time. The kernel's high-water mark
/// (VmHWM) is reset at the start (`/proc/<pid>/clear_refs`, Linux 4.0) so that it covers
/// the span alone; where that is not allowed, samples every [`RSS_EVERY`] stand in.
#[derive(Debug)]
pub struct PeakRss {
    pid: u32,
    hwm_reset: bool,
    stop: watch::Sender<bool>,
    sampler: JoinHandle<u64>,
}

impl PeakRss {
    pub fn start(pid: u32) -> PeakRss {
        let hwm_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        let (stop, mut stopped) = watch::channel(false);
        let sampler = tokio::spawn(async move {
            let mut peak = 0;
            loop {
                peak = peak.max(ProcSample::read(pid).rss_kib);
                tokio::select! {
                    _ = stopped.changed() => return peak,
                    () = tokio::time::sleep(RSS_EVERY) => {}
                }
            }
        });
        PeakRss {
            pid,
            hwm_reset,
            stop,
            sampler,
        }
    }

    /// The peak since [`PeakRss::start`], in KiB.
    pub async fn stop(self) -> u64 {
        let _ = self.stop.send(true);
        let sampled = self.sampler.await.unwrap_or(0);
        let now = ProcSample::read(self.pid);
        let hwm = if self.hwm_reset { now.hwm_kib } else { 0 };
        sampled.max(now.rss_kib).max(hwm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_latencies_hold_both_sets_of_samples() {
        let (mut fast, mut slow) = (Latencies::default(), Latencies::default());
        fast.record_micros(&[1_000; 99]);
        slow.record_micros(&[200_000]);
        fast.add(&slow);
        let all = fast.summary();
        assert_eq!(all.count, 100);
        assert!((all.p90_ms - 1.0).abs() < 0.01, "{all:?}");
        assert!((all.max_ms - 200.0).abs() < 0.2, "{all:?}");
        assert_eq!(slow.count(), 1, "the added set stays as it was");
    }

    #[test]
    fn stamps_survive_padding() {
        let s = Stamp {
            phase: 1,
            poster: 3,
            seq: 42,
            sent_ns: 123_456,
        };
        let text = s.text(100);
        assert_eq!(text.len(), 100);
        assert_eq!(Stamp::parse(&text), Some(s));
        assert_eq!(Stamp::parse(&s.text(5)), Some(s));
        assert_eq!(Stamp::parse("hello"), None);
        let body = format!(
            "<xccos><grpchat chanUri=\"parlance bench \"><chat>{text}</chat></grpchat></xccos>"
        );
        assert_eq!(Stamp::find(body.as_bytes()), Some(s));
        assert_eq!(Stamp::find(b"<chat>bench 1 2 3</chat>"), None, "cut short");
    }

    #[test]
    fn percentiles_within_three_significant_digits() {
        let samples: Vec<u32> = (1..=1000).rev().map(|ms| ms * 1000).collect();
        let mut latencies = Latencies::default();
        latencies.record_micros(&samples);
        let l = latencies.summary();
        assert_eq!(l.count, 1000);
        for (got, want) in [
            (l.p50_ms, 500.0),
            (l.p90_ms, 900.0),
            (l.p99_ms, 990.0),
            (l.max_ms, 1000.0),
        ] {
            assert!((got - want).abs() <= want / 1000.0, "{got} for {want}");
        }
        assert_eq!(Latencies::default().summary().count, 0);
        let small = Latency::from_durations(&[Duration::from_micros(1500); 3]);
        assert_eq!((small.count, small.p99_ms), (3, 1.5));
    }

    #[tokio::test]
    async fn a_peak_covers_what_was_touched_meanwhile() {
        let peak = PeakRss::start(std::process::id());
        let before = ProcSample::read(std::process::id()).rss_kib;
        // 64 MiB written, so resident, held while the sampler runs (in case the high-water
        // mark may not be reset), then freed before the peak is read.
        let touched = vec![1u8; 64 << 20];
        assert_eq!(touched.iter().map(|b| u64::from(*b)).sum::<u64>(), 64 << 20);
        tokio::time::sleep(RSS_EVERY * 5).await;
        drop(touched);
        let peak = peak.stop().await;
        assert!(
            peak >= before + (60 << 10),
            "{peak} KiB, {before} KiB before"
        );
    }

    #[test]
    fn a_tree_counts_its_children_living_and_finished() {
        let me = std::process::id();
        // A child that burns CPU and ends: reaped, its time is in our cutime/cstime.
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let alone = ProcSample::read(me);
        let tree = ProcSample::read_tree(me);
        assert!(
            tree.cpu_secs > alone.cpu_secs,
            "{} s with the child, {} s alone",
            tree.cpu_secs,
            alone.cpu_secs
        );
        let both = ProcSample::sum([alone, alone]);
        assert_eq!(both.rss_kib, 2 * alone.rss_kib);
        assert!((both.cpu_secs - 2.0 * alone.cpu_secs).abs() < 1e-9);
    }

    #[test]
    fn this_process_is_measured() {
        let s = ProcSample::read(std::process::id());
        assert!(s.rss_kib > 0 && s.hwm_kib >= s.rss_kib);
    }
}
