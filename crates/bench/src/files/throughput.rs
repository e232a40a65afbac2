//! Throughput: the same file up and then down each way, round after round, the ways
//! interleaved so that the machine's noise falls on all three alike. A transfer is timed
//! from connecting to its last answer (tokens are got before, over XCCOS, as a client gets
//! them before it starts); meanwhile the CPU of both processes and the peak memory of the
//! one serving it are measured. Every download is checked against what was sent.

use std::net::IpAddr;
use std::time::Instant;

use parlance_client::Client;
use serde::Serialize;

use super::bare;
use super::https::{Connection, Content, Received};
use super::ways::{Soap, Way, get, plain_path, put};
use crate::baseline::Baseline;
use crate::error::BenchError;
use crate::measure::{PeakRss, ProcSample};
use crate::target::Target;
use crate::wire::Dialer;

/// The original file name the tokens are asked for.
pub const FILE_NAME: &str = "bench.bin";

/// Bytes in a megabyte, as the rates count them.
pub const MB: u64 = 1_000_000;

/// What the rounds need: both servers, and a signed-in client of the server for tokens.
#[derive(Debug)]
pub struct Rounds<'a> {
    pub target: &'a Target,
    pub bare: &'a Baseline,
    pub client: &'a Client,
    pub room_uri: &'a str,
    pub room_guid: &'a str,
    pub dialer: &'a Dialer,
    /// The loopback address connections come from.
    pub from: IpAddr,
    pub content: &'a Content,
}

/// One way's uploads and downloads over every round.
#[derive(Debug, Clone)]
pub struct Measured {
    pub way: Way,
    pub upload: Summary,
    pub download: Summary,
}

/// One way and direction over every round.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub rounds: usize,
    pub bytes: u64,
    /// The median over the rounds, then the slowest and the fastest.
    pub mb_per_s: f64,
    pub mb_per_s_min: f64,
    pub mb_per_s_max: f64,
    /// Medians: the CPU of the process serving the transfer and of this one, in percent of
    /// one core.
    pub server_cpu_pct: f64,
    pub bench_cpu_pct: f64,
    /// The highest over the rounds of the serving process's peak RSS during a transfer,
    /// above its RSS before the first round.
    pub peak_rss_above_idle_mib: f64,
    /// Downloads whose bytes were checked (SHA-256) against what was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<usize>,
}

/// One transfer.
#[derive(Debug, Clone, Copy)]
struct Sample {
    secs: f64,
    server_cpu_pct: f64,
    bench_cpu_pct: f64,
    peak_rss_kib: u64,
}

impl Rounds<'_> {
    /// `rounds` rounds of every way; results in [`Way::ALL`]'s order.
    pub async fn measure(&self, rounds: usize) -> Result<Vec<Measured>, BenchError> {
        let idle = Way::ALL.map(|way| ProcSample::read(self.pid(way)).rss_kib);
        let mut samples: Vec<[Vec<Sample>; 2]> =
            Way::ALL.iter().map(|_| Default::default()).collect();
        for round in 0..rounds {
            for (i, way) in Way::ALL.into_iter().enumerate() {
                let (up, down) = self.round_trip(way, round).await?;
                samples[i][0].push(up);
                samples[i][1].push(down);
            }
        }
        let len = self.content.len();
        Ok(Way::ALL
            .into_iter()
            .zip(samples)
            .zip(idle)
            .map(|((way, [up, down]), idle)| Measured {
                way,
                upload: summary(&up, len, idle, None),
                download: summary(&down, len, idle, Some(down.len())),
            })
            .collect())
    }

    /// The process that serves `way`.
    fn pid(&self, way: Way) -> u32 {
        match way {
            Way::Bare => self.bare.pid(),
            Way::Plain | Way::Soap => self.target.pid(),
        }
    }

    /// Uploads the content, downloads it again and checks it.
    async fn round_trip(&self, way: Way, round: usize) -> Result<(Sample, Sample), BenchError> {
        let pid = self.pid(way);
        let ticket = self.upload_ticket(way, round).await?;
        let (name, up) = timed(pid, self.upload(way, &ticket)).await?;
        let ticket = self.download_ticket(way, &name).await?;
        let (received, down) = timed(pid, self.download(way, &ticket, &name)).await?;
        received.check(self.content, &format!("{} download", way.name()))?;
        Ok((up, down))
    }

    /// What an upload presents: a token of the service, or the bare server's file name.
    async fn upload_ticket(&self, way: Way, round: usize) -> Result<String, BenchError> {
        Ok(match way {
            Way::Bare => format!("round{round}.bin"),
            Way::Plain | Way::Soap => {
                self.client
                    .upload_token(self.room_uri, FILE_NAME)
                    .await?
                    .token
            }
        })
    }

    /// What a download of file `name` presents.
    async fn download_ticket(&self, way: Way, name: &str) -> Result<String, BenchError> {
        Ok(match way {
            Way::Bare => name.to_owned(),
            Way::Plain | Way::Soap => self.client.download_token(self.room_uri, name).await?.token,
        })
    }

    /// Stores the content; the name it was stored under.
    async fn upload(&self, way: Way, ticket: &str) -> Result<String, BenchError> {
        let mut conn = self.connect(way).await?;
        let bytes = self.content.bytes.clone();
        match way {
            Way::Bare => put(&mut conn, &bare::path(ticket), bytes, None).await,
            Way::Plain => put(&mut conn, &plain_path(ticket), bytes, None).await,
            Way::Soap => Soap::new(conn, ticket, self.room_guid).upload(&bytes).await,
        }
    }

    async fn download(&self, way: Way, ticket: &str, name: &str) -> Result<Received, BenchError> {
        let mut conn = self.connect(way).await?;
        match way {
            Way::Bare => get(&mut conn, &bare::path(ticket)).await,
            Way::Plain => get(&mut conn, &plain_path(ticket)).await,
            Way::Soap => Soap::new(conn, ticket, self.room_guid).download(name).await,
        }
    }

    async fn connect(&self, way: Way) -> Result<Connection, BenchError> {
        let to = match way {
            Way::Bare => self.bare.addr,
            Way::Plain | Way::Soap => self.target.https_addr,
        };
        Connection::open(self.dialer, self.from, to).await
    }
}

/// Runs `work`, timing it and measuring the CPU of both processes and the peak memory of
/// process `pid` meanwhile.
async fn timed<T>(
    pid: u32,
    work: impl Future<Output = Result<T, BenchError>>,
) -> Result<(T, Sample), BenchError> {
    let peak = PeakRss::start(pid);
    let server = ProcSample::read(pid);
    let bench = ProcSample::read(std::process::id());
    let started = Instant::now();
    let out = work.await?;
    let secs = started.elapsed().as_secs_f64();
    let sample = Sample {
        secs,
        server_cpu_pct: server.cpu_percent(&ProcSample::read(pid)),
        bench_cpu_pct: bench.cpu_percent(&ProcSample::read(std::process::id())),
        peak_rss_kib: peak.stop().await,
    };
    Ok((out, sample))
}

fn summary(samples: &[Sample], bytes: u64, idle_kib: u64, verified: Option<usize>) -> Summary {
    let rates: Vec<f64> = samples
        .iter()
        .map(|s| bytes as f64 / MB as f64 / s.secs.max(1e-9))
        .collect();
    let peak_kib = samples.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0);
    Summary {
        rounds: samples.len(),
        bytes,
        mb_per_s: median(&rates),
        mb_per_s_min: rates.iter().copied().reduce(f64::min).unwrap_or(0.0),
        mb_per_s_max: rates.iter().copied().reduce(f64::max).unwrap_or(0.0),
        server_cpu_pct: median(&samples.iter().map(|s| s.server_cpu_pct).collect::<Vec<_>>()),
        bench_cpu_pct: median(&samples.iter().map(|s| s.bench_cpu_pct).collect::<Vec<_>>()),
        peak_rss_above_idle_mib: peak_kib.saturating_sub(idle_kib) as f64 / 1024.0,
        verified,
    }
}

/// The middle value (the mean of the two middle ones for an even count); 0 for none.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn a_summary_rates_megabytes_per_second_and_memory_above_idle() {
        let sample = |secs, peak_rss_kib| Sample {
            secs,
            server_cpu_pct: 50.0,
            bench_cpu_pct: 80.0,
            peak_rss_kib,
        };
        let s = summary(
            &[
                sample(2.0, 30_000),
                sample(1.0, 20_000),
                sample(4.0, 10_000),
            ],
            100 * MB,
            10_240,
            Some(3),
        );
        assert_eq!(
            (s.mb_per_s, s.mb_per_s_min, s.mb_per_s_max),
            (50.0, 25.0, 100.0)
        );
        assert_eq!(s.peak_rss_above_idle_mib, (30_000.0 - 10_240.0) / 1024.0);
        assert_eq!((s.rounds, s.verified), (3, Some(3)));
    }
}
