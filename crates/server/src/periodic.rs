//! The loop the server's periodic tasks share: a run at once, then one every period, until
//! shutdown. A run that takes longer than the period delays the next one rather than
//! bunching those it missed.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

pub(crate) struct Periodic {
    tick: Interval,
    shutdown: watch::Receiver<bool>,
}

impl Periodic {
    pub(crate) fn new(period: Duration, shutdown: watch::Receiver<bool>) -> Periodic {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Periodic { tick, shutdown }
    }

    /// Waits for the next run; false once the server shuts down.
    pub(crate) async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.tick.tick() => true,
            _ = self.shutdown.changed() => false,
        }
    }
}
