//! The phases of posting in one room: paced (open loop, posts on schedule) and closed loop
//! (each poster waits for its own message to come back), each waiting for its deliveries
//! before it ends; any [`Poster`] drives them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{FanoutArgs, PhaseResult};
use crate::delivery::{Shared, Tally, gather};
use crate::error::BenchError;
use crate::measure::{Sample, Stamp, now_ns};
use crate::posters::Poster;
use crate::window::{Mark, Window};

/// How long deliveries may trail the last post before the rest count as lost.
const DRAIN: Duration = Duration::from_secs(10);
/// How long a closed-loop poster waits for its own message to come back.
const ECHO_WAIT: Duration = Duration::from_secs(10);

/// Phases of posting in one room, and what each measured.
pub struct Run<'a> {
    args: &'a FanoutArgs,
    shared: &'a Shared,
    members: u64,
}

impl<'a> Run<'a> {
    pub fn new(args: &'a FanoutArgs, shared: &'a Shared, members: usize) -> Run<'a> {
        Run {
            args,
            shared,
            members: members as u64,
        }
    }

    /// The paced phase, the closed-loop phase (unless no posters), then every receiver's
    /// samples gathered.
    pub async fn phases<P: Poster>(
        &self,
        posters: &[Arc<P>],
        echo_rx: Vec<mpsc::UnboundedReceiver<u64>>,
        receivers: Vec<JoinHandle<Tally>>,
        stop: watch::Sender<bool>,
        sample: impl Fn() -> Sample,
    ) -> Result<(PhaseResult, Option<PhaseResult>), BenchError> {
        let paced = self.paced_window(posters, 0, &sample).await;
        let mut saturated = None;
        if self.args.posters > 0 {
            let start = Mark::now(&sample);
            let posts = self.closed_loop(posters, echo_rx, self.duration()).await?;
            self.drain(1, posts).await;
            saturated = Some(start.window(1, self.members, posts, &sample));
        }
        let deliveries = gather(receivers, stop).await?;
        Ok((
            deliveries.result(&paced),
            saturated.map(|w| deliveries.result(&w)),
        ))
    }

    fn duration(&self) -> Duration {
        Duration::from_secs(self.args.duration)
    }

    /// Posts on schedule as phase `phase`, then waits for the deliveries.
    pub async fn paced_window<P: Poster>(
        &self,
        posters: &[Arc<P>],
        phase: usize,
        sample: impl Fn() -> Sample,
    ) -> Window {
        let start = Mark::now(&sample);
        let posts = self.paced(posters, phase, self.duration()).await;
        self.drain(phase, posts).await;
        start.window(phase, self.members, posts, &sample)
    }

    /// Open loop: posts leave on schedule whether or not earlier ones were answered.
    async fn paced<P: Poster>(&self, posters: &[Arc<P>], phase: usize, duration: Duration) -> u64 {
        let total = (self.args.rate * duration.as_secs_f64()).round() as u64;
        let every = Duration::from_secs_f64(1.0 / self.args.rate.max(0.001));
        let start = tokio::time::Instant::now();
        let mut sends = Vec::with_capacity(total as usize);
        for seq in 0..total {
            tokio::time::sleep_until(start + every.mul_f64(seq as f64)).await;
            let which = (seq % posters.len() as u64) as usize;
            let stamp = Stamp {
                phase,
                poster: which as u32,
                seq,
                sent_ns: now_ns(),
            };
            let (poster, text) = (posters[which].clone(), stamp.text(self.args.size));
            sends.push(tokio::spawn(async move { poster.post(text).await }));
        }
        let mut posted = 0;
        for s in sends {
            match s.await {
                Ok(Ok(())) => posted += 1,
                Ok(Err(e)) => tracing::warn!(error = %e, "a post failed"),
                Err(e) => tracing::warn!(error = %e, "a post task failed"),
            }
        }
        posted
    }

    /// Closed loop: each poster posts, waits for its own message to come back, repeats.
    async fn closed_loop<P: Poster>(
        &self,
        posters: &[Arc<P>],
        echo_rx: Vec<mpsc::UnboundedReceiver<u64>>,
        duration: Duration,
    ) -> Result<u64, BenchError> {
        let deadline = tokio::time::Instant::now() + duration;
        let size = self.args.size;
        let mut tasks = Vec::new();
        for (which, (poster, mut echoes)) in posters.iter().cloned().zip(echo_rx).enumerate() {
            tasks.push(tokio::spawn(async move {
                let mut seq = 0u64;
                while tokio::time::Instant::now() < deadline {
                    let stamp = Stamp {
                        phase: 1,
                        poster: which as u32,
                        seq,
                        sent_ns: now_ns(),
                    };
                    poster.post(stamp.text(size)).await?;
                    seq += 1;
                    let back = tokio::time::timeout(ECHO_WAIT, async {
                        while let Some(s) = echoes.recv().await {
                            if s == stamp.seq {
                                return true;
                            }
                        }
                        false
                    });
                    if !matches!(back.await, Ok(true)) {
                        return Err(BenchError::Failed(format!(
                            "poster {which} did not get its message back within {ECHO_WAIT:?}"
                        )));
                    }
                }
                Ok::<u64, BenchError>(seq)
            }));
        }
        let mut posts = 0;
        for t in tasks {
            posts += t
                .await
                .map_err(|e| BenchError::Failed(format!("a poster failed: {e}")))??;
        }
        Ok(posts)
    }

    /// Waits until every delivery of `phase` arrived, or for at most [`DRAIN`].
    async fn drain(&self, phase: usize, posts: u64) {
        let expected = posts * self.members;
        let deadline = Instant::now() + DRAIN;
        while self.shared.delivered(phase) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
