//! `parlance bench smoke`: a fan-out small and short enough for every run of the test
//! command (a few hundred members, seconds of posting, the relay after it), reporting what
//! a change to the delivery path would move: the server's CPU per delivery, deliveries
//! per server CPU-second, and both against the relay measured in the same run. A report,
//! never a pass or fail on time: the machine it runs on is shared and noisy.

use crate::Env;
use crate::error::BenchError;
use crate::fanout::{self, FanoutArgs};
use crate::report::Section;

#[derive(Debug, Clone, clap::Args)]
pub struct SmokeArgs {
    /// Members of the room.
    #[arg(long, default_value_t = 200)]
    pub members: usize,
    /// Seconds of each phase (paced, then closed loop), for the server and the relay.
    #[arg(long, default_value_t = 3)]
    pub duration: u64,
    /// Posts per second in the paced phase: 2,000 deliveries/s, well within what even a
    /// debug build of the server delivers on a busy machine, so that the run measures the
    /// cost of a delivery rather than an overload.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Closed-loop posters.
    #[arg(long, default_value_t = 4)]
    pub posters: usize,
}

pub async fn run(env: &Env, args: &SmokeArgs) -> Result<Section, BenchError> {
    let fan = FanoutArgs {
        members: args.members,
        rate: args.rate,
        duration: args.duration,
        posters: args.posters.max(1),
        size: 100,
        no_baseline: false,
    };
    // The targets are about sizes the smoke run does not reach: none is checked.
    fanout::run(env, &fan, "smoke", false).await
}
