//! Measuring: one monotonic clock for every task of the process, time stamps carried in the
//! chat text, latency percentiles, and the CPU and memory of a process from `/proc`.

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
        // Fields after the parenthesised command name, which may itself hold spaces.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of stat; `after` starts at field 3.
        let cpu_secs = (tick(11) + tick(12)) / TICKS_PER_SEC;
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
    fn this_process_is_measured() {
        let s = ProcSample::read(std::process::id());
        assert!(s.rss_kib > 0 && s.hwm_kib >= s.rss_kib);
    }
}
